"""Reading an audience's rows: counts, previews, and the chunked stream a sync pushes.

An audience is its data set's table narrowed by its filters (`store.filters`). Rows are read by
keyset (`_row > last`), never OFFSET, so every chunk costs the same however deep the read is.

Convention: Core with an engine (see `store/__init__.py`): `iter_rows` is the sync's hot path
and reads each chunk on a short connection of its own, so a long push holds no connection.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, Protocol

from sqlalchemy import Column, ColumnElement, Index, Integer, Select, Table, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.schema import CreateIndex
from sqlmodel import Session

from store.dataset_versions import last_version
from store.datasets import ROW_COLUMN, dataset_table, shadow_name
from store.filters import AudienceFilterError, compile_filters, normalize_filters
from store.inference import parse_datetime
from store.models import Audience, DataSet
from store.revisions import REV_COLUMN

if TYPE_CHECKING:
    import pandas as pd

COUNTS_KEPT = 256  # remembered counts (`count_matching`), least recently used dropped first
_COUNTS: OrderedDict[tuple[Any, ...], int] = OrderedDict()
_COUNTS_LOCK = threading.Lock()
# Data sets from this size get an index per filtered column (`index_filter_column`): a scan of
# a million rows takes 0.2-0.5 s, an indexed count a few milliseconds.
INDEXED_FROM_ROWS = 100_000
_INDEXING: set[str] = set()  # indexes built or being built by this process
_log = logging.getLogger(__name__)


class RowFilter(Protocol):
    """Narrows a read of audience rows and adds columns to each row (`store.ledger.UnsyncedRows`).

    `apply` gets the statement selecting `_row`, the asked columns and `_rev`, and returns it
    narrowed, with the columns named by `keys` appended in that order.
    """

    keys: ClassVar[tuple[str, ...]]

    def apply(
        self,
        stmt: Select[Any],
        table: Table,
        row_col: ColumnElement[Any],
        rev_col: ColumnElement[Any],
    ) -> Select[Any]:
        """`stmt` narrowed, with the `keys` columns added."""
        ...


def _load(engine: Engine, audience_id: int) -> tuple[Audience, DataSet]:
    with Session(engine) as session:
        audience = session.get(Audience, audience_id)
        if audience is None:
            msg = f"Audience {audience_id} does not exist (it may have been deleted)."
            raise AudienceFilterError(msg)
        ds = session.get(DataSet, audience.dataset_id)
        assert ds is not None  # foreign key
        session.expunge(audience)
        session.expunge(ds)
        return audience, ds


def count_matching(
    engine: Engine,
    ds: DataSet,
    filters: Sequence[Mapping[str, Any]],
    *,
    remembered: bool = False,
) -> int:
    """Rows of `ds` the filters keep (for a live count while filters are edited).

    A count is a full scan of the data set's table for most filters (about 0.3 s per million
    rows), and the Audiences page reruns on every widget change and counts each audience of the
    data set again. With `remembered`, a count is kept per (data set table, row count, version
    number, filters) and reused until one of them changes: every refresh records a new version
    in the transaction that writes its rows (`store.dataset_versions`). The sync counts without
    it, so its total never depends on a version being recorded.
    """
    if not filters:
        return ds.row_count
    table = dataset_table(ds)
    stmt = select(func.count()).select_from(table).where(compile_filters(ds, filters, table))
    with engine.connect() as conn:
        if not remembered:
            return int(conn.execute(stmt).scalar_one())
        clean = json.dumps(normalize_filters(ds, filters), sort_keys=True, default=str)
        key = (str(engine.url), ds.table_name, ds.row_count, last_version(conn, ds.id), clean)
        count = _COUNTS.get(key)
        if count is None:
            count = int(conn.execute(stmt).scalar_one())
    with _COUNTS_LOCK:  # Streamlit serves each session on a thread of its own
        _COUNTS[key] = count
        _COUNTS.move_to_end(key)
        while len(_COUNTS) > COUNTS_KEPT:
            _COUNTS.popitem(last=False)
    return count


def index_filter_column(engine: Engine, ds: DataSet, column: str) -> threading.Thread | None:
    """Index what filters on `column` compare, in a thread; the thread, or None if nothing to do.

    Called when a column is picked for a new filter, so the index is ready by the time the
    value is typed: numbers and dates compare their typed companion, text `lower(column)`
    (equals and in find their rows through it; a count then reads the index, not the table).
    Building takes 1-2 s per million rows; until it is done, counts scan as before. Yes/no
    columns (few distinct values) and data sets under `INDEXED_FROM_ROWS` rows get none.
    """
    meta = next((c for c in ds.columns if c["name"] == column), None)
    if meta is None or meta.get("type") == "boolean" or ds.row_count < INDEXED_FROM_ROWS:
        return None
    digest = hashlib.sha1(f"{ds.table_name}.{column}".encode()).hexdigest()[:12]
    name = f"ix_filter_{digest}"  # short: PostgreSQL cuts names at 63 characters
    with _COUNTS_LOCK:
        if name in _INDEXING:
            return None
        _INDEXING.add(name)
    table = dataset_table(ds)
    shadow = shadow_name(meta)
    index = Index(name, table.c[shadow] if shadow else func.lower(table.c[column]))

    def build() -> None:
        try:
            with engine.begin() as conn:
                conn.execute(CreateIndex(index, if_not_exists=True))
        except Exception:  # no caller to tell: counts keep scanning; the log says why
            _log.warning("Could not index %s for filters", column, exc_info=True)

    thread = threading.Thread(target=build, name=f"pathways-index-{name}", daemon=True)
    thread.start()
    return thread


def count_rows(engine: Engine, audience_id: int, *, remembered: bool = False) -> int:
    """How many rows the audience holds (`remembered`: see `count_matching`).

    Raises:
        AudienceFilterError: the audience is gone or its filters no longer fit the data set.
    """
    audience, ds = _load(engine, audience_id)
    return count_matching(engine, ds, audience.filters, remembered=remembered)


def preview_matching(
    engine: Engine, ds: DataSet, filters: Sequence[Mapping[str, Any]], limit: int = 50
) -> pd.DataFrame:
    """The first `limit` rows the filters keep, as a DataFrame indexed by `_row`."""
    import pandas as pd  # here: keeps pandas out of the worker and of imports of the store

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


class _RowsQuery(NamedTuple):
    stmt: Select[Any]  # every matching row; pages are cut from it by `_row`
    row_col: ColumnElement[Any]
    keys: list[str]  # the dict keys of each row, in the statement's column order
    dates: list[tuple[int, bool]]  # (index in keys, day-first) of date columns


def _rows_query(
    audience: Audience,
    ds: DataSet,
    columns: Sequence[str] | None,
    with_revision: bool,
    row_filter: RowFilter | None,
) -> _RowsQuery:
    table = dataset_table(ds)
    names = [c["name"] for c in ds.columns]
    if columns is not None:
        unknown = [c for c in columns if c not in names]
        if unknown:
            msg = f"{ds.name!r} has no column(s) {', '.join(unknown)}."
            raise AudienceFilterError(msg)
        names = [c for c in columns if c != ROW_COLUMN]
    row_col = table.c[ROW_COLUMN]
    stmt = select(row_col, *(table.c[n] for n in names)).where(
        compile_filters(ds, audience.filters, table)
    )
    keys = [ROW_COLUMN, *names]
    by_name = {c["name"]: c for c in ds.columns}
    dates = [
        (i, bool(by_name[n].get("dayfirst")))
        for i, n in enumerate(keys)
        if i and by_name[n].get("type") == "date"
    ]
    if with_revision or row_filter is not None:
        rev_col = _rev_column(table)
        stmt = stmt.add_columns(rev_col)
        keys.append(REV_COLUMN)
        if row_filter is not None:
            stmt = row_filter.apply(stmt, table, row_col, rev_col)
            keys.extend(row_filter.keys)
    return _RowsQuery(stmt, row_col, keys, dates)


def iter_rows(
    engine: Engine,
    audience_id: int,
    *,
    chunk_size: int = 5000,
    after_row: int = 0,
    columns: Sequence[str] | None = None,
    with_revision: bool = False,
    row_filter: RowFilter | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """Stream the audience in chunks of dicts, in increasing `_row` order.

    Each dict holds the safe column names (empty cells are None) plus `_row`, the resume
    checkpoint: pass the last `_row` seen as `after_row` to continue after it. Cells of date
    columns come as the import read them, in ISO 8601 (`12 Mar 2021` -> `2021-03-12`, day- or
    month-first as detected for the column; time of day kept), so a push sends the dates the
    filters compared; a cell the import could not read as a date keeps its text (and is refused
    as InvalidDate unless SFMC itself reads it). Pages are read by keyset (`_row > last`), not
    OFFSET, so every chunk costs the same and rows are never skipped or repeated. Each chunk
    uses its own short connection.

    Args:
        engine: the store's engine.
        audience_id: which audience.
        chunk_size: rows per chunk.
        after_row: resume after this `_row` (0 = from the start).
        columns: only these safe column names (default all).
        with_revision: add each row's `_rev` (see `store.revisions`; the table must have it).
        row_filter: narrows the rows further and adds its `keys` to each row, e.g.
            `store.ledger.UnsyncedRows(pathway_id)`: only rows the pathway has not synced at
            their current revision. Implies `with_revision`.

    Raises:
        AudienceFilterError: unknown audience or column, or filters that no longer apply.
    """
    if chunk_size < 1:
        msg = "chunk_size must be at least 1."
        raise ValueError(msg)
    audience, ds = _load(engine, audience_id)
    base, row_col, keys, dates = _rows_query(audience, ds, columns, with_revision, row_filter)
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
