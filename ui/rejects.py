"""Rejected rows in words: what each SFMC validationErrorType means and what to fix.

Works on the rejected-rows CSV (`store.reports.rejected_rows_csv`) and on a dry run's plan.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from ui.text import md

REJECTED_FIX = (
    "Some rows failed. Download the rejected rows below, read the **validationErrorType** and "
    "**validationErrorDetails** columns, fix those values in your data (or the column's type and "
    "length on Column Mapping), then re-run the sync."
)
TYPE_WORDS = {
    "MaxLengthExceeded": "is longer than the field allows: raise its length on Column Mapping",
    "InvalidEmailAddress": "is not a valid email address: fix it in the data or map it as Text",
    "InvalidPhone": "is not a valid phone number: fix it or map the column as Text",
    "InvalidNumber": "is not a whole number: fix it or map the column as Decimal or Text",
    "InvalidDecimal": "does not fit the Decimal precision/scale: fix it or widen the type",
    "InvalidDate": "is not a date Marketing Cloud accepts: use YYYY-MM-DD or map it as Text",
    "InvalidBoolean": "is not true/false: fix it or map the column as Text",
    "NullValue": "is empty but the field is required: fill it or untick Required",
    "DuplicateKey": "has a primary key that appears twice in the audience: de-duplicate it",
    "PrimaryKeyViolation": "has an empty or duplicate primary key value",
    "NotFound": "had no matching row in the Data Extension (Update Only does not create rows)",
    "UnknownColumn": "was sent to a field the Data Extension does not have: sync the mapping",
}
UNKNOWN = "Unknown"


def rejected_help(error_types: Mapping[str, int], *, sample: int | None = None) -> list[str]:
    """One sentence per validationErrorType seen in a run, saying what to fix (Markdown).

    With `sample` (the number of rejects the counts come from), each count says it is out of
    that sample, so it is not read as a total. The types come from SFMC's replies: escaped.
    """
    out = " in the sample" if sample is not None else ""
    return [
        f"**{count:,}{out} × {md(etype)}**: the value "
        f"{TYPE_WORDS.get(etype, 'was refused by Marketing Cloud')}."
        for etype, count in sorted(error_types.items(), key=lambda kv: -kv[1])
    ]


# A dry run's sampled reject (`sync.types.plan_reject`) as its table shows it: plain headings.
PLAN_REJECT_COLUMNS = {
    "row": "Row",
    "key": "Key",
    "field": "Field",
    "error_type": "Problem",
    "error_details": "Details",
}


def plan_reject_rows(rejects: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The sampled rejects of a dry run with readable column headings."""
    return [{PLAN_REJECT_COLUMNS.get(k, k): v for k, v in r.items()} for r in rejects]


def sample_heading(sampled: int, total: int) -> str:
    """Says that the reasons come from a sample, and of how many rejected rows."""
    if sampled >= total:
        return f"**Why rows would be rejected** (all {total:,}):"
    return (
        f"**Why rows would be rejected**: in a sample of the first {sampled:,} of the "
        f"{total:,} rejected rows (the run's download lists every one):"
    )


def csv_rows_of_type(data: bytes, error_type: str) -> bytes:
    """Only the rows of a rejected-rows CSV whose validationErrorType is `error_type`."""
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig")))
    header = next(reader, [])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    col = header.index("validationErrorType") if "validationErrorType" in header else -1
    for row in reader:
        if col >= 0 and len(row) > col and row[col] == error_type:
            writer.writerow(row)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def error_type_counts(data: bytes) -> dict[str, int]:
    """ValidationErrorType -> number of rows, from a rejected-rows CSV."""
    reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
    return dict(Counter(row.get("validationErrorType") or UNKNOWN for row in reader))


def plan_type_counts(rejects: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """ValidationErrorType -> number of rows, from a dry run's first rejects."""
    return dict(Counter(r.get("error_type") or UNKNOWN for r in rejects))
