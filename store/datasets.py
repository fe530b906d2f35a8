"""Import of CSV and XLSX files into data sets: one table of the store per data set.

The file is streamed: rows go to the database in batches while running statistics infer each
column's type, so memory stays bounded by the batch size whatever the file's size. Rows that
cannot be imported (wrong number of values, undecodable bytes, NUL bytes) are refused and listed
with their line numbers; nothing is dropped silently.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import shutil
import tempfile
import time
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import BigInteger, Column, Float, MetaData, String, Table, Text, delete, select
from sqlalchemy.engine import Connection as SAConnection
from sqlalchemy.engine import Engine
from sqlmodel import Session

from store.inference import (
    ColumnStats,
    parse_date,
    parse_number,
    safe_column_names,
)
from store.models import DataSet

BATCH_ROWS = 5_000
COMMIT_EVERY_ROWS = 50_000  # let other writers (progress of running syncs) in between
MAX_PROBLEMS = 1_000
SAMPLE_BYTES = 64 * 1024
MAX_CELL_BYTES = 128 * 1024 * 1024
ROW_COLUMN = "_row"

# A 10 MB cell is legitimate (pasted notes); the default limit is 128 KB. Process-wide, but
# only ever raised, so other csv users are not hurt.
csv.field_size_limit(max(csv.field_size_limit(), MAX_CELL_BYTES))

_SURROGATES = re.compile("[\udc80-\udcff]")
_BINARY_MAGIC = {
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"GIF8": "a GIF image",
    b"\xff\xd8\xff": "a JPEG image",
    b"\x1f\x8b": "a gzip archive",
    b"\xd0\xcf\x11\xe0": "an old Excel (.xls) or Word file; save it as .xlsx or .csv",
}
_DELIMITERS = ",;\t|"


class DataSetError(ValueError):
    """The file cannot become a data set; the message says what to fix."""


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


# --- sources ---------------------------------------------------------------------------------


def _open_source(source: Any) -> tuple[IO[bytes], bool]:
    """A seekable binary stream for `source` and whether we must close it."""
    if isinstance(source, str | os.PathLike):
        return Path(source).open("rb"), True
    if isinstance(source, bytes | bytearray | memoryview):
        return io.BytesIO(bytes(source)), True
    stream: IO[bytes] = source
    if getattr(stream, "seekable", lambda: False)():
        return stream, False
    # Uploads from a pipe: spool to disk so we can read the file more than once.
    spooled = tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024)  # noqa: SIM115
    shutil.copyfileobj(stream, spooled)
    spooled.seek(0)
    return spooled, True  # type: ignore[return-value]


def _size(fh: IO[bytes]) -> int | None:
    try:
        here = fh.tell()
        end = fh.seek(0, os.SEEK_END)
        fh.seek(here)
        return end
    except (OSError, ValueError):
        return None


def _detect_encoding(fh: IO[bytes], head: bytes) -> str:
    """utf-8-sig / utf-16 by BOM, else utf-8 unless it is mostly not, then cp1252 or latin-1.

    A file that is UTF-8 except for a few stray bytes stays UTF-8 (the bad lines are refused
    and reported) rather than turning every accent elsewhere into mojibake.
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
    bad = good = 0
    cp1252_ok = True
    fh.seek(0)
    while chunk := fh.read(1024 * 1024):
        if chunk.isascii():
            continue
        text = decoder.decode(chunk)
        surrogates = len(_SURROGATES.findall(text))
        bad += surrogates
        good += len(text) - len(text.encode("ascii", "ignore")) - surrogates
        if cp1252_ok:
            try:
                chunk.decode("cp1252")
            except UnicodeDecodeError:
                cp1252_ok = False
    fh.seek(0)
    if bad == 0 or good >= bad:
        return "utf-8"
    return "cp1252" if cp1252_ok else "latin-1"


def _check_not_binary(head: bytes, filename: str) -> None:
    for magic, what in _BINARY_MAGIC.items():
        if head.startswith(magic):
            msg = f"{filename!r} is {what}, not a CSV or XLSX file. Upload a .csv or .xlsx file."
            raise DataSetError(msg)
    sample = head[:8192]
    if sample and sample.count(0) > len(sample) // 10:
        if sample[1::2].count(0) > len(sample) // 3 or sample[0::2].count(0) > len(sample) // 3:
            msg = f"{filename!r} looks like UTF-16 text without a BOM; save it as UTF-8 CSV."
        else:
            msg = f"{filename!r} is a binary file, not a CSV. Upload a .csv or .xlsx file."
        raise DataSetError(msg)


