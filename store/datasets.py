"""Import of CSV and XLSX files into data sets: one table of the store per data set.

The file is streamed: rows go to the database in batches while running statistics infer each
column's type, so memory stays bounded by the batch size whatever the file's size. Rows that
cannot be imported (wrong number of values, undecodable bytes, NUL bytes) are refused and listed
with their line numbers; nothing is dropped silently.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from sqlalchemy import BigInteger, Column, Float, MetaData, String, Table, Text, delete, select
from sqlalchemy.engine import Connection as SAConnection
from sqlalchemy.engine import Engine
from sqlmodel import Session

from store.csv_source import (
    MAX_CELL_BYTES,
    MAX_PROBLEMS,
    SAMPLE_BYTES,
    Collector,
    Source,
    csv_source,
    open_source,
    stream_size,
    xlsx_source,
)
from store.dataset_errors import DataSetError
from store.inference import (
    ColumnStats,
    parse_date,
    parse_number,
    safe_column_names,
)
from store.models import DataSet

__all__ = [
    "BATCH_ROWS",
    "COMMIT_EVERY_ROWS",
    "MAX_CELL_BYTES",
    "MAX_PROBLEMS",
    "ROW_COLUMN",
    "SAMPLE_BYTES",
    "DataSetError",
    "ImportProgress",
    "ImportReport",
    "dataset_table",
    "import_file",
    "shadow_name",
]

BATCH_ROWS = 5_000
COMMIT_EVERY_ROWS = 50_000  # let other writers (progress of running syncs) in between
ROW_COLUMN = "_row"


@dataclass(frozen=True)
class ImportProgress:
    """Where an import is: rows so far and bytes read of the file (for a progress bar)."""

    rows_imported: int
    rows_refused: int
    bytes_read: int
    bytes_total: int | None


@dataclass
class ImportReport:
    """What an import did: counts, detected format, columns with types, problems by line."""

    dataset_id: int
    name: str
    table_name: str
    source_filename: str
    file_kind: str
    encoding: str | None
    delimiter: str | None
    has_header: bool
    rows_imported: int
    rows_refused: int
    blank_lines: int
    columns: list[dict[str, Any]]
    problems: list[dict[str, Any]]
    problem_counts: dict[str, int]
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        """One sentence for the page: imported vs refused rows."""
        text = f"Imported {self.rows_imported:,} rows into {self.name!r}"
        if self.rows_refused:
            text += f"; refused {self.rows_refused:,} rows (see the problems with line numbers)"
        return text + "."


def shadow_name(column: dict[str, Any]) -> str | None:
    """The typed companion column that filters compare on (numbers and dates), if any."""
    if column.get("type") in ("integer", "decimal"):
        return f"{column['name']}__n"
    if column.get("type") == "date":
        return f"{column['name']}__d"
    return None


def dataset_table(ds: DataSet, *, with_shadows: bool = True) -> Table:
    """The SQLAlchemy table holding the rows of `ds` (text columns plus `_row`)."""
    cols: list[Column[Any]] = [Column(ROW_COLUMN, BigInteger, primary_key=True)]
    cols += [Column(c["name"], Text) for c in ds.columns]
    if with_shadows:
        for c in ds.columns:
            shadow = shadow_name(c)
            if shadow:
                kind = Float if shadow.endswith("__n") else String(10)
                cols.append(Column(shadow, kind, index=False))
    return Table(ds.table_name, MetaData(), *cols)


# --- import ----------------------------------------------------------------------------------


def _is_blank(values: list[Any]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


def import_file(
    engine: Engine,
    source: str | os.PathLike[str] | bytes | IO[bytes],
    *,
    name: str,
    filename: str,
    on_progress: Callable[[ImportProgress], None] | None = None,
) -> ImportReport:
    """Import a CSV or XLSX file as a new data set.

    Args:
        engine: the store's engine (SQLite or PostgreSQL).
        source: a path, the file's bytes, or a binary file object (e.g. a Streamlit upload).
        name: the data set's name (unique).
        filename: the uploaded file's name; `.xlsx`/`.xlsm` are read as workbooks.
        on_progress: called after every batch of rows.

    Returns:
        What was imported and refused, with detected format and column types.

    Raises:
        DataSetError: the file is empty, has no data rows, is not a CSV/XLSX file, or the
            name is taken; the message says what to fix.
    """
    started = time.monotonic()
    name = name.strip()
    if not name:
        msg = "Give the data set a name."
        raise DataSetError(msg)
    with Session(engine) as session:
        if session.exec(select(DataSet).where(DataSet.name == name)).first():  # type: ignore[call-overload]
            msg = f"A data set called {name!r} exists already; choose another name."
            raise DataSetError(msg)
    fh, must_close = open_source(source)
    collector = Collector()
    try:
        bytes_total = stream_size(fh)
        head = fh.read(8)
        fh.seek(0)
        is_xlsx = filename.lower().endswith((".xlsx", ".xlsm")) or head.startswith(b"PK\x03\x04")
        src = xlsx_source(fh, filename) if is_xlsx else csv_source(fh, filename, collector)
        try:
            return _import_records(
                engine, src, fh, collector, name, filename, bytes_total, on_progress, started
            )
        finally:
            src.close()
    finally:
        if must_close:
            fh.close()


def _import_records(
    engine: Engine,
    src: Source,
    fh: IO[bytes],
    collector: Collector,
    name: str,
    filename: str,
    bytes_total: int | None,
    on_progress: Callable[[ImportProgress], None] | None,
    started: float,
) -> ImportReport:
    blank = 0
    header: list[Any] | None = None
    header_line = 0
    for start, _end, values in src.records:
        if _is_blank(values):
            blank += 1
            continue
        header, header_line = values, start
        break
    if header is None:
        msg = f"{filename!r} has no rows. Upload a file with a header row and data rows."
        raise DataSetError(msg)
    while header and (header[-1] is None or not str(header[-1]).strip()):
        header.pop()  # trailing empty header cells (Excel's phantom columns)
    first_data: list[Any] | None = None
    if not src.has_header:
        first_data, header = header, [f"Column {i}" for i in range(1, len(header) + 1)]
    originals = [str(h).strip() if h is not None else "" for h in header]
    names, name_notes = safe_column_names(originals)
    stats = [ColumnStats() for _ in names]

    table_name = f"ds_{uuid.uuid4().hex[:16]}"
    ds = DataSet(
        name=name,
        source_filename=filename,
        table_name=table_name,
        columns=[
            {"name": n, "original": o, "type": "text"}
            for n, o in zip(names, originals, strict=True)
        ],
    )
    with Session(engine) as session:
        session.add(ds)
        session.commit()
        session.refresh(ds)
    table = dataset_table(ds, with_shadows=False)
    try:
        imported, made = _stream_rows(
            engine, src, fh, collector, ds, stats, first_data, header_line, bytes_total,
            on_progress,
        )  # fmt: skip
        if imported == 0:
            msg = (
                f"{filename!r} has a header row but no data rows"
                + (
                    f" ({collector.refused} rows were refused; first: "
                    f"{collector.problems[0]['problem']})"
                    if collector.refused and collector.problems
                    else ""
                )
                + ". Upload a file with at least one row of data."
            )
            raise DataSetError(msg)
        columns = [s.describe(n, o) for s, n, o in zip(stats, names, originals, strict=True)]
        ds.columns = columns
        _fill_shadows(engine, ds, made)
        ds.row_count = imported
        notes = src.notes + name_notes + [c["note"] for c in columns if "note" in c]
        formulas = sum(c.get("formulas", 0) for c in columns)
        if formulas:
            notes.append(
                f"{formulas:,} cells start with = + - or @ like spreadsheet formulas; they are "
                "kept as text and escaped in downloads."
            )
        if collector.refused > len(collector.problems):
            notes.append(
                f"Only the first {len(collector.problems):,} of {collector.refused:,} refused "
                "rows are listed."
            )
        ds.problems = collector.problems
        with Session(engine) as session:
            stored = session.get(DataSet, ds.id)
            assert stored is not None  # noqa: S101
            stored.columns, stored.row_count, stored.problems = columns, imported, ds.problems
            session.add(stored)
            session.commit()
    except BaseException:
        _discard(engine, ds, table)
        raise
    assert ds.id is not None  # noqa: S101
    return ImportReport(
        dataset_id=ds.id,
        name=name,
        table_name=table_name,
        source_filename=filename,
        file_kind=src.kind,
        encoding=src.encoding,
        delimiter=src.delimiter,
        has_header=src.has_header,
        rows_imported=imported,
        rows_refused=collector.refused,
        blank_lines=blank + collector.blank_rows,
        columns=columns,
        problems=collector.problems,
        problem_counts=dict(collector.counts),
        notes=notes,
        seconds=round(time.monotonic() - started, 3),
    )


def _insert_sql(conn: SAConnection, table: Table) -> str:
    """INSERT with driver placeholders; identifiers are our own safe names, quoted."""
    quote = conn.dialect.identifier_preparer.quote
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    cols = ", ".join(quote(c.name) for c in table.columns)
    marks = ", ".join(marker for _ in table.columns)
    return f"INSERT INTO {quote(table.name)} ({cols}) VALUES ({marks})"  # noqa: S608


def _shadow_specs(stats: list[ColumnStats], names: list[str]) -> dict[str, tuple[int, str, bool]]:
    """Shadow column name -> (column index, "n" or "d", day-first) for the types seen so far."""
    specs: dict[str, tuple[int, str, bool]] = {}
    for i, (stat, name) in enumerate(zip(stats, names, strict=True)):
        info = stat.describe(name, name)
        shadow = shadow_name(info)
        if shadow:
            specs[shadow] = (i, shadow[-1], bool(info.get("dayfirst")))
    return specs


def _shadow_value(value: str | None, cls: str | None, kind: str, dayfirst: bool) -> Any:
    if value is None:
        return None
    if kind == "n":
        if cls is None:
            return parse_number(value)
        return float(value) if cls in ("integer", "decimal") else None
    if cls is not None and not cls.startswith("date_"):
        return None
    return parse_date(value, dayfirst=dayfirst)


def _stream_rows(
    engine: Engine,
    src: Source,
    fh: IO[bytes],
    collector: Collector,
    ds: DataSet,
    stats: list[ColumnStats],
    first_data: list[Any] | None,
    header_line: int,
    bytes_total: int | None,
    on_progress: Callable[[ImportProgress], None] | None,
) -> tuple[int, dict[str, tuple[int, str, bool]]]:
    """Insert the rows; return how many and the typed companions the table was created with.

    The table is created after the first batch, with companion columns for the types that
    batch suggests, so most files need no second pass over their rows.
    """
    width = len(stats)
    names = [c["name"] for c in ds.columns]
    imported = blank = 0
    since_commit = 0
    batch: list[list[Any]] = []
    specs: dict[str, tuple[int, str, bool]] | None = None
    shadow_plan: list[tuple[int, str, bool]] = []
    sql = ""
    records: Iterator[tuple[int, int, list[Any]]] = src.records
    if first_data is not None:
        records = _chain_first((header_line, header_line, first_data), records)
    conn = engine.connect()

    def flush() -> None:
        nonlocal specs, shadow_plan, sql
        if specs is None:
            specs = _shadow_specs(stats, names)
            shadow_plan = list(specs.values())
            table = dataset_table(ds, with_shadows=False)
            for shadow, (_i, kind, _d) in specs.items():
                table.append_column(Column(shadow, Float if kind == "n" else String(10)))
            table.create(conn)
            sql = _insert_sql(conn, table)
            for row in batch:  # rows read before the types were known
                row.extend(
                    _shadow_value(row[i + 1], None, kind, dayfirst)
                    for i, kind, dayfirst in shadow_plan
                )
        if batch:
            conn.exec_driver_sql(sql, [tuple(r) for r in batch])

    try:
        trans = conn.begin()
        for start, _end, values in records:
            n = len(values)
            if (not values or values[0] is None or values[0] == "") and _is_blank(values):
                blank += 1
                continue
            if n != width:
                if n > width and _is_blank(values[width:]):
                    values = values[:width]
                elif n < width and src.pad_short_rows:
                    values = list(values) + [None] * (width - n)
                else:
                    collector.refuse(
                        start,
                        "column_count",
                        f"Line {start}: expected {width} values (one per column), found {n}. "
                        "Check for an unquoted separator or a missing value.",
                    )
                    continue
            imported += 1
            row: list[Any] = [imported]
            classes: list[str | None] = []
            for i, value in enumerate(values):
                if value is None or value == "":
                    stats[i].empty += 1
                    row.append(None)
                    classes.append(None)
                else:
                    classes.append(stats[i].add(value))
                    row.append(value)
            if specs is not None:
                row.extend(
                    _shadow_value(row[i + 1], classes[i], kind, dayfirst)
                    for i, kind, dayfirst in shadow_plan
                )
            batch.append(row)
            if len(batch) >= BATCH_ROWS:
                flush()
                since_commit += len(batch)
                batch = []
                if since_commit >= COMMIT_EVERY_ROWS:
                    trans.commit()
                    trans = conn.begin()
                    since_commit = 0
                if on_progress:
                    on_progress(_progress(imported, collector, fh, bytes_total))
        if batch or specs is None:
            flush()
        trans.commit()
    finally:
        conn.close()
    if on_progress:
        on_progress(_progress(imported, collector, fh, bytes_total))
    collector.blank_rows = blank
    return imported, specs or {}


def _chain_first(
    first: tuple[int, int, list[Any]], rest: Iterator[tuple[int, int, list[Any]]]
) -> Iterator[tuple[int, int, list[Any]]]:
    yield first
    yield from rest


def _progress(
    imported: int, collector: Collector, fh: IO[bytes], total: int | None
) -> ImportProgress:
    try:
        position = fh.tell()
    except (OSError, ValueError):
        position = 0
    return ImportProgress(imported, collector.refused, position, total)


def _fill_shadows(
    engine: Engine, ds: DataSet, made: dict[str, tuple[int, str, bool]], chunk: int = 20_000
) -> None:
    """Second pass, only for typed companions the first batch did not predict correctly.

    Number and date columns get companions so that filters compare values, not text.
    """
    todo: list[tuple[dict[str, Any], str, bool]] = []  # (column, shadow name, must add it)
    for c in ds.columns:
        shadow = shadow_name(c)
        if not shadow:
            continue
        wanted = (shadow[-1], bool(c.get("dayfirst")))
        if shadow not in made:
            todo.append((c, shadow, True))
        elif made[shadow][1:] != wanted:
            todo.append((c, shadow, False))
    if not todo:
        return
    table = dataset_table(ds)
    quote = engine.dialect.identifier_preparer.quote
    with engine.begin() as conn:
        for _c, shadow, must_add in todo:
            if must_add:
                kind = table.c[shadow].type.compile(dialect=engine.dialect)
                conn.exec_driver_sql(
                    f"ALTER TABLE {quote(table.name)} ADD COLUMN {quote(shadow)} {kind}"
                )
    marker = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    assignments = ", ".join(f"{quote(shadow)} = {marker}" for _c, shadow, _m in todo)
    update_sql = (
        f"UPDATE {quote(table.name)} SET {assignments} WHERE {quote(ROW_COLUMN)} = {marker}"  # noqa: S608
    )
    plan = [(shadow[-1], bool(c.get("dayfirst"))) for c, shadow, _m in todo]
    source_cols = [table.c[ROW_COLUMN]] + [table.c[c["name"]] for c, _s, _m in todo]
    last = 0
    while True:
        with engine.begin() as conn:
            rows = conn.execute(
                select(*source_cols)
                .where(table.c[ROW_COLUMN] > last)
                .order_by(table.c[ROW_COLUMN])
                .limit(chunk)
            ).all()
            if not rows:
                return
            params = [
                (
                    *(
                        _shadow_value(v, None, kind, dayfirst)
                        for (kind, dayfirst), v in zip(plan, row[1:], strict=True)
                    ),
                    row[0],
                )
                for row in rows
            ]
            conn.exec_driver_sql(update_sql, params)
            last = rows[-1][0]


def _discard(engine: Engine, ds: DataSet, table: Table) -> None:
    """Undo a failed import: drop its table and forget the data set."""
    table.drop(engine, checkfirst=True)
    with Session(engine) as session:
        session.execute(delete(DataSet).where(DataSet.id == ds.id))  # type: ignore[arg-type]
        session.commit()
