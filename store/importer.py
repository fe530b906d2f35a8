"""Import of CSV and XLSX files into data sets: one table of the store per data set.

The file is streamed: rows go to the database in batches while running statistics infer each
column's type, so memory stays bounded by the batch size whatever the file's size. Rows that
cannot be imported (wrong number of values, undecodable bytes, NUL bytes) are refused and listed
with their line numbers; nothing is dropped silently. Reading the file is `store.csv_source`'s
and `store.xlsx_source`'s job; the table layout is `store.datasets`'.

An upload is untrusted: the import keeps to a budget (`store.import_limits`: time, rows, cells,
columns) checked on every record read, blank ones included, and stops reading after a long run
of blank rows (the report says where). The data set's row is written only once its table is
complete, in one commit: a failed import drops its table and leaves nothing behind, and a table
left by a crash has no data set row and is dropped at the next start
(`store.datasets.remove_unfinished`).

Convention: Core with an engine (see `store/__init__.py`): rows are written with the driver's
executemany in long transactions, committed every `COMMIT_EVERY_ROWS`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from store.column_names import safe_column_names
from store.csv_columns import ColumnReader, NotPlain
from store.csv_source import Collector, Source, csv_source, open_source, stream_size
from store.datasets import dataset_table, new_table_name
from store.errors import DataSetError
from store.import_limits import MAX_COLUMNS, ImportBudget, ImportLimits
from store.import_notes import import_notes
from store.inference import ColumnStats
from store.models import DataSet
from store.table_writer import ShadowSpecs, TableWriter
from store.typed_columns import fill_shadows
from store.xlsx_source import xlsx_source

BATCH_ROWS = 10_000
COMMIT_EVERY_ROWS = 50_000  # let other writers (progress of running syncs) in between

Record = tuple[int, int, list[Any]]  # (first line, last line, values)
Chunk = tuple[int, list[list[Any]], int]  # (records read, columns of the rows kept, blank rows)


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
    limits: ImportLimits
    budget: ImportBudget
    stopped_after: int | None = None  # the line where a run of blank rows ended the reading

    def progress(self, imported: int) -> None:
        """Report where the import is (the caller may raise to cancel it) and check the clock."""
        self.budget.check_clock()
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
        on_progress: called every `BATCH_ROWS` rows read (blank and refused ones too) and at
            the end; an exception it raises (a closed browser tab) ends the import cleanly.

    Returns:
        What was imported and refused, with detected format and column types.

    Raises:
        DataSetError: the file is empty, has no data rows, is not a CSV/XLSX file, is over
            a limit of `store.import_limits`, or the name is taken; the message says what to
            fix. Nothing is left in the store then.
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
    limits = ImportLimits.from_env()
    fh, must_close = open_source(source)
    collector = Collector()
    try:
        bytes_total = stream_size(fh)
        head = fh.read(8)
        fh.seek(0)
        is_xlsx = filename.lower().endswith((".xlsx", ".xlsm")) or head.startswith(b"PK\x03\x04")
        if is_xlsx:
            src = xlsx_source(fh, filename, limits)
        else:
            src = csv_source(fh, filename, collector)
        try:
            budget = ImportBudget(limits, filename)
            job = _Import(
                engine, src, fh, collector, filename, bytes_total, on_progress, limits, budget
            )
            report = _import_records(job, name)
        finally:
            src.close()
    finally:
        if must_close:
            fh.close()
    report.seconds = round(time.monotonic() - started, 3)
    return report


def _bounded(job: _Import) -> Iterator[Record]:
    """The file's records, each counted against the budget; ends after a run of blank rows."""
    run = 0
    for record in job.src.records:
        values = record[2]
        job.budget.check(len(values))
        if (not values or not values[0] or values[0].isspace()) and _is_blank(values):
            run += 1
            if run >= job.limits.blank_run:
                job.stopped_after = record[0]
                return
        else:
            run = 0
        yield record


def _read_header(records: Iterator[Record], src: Source, filename: str) -> _Header:
    """The first non-blank record as column names (or `Column 1`... for a headerless file)."""
    blank = 0
    header: list[Any] | None = None
    header_line = 0
    for start, _end, values in records:
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
    if len(header) > MAX_COLUMNS:
        msg = (
            f"{filename!r} has {len(header):,} columns; a data set can have at most "
            f"{MAX_COLUMNS:,}. Remove the columns you do not need (or check the separator) and "
            "upload it again."
        )
        raise DataSetError(msg)
    first_data: list[Any] | None = None
    if not src.has_header:
        first_data, header = header, [f"Column {i}" for i in range(1, len(header) + 1)]
    originals = [str(h).strip() if h is not None else "" for h in header]
    names, notes = safe_column_names(originals)
    return _Header(names, originals, notes, header_line, blank, first_data)


def _import_records(job: _Import, name: str) -> ImportReport:
    """Read a plain CSV file column-wise; any other file (or one it hands back) by records."""
    if job.src.plain_fields and job.src.delimiter:
        try:
            reader = ColumnReader(job.fh, job.src.delimiter, job.src.plain_fields)
            try:
                return _import_chunks(job, name, reader)
            finally:
                reader.close()
        except NotPlain:
            job.budget.restart()  # the line reader reads the file again from its start
    return _import_chunks(job, name, None)