@dataclass
class _Collector:
    """Refused rows and counts, shared by the readers and the import loop."""

    problems: list[dict[str, Any]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    refused: int = 0
    blank_rows: int = 0

    def refuse(self, line: int, kind: str, problem: str) -> None:
        self.refused += 1
        self.counts[kind] += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append({"line": line, "kind": kind, "problem": problem})


def _choose_delimiter(sample: str, complete: bool) -> str:
    try:
        sniffed: str | None = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        sniffed = None
    scores: dict[str, tuple[bool, float, int]] = {}
    for delim in _DELIMITERS:
        try:
            # newline="": classic-Mac files end lines with a bare CR, which csv must see as one.
            rows = [r for r in csv.reader(io.StringIO(sample, newline=""), delimiter=delim) if r]
        except csv.Error:
            continue
        if not complete and len(rows) > 1:
            rows = rows[:-1]  # the sample may cut the last record
        if not rows:
            continue
        widths = Counter(len(r) for r in rows[:200])
        width, hits = widths.most_common(1)[0]
        scores[delim] = (width > 1, hits / sum(widths.values()), width)
    if not scores:
        return ","
    best = max(scores, key=lambda d: scores[d])
    if sniffed in scores and scores[sniffed][0] and scores[sniffed][1] >= scores[best][1] - 0.05:
        return sniffed
    return best if scores[best][0] else ","


def _looks_like_header(sample: str, first_row: list[str]) -> bool:
    """Assume a header unless the first row holds data-like values (numbers, dates, emails)."""
    try:
        sniffed_header = csv.Sniffer().has_header(sample)
    except csv.Error:
        sniffed_header = True
    if sniffed_header:
        return True
    stats = ColumnStats()
    for value in first_row:
        if value.strip():
            stats.add(value.strip())
    data_like = set(stats.counts) - {"text", "boolean"}
    return not data_like


def _csv_lines(
    stream: IO[str], bad_lines: dict[int, str], quotes: list[int] | None = None
) -> Iterator[str]:
    """Physical lines for csv.reader, noting those with undecodable or NUL bytes.

    `quotes[0]` counts the double quotes seen: an odd total means a quote is never closed.
    """
    for number, line in enumerate(stream, start=1):
        if quotes is not None:
            quotes[0] += line.count('"')
        if not line.isascii():
            found = _SURROGATES.findall(line)
            if found:
                raw = " ".join(f"0x{ord(ch) - 0xDC00:02X}" for ch in found[:5])
                bad_lines[number] = (
                    f"bytes that are not valid text in the file's encoding ({raw}); "
                    "save the file as UTF-8 and upload it again"
                )
        if "\x00" in line:
            bad_lines[number] = "NUL bytes (binary data inside the text); remove them"
            line = line.replace("\x00", "")
        yield line


@dataclass
class _Source:
    """Records of a file: (first line, last line, values), plus what was detected."""

    kind: str
    records: Iterator[tuple[int, int, list[Any]]]
    encoding: str | None = None
    delimiter: str | None = None
    has_header: bool = True
    pad_short_rows: bool = False
    notes: list[str] = field(default_factory=list)
    close: Callable[[], None] = lambda: None


def _csv_source(fh: IO[bytes], filename: str, collector: _Collector) -> _Source:
    head = fh.read(SAMPLE_BYTES)
    if not head.strip():
        msg = f"{filename!r} is empty. Upload a file with a header row and at least one data row."
        raise DataSetError(msg)
    _check_not_binary(head, filename)
    encoding = _detect_encoding(fh, head)
    errors = "strict" if encoding == "utf-16" else "surrogateescape"
    fh.seek(0)
    text = io.TextIOWrapper(fh, encoding=encoding, errors=errors, newline="")  # type: ignore[arg-type]
    try:
        sample = text.read(SAMPLE_BYTES)
    except UnicodeDecodeError as exc:
        msg = f"{filename!r} is not valid UTF-16 ({exc.reason}); save it as UTF-8 CSV."
        raise DataSetError(msg) from None
    complete = len(sample) < SAMPLE_BYTES
    cut = max(sample.rfind("\n"), sample.rfind("\r"))
    if not complete and cut > 0:
        sample = sample[:cut]
    delimiter = _choose_delimiter(sample, complete)
    try:
        first = next(
            (r for r in csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter) if r), []
        )
    except csv.Error as exc:
        msg = (
            f"{filename!r} cannot be read as CSV ({exc}). Save it again as UTF-8 CSV and upload it."
        )
        raise DataSetError(msg) from None
    has_header = _looks_like_header(sample, first)
    text.seek(0)
    bad_lines: dict[int, str] = {}
    quotes = [0]
    reader = csv.reader(_csv_lines(text, bad_lines, quotes), delimiter=delimiter, strict=False)

    def records() -> Iterator[tuple[int, int, list[Any]]]:  # noqa: C901 - one reader loop
        end = 0
        # One record is held back: at the end of the file a quote that was never closed has
        # swallowed every following line into one value (csv does not complain), and that
        # record must be refused with the reason rather than imported.
        held: tuple[int, int, list[Any]] | None = None
        while True:
            try:
                row = next(reader)
            except StopIteration:
                if held is not None:
                    first, last, _values = held
                    if quotes[0] % 2 and last > first:
                        collector.refuse(
                            first,
                            "unclosed_quote",
                            f'Line {first}: a quote (") opened here is never closed, so lines '
                            f"{first}-{last} were read as one value. Close or remove the quote "
                            "and upload the file again.",
                        )
                    else:
                        yield held
                return
            except csv.Error as exc:
                msg = (
                    f"{filename!r} cannot be read as CSV after line {reader.line_num} ({exc}). "
                    "Check for a quote that is never closed."
                )
                raise DataSetError(msg) from None
            except UnicodeDecodeError as exc:
                msg = f"{filename!r} is not valid UTF-16 ({exc.reason}); save it as UTF-8 CSV."
                raise DataSetError(msg) from None
            start, end = end + 1, reader.line_num
            if bad_lines:
                found = [bad_lines.pop(n) for n in sorted(bad_lines) if n <= end]
                if found:
                    kind = "nul_bytes" if found[0].startswith("NUL") else "undecodable"
                    collector.refuse(start, kind, f"Line {start}: {found[0]}.")
                    continue
            if held is not None:
                yield held
            held = (start, end, row)

    notes = [f"Read as {encoding} text, values separated by {_delimiter_name(delimiter)}."]
    if not has_header:
        notes.append("The first row looks like data, not a header: columns are numbered.")
    return _Source(
        kind="csv",
        records=records(),
        encoding=encoding,
        delimiter=delimiter,
        has_header=has_header,
        notes=notes,
        close=text.detach,
    )


