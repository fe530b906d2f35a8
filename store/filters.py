"""Audience filters, compiled to parameterised SQLAlchemy Core expressions.

Filters are `[{"column": safe name, "op": operator, "value": ...}]`, combined with AND. Column
names are looked up in the data set's own column list (never pasted into SQL), and every value
is a bound parameter. Text comparisons ignore case. Number and date comparisons use the typed
companion columns written at import, so "10" > "9" and "03/04/2021" < "2021-05-01" hold.

No database access here: the functions build expressions for `store.audience_rows` to run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, func, not_, or_, true

from store.datasets import dataset_table, shadow_name
from store.inference import FALSE_WORDS, TRUE_WORDS, parse_date, parse_number
from store.models import DataSet

OPS = (
    "equals",
    "not_equals",
    "contains",
    "not_contains",
    "starts_with",
    "in",
    "not_in",
    "between",
    "greater_than",
    "less_than",
    "is_empty",
    "is_not_empty",
    "before",
    "after",
)
OP_LABELS = {op: op.replace("_", " ") for op in OPS}
_TEXT_OPS = (
    "equals",
    "not_equals",
    "contains",
    "not_contains",
    "starts_with",
    "in",
    "not_in",
    "is_empty",
    "is_not_empty",
)
_NUMBER_OPS = (
    "equals",
    "not_equals",
    "greater_than",
    "less_than",
    "between",
    "in",
    "not_in",
    "is_empty",
    "is_not_empty",
)
_OPS_BY_TYPE = {
    "integer": _NUMBER_OPS,
    "decimal": _NUMBER_OPS,
    "date": ("before", "after", "between", "equals", "not_equals", "is_empty", "is_not_empty"),
    "boolean": ("equals", "not_equals", "is_empty", "is_not_empty"),
}
_NO_VALUE = frozenset({"is_empty", "is_not_empty"})
_ORDERED = frozenset({"between", "greater_than", "less_than", "before", "after"})


class AudienceFilterError(ValueError):
    """A filter cannot be applied; the message says which one and what to change."""


def ops_for(column: Mapping[str, Any]) -> tuple[str, ...]:
    """The operators that make sense for a column of this type: what the page offers.

    Numbers and dates compare by value (greater/less, before/after, between); text (also
    e-mail and phone) by words (contains, starts with); a yes/no column only by equality.
    """
    return _OPS_BY_TYPE.get(str(column.get("type")), _TEXT_OPS)


def _columns_by_name(ds: DataSet) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in ds.columns}


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, Sequence):
        return [str(v).strip() for v in value if str(v).strip()]
    return [str(value)]


def normalize_filters(ds: DataSet, filters: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Check filters against the data set and return them in their stored form.

    Column names may be given as the safe name or as the original header.

    Raises:
        AudienceFilterError: unknown column or operator, or a value the operator cannot use.
    """
    by_name = _columns_by_name(ds)
    by_original = {str(c.get("original", "")).lower(): c for c in ds.columns}
    table = dataset_table(ds)
    result: list[dict[str, Any]] = []
    for number, raw in enumerate(filters, start=1):
        column_name = str(raw.get("column", ""))
        column = by_name.get(column_name) or by_original.get(column_name.lower())
        if column is None:
            known = ", ".join(sorted(by_name)) or "(none)"
            msg = f"Filter {number}: {ds.name!r} has no column {column_name!r}. Columns: {known}."
            raise AudienceFilterError(msg)
        op = str(raw.get("op", ""))
        if op not in OPS:
            msg = f"Filter {number}: unknown operator {op!r}; use one of {', '.join(OPS)}."
            raise AudienceFilterError(msg)
        value = raw.get("value")
        if op in _NO_VALUE:
            value = None
        elif op in ("in", "not_in"):
            value = _as_list(value)
            if not value:
                msg = f"Filter {number}: {OP_LABELS[op]!r} needs at least one value."
                raise AudienceFilterError(msg)
        elif op == "between":
            value = _as_list(value)
            if len(value) != 2:
                msg = f"Filter {number}: 'between' needs two values, a low and a high one."
                raise AudienceFilterError(msg)
        elif value is None or str(value).strip() == "":
            msg = f"Filter {number}: {OP_LABELS[op]!r} on {column['name']!r} needs a value."
            raise AudienceFilterError(msg)
        else:
            value = str(value).strip() if not isinstance(value, bool) else value
        entry = {"column": column["name"], "op": op, "value": value}
        _clause(table, column, entry, number)  # validate values now, not at push time
        result.append(entry)
    return result


