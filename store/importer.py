"""Import of CSV and XLSX files into data sets: one table of the store per data set.

The file is streamed: rows go to the database in batches while running statistics infer each
column's type, so memory stays bounded by the batch size whatever the file's size. Rows that
cannot be imported (wrong number of values, undecodable bytes, NUL bytes) are refused and listed
with their line numbers; nothing is dropped silently. Reading the file is `store.csv_source`'s
job; the table layout is `store.datasets`'.

Convention: Core with an engine (see `store/__init__.py`): rows are written with the driver's
executemany in long transactions, committed every `COMMIT_EVERY_ROWS`.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from sqlalchemy import Column, Float, String, Table, delete, select
from sqlalchemy.engine import Connection as SAConnection
from sqlalchemy.engine import Engine
from sqlmodel import Session

from store.csv_source import Collector, Source, csv_source, open_source, stream_size, xlsx_source
from store.datasets import dataset_table
from store.errors import DataSetError
from store.inference import ColumnStats, safe_column_names
from store.models import DataSet
from store.typed_columns import fill_shadows, shadow_specs, shadow_value

BATCH_ROWS = 5_000
COMMIT_EVERY_ROWS = 50_000  # let other writers (progress of running syncs) in between

Record = tuple[int, int, list[Any]]  # (first line, last line, values)
ShadowSpecs = dict[str, tuple[int, str, bool]]


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


@dataclass
class _Import:
    """One import's I/O: the store, the file and its reader, where refusals go, progress."""

    engine: Engine
    src: Source
    fh: IO[bytes]
    collector: Collector
    filename: str
    bytes_total: int | None
    on_progress: Callable[[ImportProgress], None] | None

    def progress(self, imported: int) -> None:
        if self.on_progress is None:
            return
        try:
            position = self.fh.tell()
        except (OSError, ValueError):
            position = 0
        self.on_progress(
            ImportProgress(imported, self.collector.refused, position, self.bytes_total)
        )


@dataclass
class _Header:
    """The column names of a file, and where its data starts."""

    names: list[str]
    originals: list[str]
    notes: list[str]
    line: int
    blank_lines: int
    first_data: list[Any] | None  # a headerless file's first row, read while looking for one


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
            job = _Import(engine, src, fh, collector, filename, bytes_total, on_progress)
            report = _import_records(job, name)
        finally:
            src.close()
    finally:
        if must_close:
            fh.close()
    report.seconds = round(time.monotonic() - started, 3)
    return report


def _read_header(src: Source, filename: str) -> _Header:
    """The first non-blank record as column names (or `Column 1`... for a headerless file)."""
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
    names, notes = safe_column_names(originals)
    return _Header(names, originals, notes, header_line, blank, first_data)


def _import_records(job: _Import, name: str) -> ImportReport:
    header = _read_header(job.src, job.filename)
    stats = [ColumnStats() for _ in header.names]
    ds = DataSet(
        name=name,
        source_filename=job.filename,
        table_name=f"ds_{uuid.uuid4().hex[:16]}",
        columns=[
            {"name": n, "original": o, "type": "text"}
            for n, o in zip(header.names, header.originals, strict=True)
        ],
    )
    with Session(job.engine) as session:
        session.add(ds)
        session.commit()
        session.refresh(ds)
    table = dataset_table(ds, with_shadows=False)
    try:
        imported, made = _stream_rows(job, ds, stats, header)
        if imported == 0:
            _refuse_empty(job)
        ds.columns = [
            s.describe(n, o) for s, n, o in zip(stats, header.names, header.originals, strict=True)
        ]
        fill_shadows(job.engine, ds, made)
        ds.row_count = imported
        ds.problems = job.collector.problems
        with Session(job.engine) as session:
            stored = session.get(DataSet, ds.id)
            assert stored is not None
            stored.columns, stored.row_count, stored.problems = ds.columns, imported, ds.problems
            session.add(stored)
            session.commit()
    except BaseException:
        _discard(job.engine, ds, table)
        raise
    assert ds.id is not None
    return ImportReport(
        dataset_id=ds.id,
        name=name,
        table_name=ds.table_name,
        source_filename=job.filename,
        file_kind=job.src.kind,
        encoding=job.src.encoding,
        delimiter=job.src.delimiter,
        has_header=job.src.has_header,
        rows_imported=imported,
        rows_refused=job.collector.refused,
        blank_lines=header.blank_lines + job.collector.blank_rows,
        columns=ds.columns,
        problems=job.collector.problems,
        problem_counts=dict(job.collector.counts),
        notes=_notes(job, header, ds.columns),
    )


def _refuse_empty(job: _Import) -> None:
    collector = job.collector
    msg = (
        f"{job.filename!r} has a header row but no data rows"
        + (
            f" ({collector.refused} rows were refused; first: {collector.problems[0]['problem']})"
            if collector.refused and collector.problems
            else ""
        )
        + ". Upload a file with at least one row of data."
    )
    raise DataSetError(msg)


