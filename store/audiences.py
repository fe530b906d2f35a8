"""Audiences: filters over a data set, compiled to parameterised SQLAlchemy Core expressions.

Filters are `[{"column": safe name, "op": operator, "value": ...}]`, combined with AND. Column
names are looked up in the data set's own column list (never pasted into SQL), and every value
is a bound parameter. Text comparisons ignore case. Number and date comparisons use the typed
companion columns written at import, so "10" > "9" and "03/04/2021" < "2021-05-01" hold.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, ColumnElement, Integer, Table, and_, func, not_, or_, select, true
from sqlalchemy.engine import Engine
from sqlmodel import Session

from store.datasets import ROW_COLUMN, dataset_table, shadow_name
from store.inference import FALSE_WORDS, TRUE_WORDS, parse_date, parse_datetime, parse_number
from store.models import Audience, DataSet, PreflightRefusal, RowLedger
from store.revisions import REV_COLUMN

if TYPE_CHECKING:
    import pandas as pd

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
_NO_VALUE = frozenset({"is_empty", "is_not_empty"})
_ORDERED = frozenset({"between", "greater_than", "less_than", "before", "after"})


class AudienceFilterError(ValueError):
    """A filter cannot be applied; the message says which one and what to change."""


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


def _load(engine: Engine, audience_id: int) -> tuple[Audience, DataSet]:
    with Session(engine) as session:
        audience = session.get(Audience, audience_id)
        if audience is None:
            msg = f"Audience {audience_id} does not exist (it may have been deleted)."
            raise AudienceFilterError(msg)
        ds = session.get(DataSet, audience.dataset_id)
        assert ds is not None  # noqa: S101  (foreign key)
        session.expunge(audience)
        session.expunge(ds)
        return audience, ds


def count_matching(engine: Engine, ds: DataSet, filters: Sequence[Mapping[str, Any]]) -> int:
    """Rows of `ds` the filters keep (for a live count while filters are edited)."""
    if not filters:
        return ds.row_count
    table = dataset_table(ds)
    stmt = select(func.count()).select_from(table).where(compile_filters(ds, filters, table))
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def count_rows(engine: Engine, audience_id: int) -> int:
    """How many rows the audience holds.

    Raises:
        AudienceFilterError: the audience is gone or its filters no longer fit the data set.
    """
    audience, ds = _load(engine, audience_id)
    return count_matching(engine, ds, audience.filters)


def preview_matching(
    engine: Engine, ds: DataSet, filters: Sequence[Mapping[str, Any]], limit: int = 50
) -> pd.DataFrame:
    """The first `limit` rows the filters keep, as a DataFrame indexed by `_row`."""
    import pandas as pd  # noqa: PLC0415  (keeps pandas out of imports and the worker)

    table = dataset_table(ds)
    names = [c["name"] for c in ds.columns]
    stmt = (
        select(table.c[ROW_COLUMN], *(table.c[n] for n in names))
        .where(compile_filters(ds, filters, table))
        .order_by(table.c[ROW_COLUMN])
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=[ROW_COLUMN, *names], dtype=object)
    return frame.set_index(ROW_COLUMN)


def preview(engine: Engine, audience_id: int, limit: int = 50) -> pd.DataFrame:
    """The audience's first `limit` rows (safe column names; empty cells are None)."""
    audience, ds = _load(engine, audience_id)
    return preview_matching(engine, ds, audience.filters, limit)


def _with_iso_dates(
    keys: Sequence[str], row: Sequence[Any], dates: Sequence[tuple[int, bool]]
) -> dict[str, Any]:
    values = list(row)
    for i, dayfirst in dates:
        text = values[i]
        if text:
            values[i] = parse_datetime(text, dayfirst=dayfirst) or text
    return dict(zip(keys, values, strict=True))


