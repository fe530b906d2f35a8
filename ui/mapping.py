"""Column mappings as the pages edit them: table rows <-> mapping rows, their problems, drift.

A mapping row is a dict with the `ColumnMapping` field names (`source_column`,
`destination_field`, `field_type`, `length`, `precision`, `scale`, `required`,
`is_primary_key`); the editors show a table with one row per mapped column.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from sfmc.fieldrules import DEFAULT_PRECISION
from sync.destinations import GENERATED_KEY_COLUMN

MAPPING_COLUMNS = ["Source column", "Destination field", "Type", "Length", "Required"]
GENERATED_KEY_FIELD = "Pathways ID"
# A Decimal mapped in the editor gets SFMC's default precision and two decimal places (money).
DECIMAL_SCALE = 2
UUID_LENGTH = len(str(uuid.UUID(int=0)))


def mapping_frame(fieldmaps: Sequence[Any]) -> pd.DataFrame:
    """The editor's table of mapping rows (FieldMap or ColumnMapping objects)."""
    return pd.DataFrame(
        [
            {
                "Source column": f.source_column,
                "Destination field": f.destination_field,
                "Type": f.field_type,
                "Length": f.length,
                "Required": bool(f.required),
            }
            for f in fieldmaps
        ],
        columns=MAPPING_COLUMNS,
    )


def _cell(rec: Mapping[str, Any], name: str) -> Any:
    """A cell of the edited table; None when empty (pandas gives NaN for an empty cell)."""
    value = rec.get(name)
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else value


def frame_to_mapping(frame: pd.DataFrame, primary_keys: Sequence[str]) -> list[dict[str, Any]]:
    """The edited table as mapping rows, primary keys marked (and required); blank rows dropped."""
    rows = []
    for i, rec in enumerate(frame.to_dict("records")):
        source = str(_cell(rec, "Source column") or "").strip()
        dest = str(_cell(rec, "Destination field") or "").strip()
        if not source or not dest:
            continue
        length = _cell(rec, "Length")
        field_type = _cell(rec, "Type") or "Text"
        is_pk = source in primary_keys
        decimal = field_type == "Decimal"
        rows.append(
            {
                "ordinal": i,
                "source_column": source,
                "destination_field": dest,
                "field_type": field_type,
                "length": int(length) if length else None,
                "precision": DEFAULT_PRECISION if decimal else None,
                "scale": DECIMAL_SCALE if decimal else None,
                "required": bool(_cell(rec, "Required")) or is_pk,
                "is_primary_key": is_pk,
            }
        )
    return rows


def generated_key_row(ordinal: int) -> dict[str, Any]:
    """The mapping row of the generated UUID key (append-only event tables)."""
    return {
        "ordinal": ordinal,
        "source_column": GENERATED_KEY_COLUMN,
        "destination_field": GENERATED_KEY_FIELD,
        "field_type": "Text",
        "length": UUID_LENGTH,
        "precision": None,
        "scale": None,
        "required": True,
        "is_primary_key": True,
    }


def mapping_problems(rows: Sequence[Mapping[str, Any]], primary_keys: Sequence[str]) -> list[str]:
    """What stops a Data Extension mapping from being saved, each saying what to fix."""
    problems = []
    if not rows:
        problems.append("Map at least one column.")
    if not primary_keys:
        problems.append("Choose at least one primary key column (Email is usual).")
    mapped = {r["source_column"] for r in rows}
    problems += [
        f"Primary key column '{k}' must also be mapped." for k in primary_keys if k not in mapped
    ]
    names = [r["destination_field"].casefold() for r in rows]
    dupes = sorted({n for n in names if names.count(n) > 1})
    problems += [f"Two columns map to the field '{d}': rename one." for d in dupes]
    return problems


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def drift_rows(
    col_names: Sequence[str], mapping: Sequence[Any], live: Mapping[str, Any], *, checked: bool
) -> list[dict[str, str]]:
    """Schema drift between the audience's columns, the mapping and the live DE fields.

    Args:
        col_names: the audience's columns.
        mapping: the pathway's mapping rows (objects with source/destination/type).
        live: the live DE's fields by casefolded name (empty when not checked or no DE).
        checked: whether `live` was read from Marketing Cloud.
    """
    mapped = {m.destination_field.casefold() for m in mapping}
    sources = {m.source_column for m in mapping}
    drift = [
        {
            "Column / field": n,
            "In audience": "yes",
            "In mapping": "no",
            "In Data Extension": "—",
            "What to do": "Not pushed: add a mapping row to send it.",
        }
        for n in col_names
        if n not in sources
    ]
    for m in mapping:
        f = live.get(m.destination_field.casefold())
        note = ""
        if m.source_column not in col_names:
            note = "The audience lost this column: remove the row or re-upload the data."
        elif checked and f is None:
            note = "New field: created on the next sync."
        elif f is not None and f.field_type != m.field_type:
            note = f"Type differs: SFMC has {f.field_type}, the mapping says {m.field_type}."
        drift.append(
            {
                "Column / field": f"{m.source_column} → {m.destination_field}",
                "In audience": _yes(m.source_column in col_names),
                "In mapping": "yes",
                "In Data Extension": _yes(f is not None) if checked else "not checked",
                "What to do": note,
            }
        )
    drift += [
        {
            "Column / field": f.name,
            "In audience": "—",
            "In mapping": "no",
            "In Data Extension": "yes",
            "What to do": "Only in SFMC: Pathways leaves it alone.",
        }
        for key, f in live.items()
        if key not in mapped
    ]
    return drift