def _notes(job: _Import, header: _Header, columns: list[dict[str, Any]]) -> list[str]:
    """What the page should tell about the import besides the counts."""
    notes = job.src.notes + header.notes + [c["note"] for c in columns if "note" in c]
    formulas = sum(c.get("formulas", 0) for c in columns)
    if formulas:
        notes.append(
            f"{formulas:,} cells start with = + - or @ like spreadsheet formulas; they are "
            "kept as text and escaped in downloads."
        )
    collector = job.collector
    if collector.refused > len(collector.problems):
        notes.append(
            f"Only the first {len(collector.problems):,} of {collector.refused:,} refused "
            "rows are listed."
        )
    return notes


def _insert_sql(conn: SAConnection, table: Table) -> str:
    """INSERT with driver placeholders; identifiers are our own safe names, quoted."""
    quote = conn.dialect.identifier_preparer.quote
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    cols = ", ".join(quote(c.name) for c in table.columns)
    marks = ", ".join(marker for _ in table.columns)
    return f"INSERT INTO {quote(table.name)} ({cols}) VALUES ({marks})"


class _TableWriter:
    """Writes a new data set's rows, creating its table with the first batch.

    The table is created once the first batch has been read, with typed companion columns for
    the types that batch suggests, so most files need no second pass over their rows.
    """

    def __init__(self, conn: SAConnection, ds: DataSet, stats: list[ColumnStats]) -> None:
        self.conn, self.ds, self.stats = conn, ds, stats
        self.specs: ShadowSpecs | None = None
        self.plan: list[tuple[int, str, bool]] = []  # (column index, "n"/"d", day-first)
        self._sql = ""

    def write(self, batch: list[list[Any]]) -> None:
        if self.specs is None:
            self._create_table(batch)
        if batch:
            self.conn.exec_driver_sql(self._sql, [tuple(r) for r in batch])

    def _create_table(self, batch: list[list[Any]]) -> None:
        self.specs = shadow_specs(self.stats, [c["name"] for c in self.ds.columns])
        self.plan = list(self.specs.values())
        table = dataset_table(self.ds, with_shadows=False)
        for shadow, (_i, kind, _d) in self.specs.items():
            table.append_column(Column(shadow, Float if kind == "n" else String(10)))
        table.create(self.conn)
        self._sql = _insert_sql(self.conn, table)
        for row in batch:  # rows read before the types were known
            row.extend(
                shadow_value(row[i + 1], None, kind, dayfirst) for i, kind, dayfirst in self.plan
            )


def _fit_width(values: list[Any], width: int, start: int, job: _Import) -> list[Any] | None:
    """A record with one value per column, or None when it is refused (its line is listed)."""
    n = len(values)
    if n > width and _is_blank(values[width:]):
        return values[:width]
    if n < width and job.src.pad_short_rows:
        return list(values) + [None] * (width - n)
    job.collector.refuse(
        start,
        "column_count",
        f"Line {start}: expected {width} values (one per column), found {n}. "
        "Check for an unquoted separator or a missing value.",
    )
    return None


def _stream_rows(
    job: _Import, ds: DataSet, stats: list[ColumnStats], header: _Header
) -> tuple[int, ShadowSpecs]:
    """Insert the rows; return how many and the typed companions the table was created with."""
    width = len(stats)
    imported = blank = since_commit = 0
    batch: list[list[Any]] = []
    records: Iterator[Record] = job.src.records
    if header.first_data is not None:
        records = _chain_first((header.line, header.line, header.first_data), records)
    conn = job.engine.connect()
    writer = _TableWriter(conn, ds, stats)
    try:
        trans = conn.begin()
        for start, _end, values in records:
            if (not values or values[0] is None or values[0] == "") and _is_blank(values):
                blank += 1
                continue
            if len(values) != width:
                fitted = _fit_width(values, width, start, job)
                if fitted is None:
                    continue
                values = fitted
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
            if writer.specs is not None:
                row.extend(
                    shadow_value(row[i + 1], classes[i], kind, dayfirst)
                    for i, kind, dayfirst in writer.plan
                )
            batch.append(row)
            if len(batch) >= BATCH_ROWS:
                writer.write(batch)
                since_commit += len(batch)
                batch = []
                if since_commit >= COMMIT_EVERY_ROWS:
                    trans.commit()
                    trans = conn.begin()
                    since_commit = 0
                job.progress(imported)
        if batch or writer.specs is None:
            writer.write(batch)
        trans.commit()
    finally:
        conn.close()
    job.progress(imported)
    job.collector.blank_rows = blank
    return imported, writer.specs or {}


def _chain_first(first: Record, rest: Iterator[Record]) -> Iterator[Record]:
    yield first
    yield from rest


def _discard(engine: Engine, ds: DataSet, table: Table) -> None:
    """Undo a failed import: drop its table and forget the data set."""
    table.drop(engine, checkfirst=True)
    with Session(engine) as session:
        session.execute(delete(DataSet).where(DataSet.id == ds.id))  # type: ignore[arg-type]
        session.commit()