def iter_rows(
    engine: Engine,
    audience_id: int,
    *,
    chunk_size: int = 5000,
    after_row: int = 0,
    columns: Sequence[str] | None = None,
    with_revision: bool = False,
    unsynced_for: int | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """Stream the audience in chunks of dicts, in increasing `_row` order.

    Each dict holds the safe column names (empty cells are None) plus `_row`, the resume
    checkpoint: pass the last `_row` seen as `after_row` to continue after it. Cells of date
    columns come as the import read them, in ISO 8601 (`12 Mar 2021` -> `2021-03-12`, day- or
    month-first as detected for the column; time of day kept), so a push sends the dates the
    filters compared; a cell the import could not read as a date keeps its text (and is refused
    as InvalidDate unless SFMC itself reads it). Pages are read by
    keyset (`_row > last`), not OFFSET, so every chunk costs the same and rows are never
    skipped or repeated. Each chunk uses its own short connection.

    Args:
        engine: the store's engine.
        audience_id: which audience.
        chunk_size: rows per chunk.
        after_row: resume after this `_row` (0 = from the start).
        columns: only these safe column names (default all).
        with_revision: add each row's `_rev` (see `store.revisions`; the table must have it).
        unsynced_for: a pathway id: only rows without a ledger entry of that pathway for their
            current `(_row, _rev)`, i.e. new, changed, or not accepted by SFMC last time (one
            indexed NOT EXISTS; unchanged rows are never read). Implies `with_revision`. Each
            row also carries `_refused`/`_refused_type`: the pathway's stored preflight refusal
            of this revision of the row (`store.models.PreflightRefusal`), or None.

    Raises:
        AudienceFilterError: unknown audience or column, or filters that no longer apply.
    """
    if chunk_size < 1:
        msg = "chunk_size must be at least 1."
        raise ValueError(msg)
    audience, ds = _load(engine, audience_id)
    table = dataset_table(ds)
    names = [c["name"] for c in ds.columns]
    if columns is not None:
        unknown = [c for c in columns if c not in names]
        if unknown:
            msg = f"{ds.name!r} has no column(s) {', '.join(unknown)}."
            raise AudienceFilterError(msg)
        names = [c for c in columns if c != ROW_COLUMN]
    where = compile_filters(ds, audience.filters, table)
    row_col = table.c[ROW_COLUMN]
    base = select(row_col, *(table.c[n] for n in names)).where(where)
    keys = [ROW_COLUMN, *names]
    if with_revision or unsynced_for is not None:
        rev_col = _rev_column(table)
        base = base.add_columns(rev_col)
        if unsynced_for is not None:
            ledger = RowLedger.__table__  # type: ignore[attr-defined]
            synced = (
                select(ledger.c.id)
                .where(
                    ledger.c.pathway_id == unsynced_for,
                    ledger.c.source_row == row_col,
                    ledger.c.source_rev == rev_col,
                )
                .exists()
            )
            base = base.where(~synced)
            # Rows preflight refused at this very revision come marked (`_refused`: the stored
            # refusal's id, `_refused_type`: its error type) so the engine need not check them.
            refusal = PreflightRefusal.__table__  # type: ignore[attr-defined]
            base = base.add_columns(refusal.c.id, refusal.c.error_type).select_from(
                table.outerjoin(
                    refusal,
                    and_(
                        refusal.c.pathway_id == unsynced_for,
                        refusal.c.source_row == row_col,
                        refusal.c.source_rev == rev_col,
                    ),
                )
            )
    by_name = _columns_by_name(ds)
    dates = [
        (i, bool(by_name[n].get("dayfirst")))
        for i, n in enumerate(keys)
        if i and by_name[n].get("type") == "date"
    ]
    if with_revision or unsynced_for is not None:
        keys.append(REV_COLUMN)
    if unsynced_for is not None:
        keys.extend(("_refused", "_refused_type"))
    last = after_row
    while True:
        stmt = base.where(row_col > last).order_by(row_col).limit(chunk_size)
        with engine.connect() as conn:
            rows = conn.execute(stmt).all()
        if not rows:
            return
        if dates:
            yield [_with_iso_dates(keys, r, dates) for r in rows]
        else:
            yield [dict(zip(keys, r, strict=True)) for r in rows]
        last = rows[-1][0]
        if len(rows) < chunk_size:
            return


def _rev_column(table: Table) -> Column[Any]:
    if REV_COLUMN not in table.c:
        table.append_column(Column(REV_COLUMN, Integer))
    return table.c[REV_COLUMN]


def count_span(
    engine: Engine, audience_id: int, *, after_row: int = 0, upto_row: int | None = None
) -> tuple[int, int]:
    """Audience rows with `after_row < _row <= upto_row` (None: no upper bound).

    Returns:
        (how many, the largest such `_row`, or `after_row` when there are none). An
        incremental sync counts the unchanged rows it did not read with this.
    """
    audience, ds = _load(engine, audience_id)
    table = dataset_table(ds)
    row_col = table.c[ROW_COLUMN]
    stmt = select(func.count(), func.max(row_col)).where(
        compile_filters(ds, audience.filters, table), row_col > after_row
    )
    if upto_row is not None:
        stmt = stmt.where(row_col <= upto_row)
    with engine.connect() as conn:
        count, last = conn.execute(stmt).one()
    return int(count), int(last) if last is not None else after_row


__all__ = [
    "OPS",
    "AudienceFilterError",
    "compile_filters",
    "count_matching",
    "count_rows",
    "count_span",
    "iter_rows",
    "normalize_filters",
    "preview",
    "preview_matching",
]
