"""Reading of uploaded CSV files: encoding, delimiter and header detection, records.

A `Source` yields (first line, last line, values) records lazily so that the import streams;
rows that cannot be read (undecodable bytes, NUL bytes, an unclosed quote, a line of more
separators than any table could have columns) are refused into the shared `Collector` with
their line numbers rather than dropped. `store.xlsx_source` builds the same `Source` for
workbooks.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from store.errors import DataSetError
from store.inference import ColumnStats

MAX_PROBLEMS = 1_000
SAMPLE_BYTES = 64 * 1024
MAX_CELL_BYTES = 128 * 1024 * 1024
# csv.reader would make a list of every value of a line: a 150 MB line of commas is 150 million
# values (over 1 GB). A line with more separators than this is refused before csv reads it.
MAX_SEPARATORS = 100_000

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


def open_source(source: Any) -> tuple[IO[bytes], bool]:
    """A seekable binary stream for `source` and whether we must close it."""
    if isinstance(source, str | os.PathLike):
        return Path(source).open("rb"), True
    if isinstance(source, bytes | bytearray | memoryview):
        return io.BytesIO(bytes(source)), True
    stream: IO[bytes] = source
    if getattr(stream, "seekable", lambda: False)():
        return stream, False
    # Uploads from a pipe: spool to disk so we can read the file more than once.
    spooled = tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024)  # closed by the caller
    shutil.copyfileobj(stream, spooled)
    spooled.seek(0)
    return spooled, True  # type: ignore[return-value]


def stream_size(fh: IO[bytes]) -> int | None:
    """The size of the file in bytes, or None when the stream cannot tell."""
    try:
        here = fh.tell()
        end = fh.seek(0, os.SEEK_END)
        fh.seek(here)
        return end
    except (OSError, ValueError):
        return None


@dataclass
class _Scan:
    """What one pass over the file's bytes found: its encoding and whether it is plain.

    `undecodable`: bytes the encoding cannot decode (only then are lines checked for them).
    `plain`: UTF-8 without bad bytes, NUL bytes or an unclosed quote, so that the
    column-wise reader (`store.csv_columns`) may read it; it still hands a file back to the
    line reader on anything else it does not take (a row of the wrong width, a blank row...).
    """

    encoding: str
    undecodable: bool
    plain: bool


def _scan(fh: IO[bytes], head: bytes) -> _Scan:
    """utf-8-sig / utf-16 by BOM, else utf-8 unless it is mostly not, then cp1252 or latin-1.

    A file that is UTF-8 except for a few stray bytes stays UTF-8 (the bad lines are refused
    and reported) rather than turning every accent elsewhere into mojibake. Every check is a
    C scan of 1 MB chunks.
    """
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _Scan("utf-16", True, False)
    valid = _scan_valid_utf8(fh, head)
    if valid is not None:
        return valid
    decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
    bad = good = quotes = 0
    cp1252_ok = True
    nul = False
    fh.seek(0)
    while chunk := fh.read(1024 * 1024):
        quotes += chunk.count(b'"')
        nul = nul or b"\0" in chunk
        if chunk.isascii():
            continue
        text = decoder.decode(chunk)
        try:
            text.encode()  # fails only on surrogates: faster than searching for them
            surrogates = 0
        except UnicodeEncodeError:
            surrogates = len(_SURROGATES.findall(text))
        bad += surrogates
        good += len(text) - len(text.encode("ascii", "ignore")) - surrogates
        if cp1252_ok:
            try:
                chunk.decode("cp1252")
            except UnicodeDecodeError:
                cp1252_ok = False
    fh.seek(0)
    plain = bad == 0 and not nul and quotes % 2 == 0
    if head.startswith(codecs.BOM_UTF8):
        return _Scan("utf-8-sig", True, plain)
    if bad == 0 or good >= bad:
        return _Scan("utf-8", bad > 0, plain)
    return _Scan("cp1252" if cp1252_ok else "latin-1", False, False)


def _scan_valid_utf8(fh: IO[bytes], head: bytes) -> _Scan | None:
    """`_scan`'s answer for a file that is valid UTF-8 throughout, else None.

    Most files are: one strict decode of each chunk says so, without counting bad and good
    characters, which only matter when some bytes are not UTF-8 (`_scan` then starts over).
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    quotes = 0
    nul = False
    fh.seek(0)
    try:
        while chunk := fh.read(1024 * 1024):
            quotes += chunk.count(b'"')
            nul = nul or b"\0" in chunk
            if not chunk.isascii():
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return None
    finally:
        fh.seek(0)
    plain = not nul and quotes % 2 == 0
    return (
        _Scan("utf-8-sig", True, plain)
        if head.startswith(codecs.BOM_UTF8)
        else _Scan("utf-8", False, plain)
    )


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
class Collector:
    """Refused rows and counts, shared by the readers and the import loop."""

    problems: list[dict[str, Any]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    refused: int = 0
    blank_rows: int = 0

    def refuse(self, line: int, kind: str, problem: str) -> None:
        """Count a refused row and list it (up to `MAX_PROBLEMS`) with its line and reason."""
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
    stream: IO[str],
    bad_lines: dict[int, tuple[str, str]],
    quotes: list[int],
    delimiter: str,
    undecodable: bool,
) -> Iterator[str]:
    """Physical lines for csv.reader, noting (kind, why) of those that cannot be imported.

    `quotes[0]` counts the double quotes seen: an odd total means a quote is never closed.
    A line of more than `MAX_SEPARATORS` separators reaches csv as its quotes alone (so the
    quoting of the lines after it is unchanged) and its record is refused.
    """
    for number, line in enumerate(stream, start=1):
        quotes[0] += line.count('"')
        if len(line) > MAX_SEPARATORS and line.count(delimiter) > MAX_SEPARATORS:
            bad_lines[number] = (
                "too_many_values",
                f"more than {MAX_SEPARATORS:,} separators, far more values than a data set "
                "can have columns; check the separator of this line",
            )
            yield '"' * line.count('"') + line[len(line.rstrip("\r\n")) :]
            continue
        if undecodable and not line.isascii():
            found = _SURROGATES.findall(line)
            if found:
                raw = " ".join(f"0x{ord(ch) - 0xDC00:02X}" for ch in found[:5])
                bad_lines[number] = (
                    "undecodable",
                    f"bytes that are not valid text in the file's encoding ({raw}); "
                    "save the file as UTF-8 and upload it again",
                )
        if "\x00" in line:
            bad_lines[number] = (
                "nul_bytes",
                "NUL bytes (binary data inside the text); remove them",
            )
            line = line.replace("\x00", "")
        yield line