def _column_header(job: _Import, reader: ColumnReader) -> tuple[_Header, Iterator[Chunk]]:
    first = reader.first_row()
    if _is_blank(first) or reader.fields > MAX_COLUMNS or not job.budget.take(1, reader.fields):
        raise NotPlain  # the line reader says what is wrong with the first record
    header = _read_header(iter([(1, 1, first)]), job.src, job.filename)
    skip = int(header.first_data is None)
    return header, reader.chunks(BATCH_ROWS, skip, len(header.names), job.budget, job.limits)


def _import_chunks(job: _Import, name: str, reader: ColumnReader | None) -> ImportReport:
    if reader is None:
        records = _bounded(job)
        header = _read_header(records, job.src, job.filename)
        chunks = _row_chunks(job, records, header)
    else:
        header, chunks = _column_header(job, reader)
    job.src.bound_width(len(header.names))
    stats = [ColumnStats() for _ in header.names]
    ds = DataSet(
        name=name,
        source_filename=job.filename,
        table_name=new_table_name(),
        columns=[
            {"name": n, "original": o, "type": "text"}
            for n, o in zip(header.names, header.originals, strict=True)
        ],
    )
    table = dataset_table(ds, with_shadows=False)
    try:
        imported, made = _stream(job, chunks, ds, stats)
        if imported == 0:
            _refuse_empty(job)
        ds.columns = [
            s.describe(n, o) for s, n, o in zip(stats, header.names, header.originals, strict=True)
        ]
        fill_shadows(job.engine, ds, made)
        ds.row_count = imported
        ds.problems = job.collector.problems
        _commit_dataset(job.engine, ds)
    except BaseException:
        table.drop(job.engine, checkfirst=True)  # the data set's row was never written
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
        notes=import_notes(
            job.src.notes + header.notes,
            ds.columns,
            job.collector,
            job.stopped_after,
            job.limits.blank_run,
        ),
    )


def _commit_dataset(engine: Engine, ds: DataSet) -> None:
    """Write the data set's row, which makes its complete table visible, in one commit.

    Raises:
        DataSetError: another import took the name meanwhile.
    """
    with Session(engine) as session:
        session.add(ds)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            msg = f"A data set called {ds.name!r} exists already; choose another name."
            raise DataSetError(msg) from None
        session.refresh(ds)


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


def _fit_width(values: list[Any], width: int, start: int, job: _Import) -> list[Any] | None:
    """A record with one value per column, or None when it is refused (its line is listed)."""
    n = len(values)
    if n == width:
        return values
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


def _row_chunks(job: _Import, records: Iterator[Record], header: _Header) -> Iterator[Chunk]:
    """The line reader's records, `BATCH_ROWS` at a time, as the columns of the rows kept."""
    width = len(header.names)
    if header.first_data is not None:
        records = _chain_first((header.line, header.line, header.first_data), records)
    rows: list[list[Any]] = []
    blank = seen = 0
    for start, _end, values in records:
        if len(values) == width and values[0]:
            rows.append(values)  # the common case, checked first
        elif (not values or values[0] is None or values[0] == "") and _is_blank(values):
            blank += 1
        elif (fitted := _fit_width(values, width, start, job)) is not None:
            rows.append(fitted)
        seen += 1
        if seen % BATCH_ROWS == 0:
            yield BATCH_ROWS, _transpose(rows, width), blank
            rows, blank = [], 0
    yield seen % BATCH_ROWS, _transpose(rows, width), blank


def _transpose(rows: list[list[Any]], width: int) -> list[list[Any]]:
    return [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


def _stream(
    job: _Import, chunks: Iterator[Chunk], ds: DataSet, stats: list[ColumnStats]
) -> tuple[int, ShadowSpecs]:
    """Insert the rows; return how many and the typed companions the table was created with.

    Progress is reported every `BATCH_ROWS` records read, whatever they hold, so that a file
    of blank or refused rows can be cancelled and is checked against the clock like any other.
    """
    imported = blank = since_commit = 0
    pending: list[list[Any]] = [[] for _ in stats]
    conn = job.engine.connect()
    writer = TableWriter(conn, ds, stats)
    try:
        trans = conn.begin()
        for records, columns, blanks in chunks:
            blank += blanks
            for column, values in zip(pending, columns, strict=True):
                column.extend(values)
            if records == BATCH_ROWS:
                if len(pending[0]) >= BATCH_ROWS // 2:
                    imported += len(pending[0])
                    writer.write(pending)
                    since_commit += len(pending[0])
                    pending = [[] for _ in stats]
                    if since_commit >= COMMIT_EVERY_ROWS:
                        trans.commit()
                        trans = conn.begin()
                        since_commit = 0
                job.progress(imported + len(pending[0]))
        imported += len(pending[0])
        writer.write(pending)
        trans.commit()
    finally:
        conn.close()
    job.progress(imported)
    job.collector.blank_rows = blank
    return imported, writer.specs or {}


def _chain_first(first: Record, rest: Iterator[Record]) -> Iterator[Record]:
    yield first
    yield from rest