def _ordered_value(column: dict[str, Any], value: Any, number: int) -> Any:
    kind = column.get("type")
    if kind == "date":
        parsed: Any = parse_date(str(value), dayfirst=bool(column.get("dayfirst")))
        if parsed is None:
            msg = f"Filter {number}: {value!r} is not a date; write it like 2023-01-31."
            raise AudienceFilterError(msg)
        return parsed
    parsed = parse_number(str(value))
    if parsed is None:
        msg = f"Filter {number}: {value!r} is not a number (use digits and a dot, e.g. 12.5)."
        raise AudienceFilterError(msg)
    return parsed


def _clause(
    table: Table, column: dict[str, Any], f: Mapping[str, Any], number: int
) -> ColumnElement[bool]:
    text_col = table.c[column["name"]]
    op, value = f["op"], f["value"]
    if op == "is_empty":
        return or_(text_col.is_(None), func.trim(text_col) == "")
    if op == "is_not_empty":
        return and_(text_col.is_not(None), func.trim(text_col) != "")
    if op in _ORDERED:
        kind = column.get("type")
        if op in ("before", "after") and kind != "date":
            msg = (
                f"Filter {number}: {op!r} needs a date column; {column['name']!r} holds "
                f"{kind} values. Use 'less than'/'greater than' for numbers."
            )
            raise AudienceFilterError(msg)
        if kind not in ("integer", "decimal", "date"):
            msg = (
                f"Filter {number}: {OP_LABELS[op]!r} needs a number or date column; "
                f"{column['name']!r} holds {kind} values. Use equals/contains instead."
            )
            raise AudienceFilterError(msg)
        typed = table.c[shadow_name(column)]  # type: ignore[index]
        if op == "between":
            low, high = (_ordered_value(column, v, number) for v in value)
            return typed.between(min(low, high), max(low, high))
        bound = _ordered_value(column, value, number)
        return typed < bound if op in ("less_than", "before") else typed > bound
    lowered = func.lower(text_col)
    if column.get("type") == "boolean" and op in ("equals", "not_equals"):
        word = str(value).strip().lower()
        if word in TRUE_WORDS or word in FALSE_WORDS:
            words = sorted(TRUE_WORDS if word in TRUE_WORDS else FALSE_WORDS)
            clause = func.lower(func.trim(text_col)).in_(words)
            return clause if op == "equals" else or_(text_col.is_(None), not_(clause))
    if op == "equals":
        return lowered == str(value).lower()
    if op == "not_equals":
        return or_(text_col.is_(None), lowered != str(value).lower())
    if op == "contains":
        return lowered.contains(str(value).lower(), autoescape=True)
    if op == "not_contains":
        return or_(text_col.is_(None), not_(lowered.contains(str(value).lower(), autoescape=True)))
    if op == "starts_with":
        return lowered.startswith(str(value).lower(), autoescape=True)
    if op == "in":
        return lowered.in_([v.lower() for v in value])
    if op == "not_in":
        return or_(text_col.is_(None), lowered.not_in([v.lower() for v in value]))
    msg = f"Filter {number}: unknown operator {op!r}."  # unreachable after normalize
    raise AudienceFilterError(msg)


def compile_filters(
    ds: DataSet, filters: Sequence[Mapping[str, Any]], table: Table | None = None
) -> ColumnElement[bool]:
    """One WHERE expression (AND of all filters; TRUE when there are none).

    Args:
        ds: the data set the filters apply to.
        filters: `[{"column", "op", "value"}]`.
        table: the `dataset_table(ds)` the statement selects from (made when not given).

    Raises:
        AudienceFilterError: see `normalize_filters`.
    """
    clean = normalize_filters(ds, filters)
    by_name = _columns_by_name(ds)
    table = dataset_table(ds) if table is None else table
    clauses = [_clause(table, by_name[f["column"]], f, n) for n, f in enumerate(clean, start=1)]
    return and_(true(), *clauses) if clauses else true()