@dataclass
class Source:
    """Records of a file: (first line, last line, values), plus what was detected."""

    kind: str
    records: Iterator[tuple[int, int, list[Any]]]
    encoding: str | None = None
    delimiter: str | None = None
    has_header: bool = True
    pad_short_rows: bool = False
    notes: list[str] = field(default_factory=list)
    close: Callable[[], None] = lambda: None
    # Called with the header's width once the importer knows it: a reader that would pad rows
    # (XLSX) cuts them to that width from then on.
    bound_width: Callable[[int], None] = lambda _width: None
    # A plain CSV file (see `_scan`): the number of values of its first record, for the
    # column-wise reader (`store.csv_columns`); 0 when only the line reader may read it.
    plain_fields: int = 0


def csv_source(fh: IO[bytes], filename: str, collector: Collector) -> Source:
    """Detect encoding, delimiter and header of a CSV file and read its records lazily."""
    head = fh.read(SAMPLE_BYTES)
    if not head.strip():
        msg = f"{filename!r} is empty. Upload a file with a header row and at least one data row."
        raise DataSetError(msg)
    _check_not_binary(head, filename)
    scan = _scan(fh, head)
    encoding, undecodable = scan.encoding, scan.undecodable
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
    bad_lines: dict[int, tuple[str, str]] = {}
    quotes = [0]
    reader = csv.reader(
        _csv_lines(text, bad_lines, quotes, delimiter, undecodable),
        delimiter=delimiter,
        strict=False,
    )

    def records() -> Iterator[tuple[int, int, list[Any]]]:
        text.seek(0)  # here, not before: the column-wise reader may have read the file first
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
                    kind, why = found[0]
                    collector.refuse(start, kind, f"Line {start}: {why}.")
                    continue
            if held is not None:
                yield held
            held = (start, end, row)

    notes = [f"Read as {encoding} text, values separated by {_delimiter_name(delimiter)}."]
    if not has_header:
        notes.append("The first row looks like data, not a header: columns are numbered.")
    return Source(
        kind="csv",
        records=records(),
        encoding=encoding,
        delimiter=delimiter,
        has_header=has_header,
        notes=notes,
        close=text.detach,
        plain_fields=len(first) if scan.plain else 0,
    )


def _delimiter_name(delimiter: str) -> str:
    return {",": "commas", ";": "semicolons", "\t": "tabs", "|": "pipes"}.get(
        delimiter, repr(delimiter)
    )