def _delimiter_name(delimiter: str) -> str:
    return {",": "commas", ";": "semicolons", "\t": "tabs", "|": "pipes"}.get(
        delimiter, repr(delimiter)
    )


def _cell_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if hasattr(value, "isoformat"):
        text = value.isoformat()
        return text.removesuffix("T00:00:00")
    return str(value)


def _xlsx_source(fh: IO[bytes], filename: str) -> _Source:
    import openpyxl  # noqa: PLC0415  (only XLSX imports pay for it)
    from openpyxl.utils.exceptions import InvalidFileException  # noqa: PLC0415

    try:
        # data_only=False: formulas arrive as their text ("=SUM(B2:B9)") and are stored as text.
        workbook = openpyxl.load_workbook(fh, read_only=True, data_only=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        msg = (
            f"{filename!r} is not a readable .xlsx workbook ({exc}). Save it again as .xlsx or CSV."
        )
        raise DataSetError(msg) from None
    sheet = workbook.worksheets[0]
    notes = [f"Read the first sheet ({sheet.title!r}) of the workbook."]
    if len(workbook.worksheets) > 1:
        notes.append(f"The workbook has {len(workbook.worksheets)} sheets; only the first is read.")

    def records() -> Iterator[tuple[int, int, list[Any]]]:
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, number, [_cell_text(v) for v in row]

    return _Source(
        kind="xlsx", records=records(), pad_short_rows=True, notes=notes, close=workbook.close
    )


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
    fh, must_close = _open_source(source)
    collector = _Collector()
    try:
        bytes_total = _size(fh)
        head = fh.read(8)
        fh.seek(0)
        is_xlsx = filename.lower().endswith((".xlsx", ".xlsm")) or head.startswith(b"PK\x03\x04")
        src = _xlsx_source(fh, filename) if is_xlsx else _csv_source(fh, filename, collector)
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
    src: _Source,
    fh: IO[bytes],
    collector: _Collector,
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
    src: _Source,
    fh: IO[bytes],
    collector: _Collector,
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
    imported: int, collector: _Collector, fh: IO[bytes], total: int | None
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
