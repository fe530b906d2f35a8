"""Rejected-row reports: the rows a run did not deliver, as a CSV file for Excel.

Convention: Core with an engine (see `store/__init__.py`): a report can hold every row of a large
audience, read as plain mappings rather than ORM objects.
"""

from __future__ import annotations

import csv
import io

from sqlalchemy import select
from sqlalchemy.engine import Engine

from store.inference import FORMULA_START
from store.models import RejectedRow

_REJ = RejectedRow.__table__  # type: ignore[attr-defined]


def spreadsheet_cell(value: object) -> str:
    """`value` as CSV cell text a spreadsheet will not run as a formula (CSV injection).

    The one rule for every download of uploaded or SFMC values: this report, and the tables
    the pages show (their toolbar downloads what is shown).
    """
    if value is None:
        return ""
    text_value = value if isinstance(value, str) else str(value)
    # Spreadsheets run cells starting with these as formulas (CSV injection): neutralise them.
    if text_value.startswith(FORMULA_START):
        return "'" + text_value
    return text_value


def raw_cell(value: object) -> str:
    """`value` as CSV cell text exactly as it was (the raw download, for tools, not spreadsheets)."""
    return "" if value is None else value if isinstance(value, str) else str(value)


def rejected_rows_csv(engine: Engine, run_id: int, *, safe: bool = True) -> bytes:
    """The rejected rows of a run as CSV (UTF-8 with BOM, for Excel).

    Columns: the original row values, then `validationErrorType`, `validationErrorDetails`,
    `field` and `retryable`. With `safe` (the default), cells that a spreadsheet would run as a
    formula are escaped with a leading apostrophe (`'+15280502514`); without it every value is
    written exactly as it was, for scripts and re-imports.
    """
    cell = spreadsheet_cell if safe else raw_cell
    with engine.connect() as conn:
        rows = (
            conn.execute(select(_REJ).where(_REJ.c.run_id == run_id).order_by(_REJ.c.id))
            .mappings()
            .all()
        )
    columns: dict[str, None] = {}
    for row in rows:
        for name in row["row_values"] or {}:
            columns.setdefault(name, None)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    tail = ["validationErrorType", "validationErrorDetails", "field", "retryable"]
    writer.writerow([cell(c) for c in [*columns, *tail]])
    for row in rows:
        values = row["row_values"] or {}
        writer.writerow(
            [cell(values.get(c)) for c in columns]
            + [
                cell(row["error_type"]),
                cell(row["error_details"]),
                cell(row["field"]),
                "true" if row["retryable"] else "false",
            ]
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")
