"""Reading of uploaded XLSX workbooks: the archive is checked before parsing, then rows stream.

A workbook is a zip of XML parts. openpyxl streams the worksheets but holds other parts whole
in memory (the shared strings take about five times their size), and a small upload can unpack
to gigabytes, so `check_archive` reads the zip's directory first and refuses a workbook whose
parts would be too big (`store.import_limits`). The sizes declared there are upper bounds:
Python's zipfile never returns more than a part's declared size (more is a CRC error), and
only stored or deflated parts are accepted (what Excel writes; other methods can expand a
single read without bound).

A worksheet is streamed row by row, but each row is built whole in memory: one row of two
million empty cells is 8 MB of XML (9 KB zipped) and took 630 MB. Worksheets are therefore
scanned first (`_largest_row`, at C speed: a split on row starts, a count of `<` per row)
and refused when a row holds more elements or bytes than any spreadsheet row can.

The rows ignore the sheet's declared dimension: a workbook declaring `A1:XFD1048576` would
otherwise have openpyxl pad every row to 16,384 cells and add empty rows up to row 1,048,576.
Each row is cut to the header's width once the importer knows it (`Source.bound_width`); a row
with values beyond the header keeps them, so the importer refuses it with its line number.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from typing import IO, Any
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from store.csv_source import MAX_CELL_BYTES, Source
from store.errors import DataSetError
from store.import_limits import CSV_INSTEAD, MAX_COLUMNS, MB, ImportLimits

_TYPES_PART = "[Content_Types].xml"
_TYPES_NS = "{http://schemas.openxmlformats.org/package/2006/content-types}"
_SHEETML = "application/vnd.openxmlformats-officedocument.spreadsheetml."
_WORKSHEET = _SHEETML + "worksheet+xml"
_SHARED_STRINGS = _SHEETML + "sharedStrings+xml"
# Parts openpyxl never reads in read-only mode count towards the total only (images, VBA).
_PARSED_SUFFIXES = (".xml", ".rels", ".vml")
# A row element, with any namespace prefix: `<row `, `<row>`, `<x:row/`.
_ROW_START = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,31}:)?row[\s/>]")
_TOKEN = 40  # longer than any `_ROW_START` match
# Excel's 16,384 columns with a few tags each (<c>, <v>, </v>, </c>, rich text runs).
MAX_ROW_TAGS = 100_000


def _unreadable(filename: str, why: object) -> DataSetError:
    return DataSetError(
        f"{filename!r} is not a readable .xlsx workbook ({why}). Save it again as .xlsx or CSV."
    )


def _too_big(filename: str, what: str, mb: float, limit_mb: int) -> DataSetError:
    return DataSetError(
        f"{filename!r} was not imported: {what} would unpack to {mb:,.0f} MB, more than the "
        f"{limit_mb:,} MB an import reads from a workbook. {CSV_INSTEAD}"
    )


def _content_types(archive: zipfile.ZipFile, filename: str) -> dict[str, str]:
    """Part name -> content type, from the package's `[Content_Types].xml` (overrides only)."""
    try:
        root = SafeET.fromstring(archive.read(_TYPES_PART))
    except KeyError:
        raise _unreadable(filename, f"no {_TYPES_PART}") from None
    except (ParseError, DefusedXmlException, zipfile.BadZipFile, OSError) as exc:
        raise _unreadable(filename, exc) from None
    return {
        str(o.get("PartName", "")).lstrip("/"): str(o.get("ContentType", ""))
        for o in root.iter(f"{_TYPES_NS}Override")
    }


def check_archive(fh: IO[bytes], filename: str, limits: ImportLimits) -> None:
    """Refuse a workbook whose parts would unpack too big, before openpyxl reads any of it.

    Raises:
        DataSetError: not a zip, a compression Excel does not use, too many parts, or a part
            (or all of them) bigger than its limit; the message says to save it as CSV.
    """
    try:
        with zipfile.ZipFile(fh) as archive:
            parts = archive.infolist()
            if len(parts) > limits.xlsx_parts:
                msg = (
                    f"{filename!r} was not imported: the workbook has {len(parts):,} parts, "
                    f"more than the {limits.xlsx_parts:,} an import reads. {CSV_INSTEAD}"
                )
                raise DataSetError(msg)
            types = _content_types(archive, filename)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise _unreadable(filename, exc) from None
    finally:
        fh.seek(0)
    total = 0
    for part in parts:
        if part.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _unreadable(filename, f"{part.filename} uses a compression Excel does not write")
        total += part.file_size
        kind = types.get(part.filename)
        if kind == _SHARED_STRINGS:
            what, limit = "its shared strings (the text of its cells)", limits.xlsx_strings_mb
        elif kind == _WORKSHEET:
            what, limit = f"the sheet {part.filename}", limits.xlsx_sheet_mb
        elif part.filename.lower().endswith(_PARSED_SUFFIXES) or part.filename == _TYPES_PART:
            what, limit = f"the part {part.filename}", limits.xlsx_part_mb
        else:
            continue
        if part.file_size > limit * MB:
            raise _too_big(filename, what, part.file_size / MB, limit)
    if total > limits.xlsx_total_mb * MB:
        raise _too_big(filename, "the workbook", total / MB, limits.xlsx_total_mb)
    sheets = [p for p in parts if types.get(p.filename) == _WORKSHEET]
    with zipfile.ZipFile(fh) as archive:
        for part in sheets:
            with archive.open(part) as stream:
                tags, size = _largest_row(stream)
            if tags > MAX_ROW_TAGS or size > MAX_CELL_BYTES:
                msg = (
                    f"{filename!r} was not imported: a row of {part.filename} holds "
                    f"{tags:,} XML elements in {size / MB:,.1f} MB, more than a spreadsheet row "
                    f"can ({MAX_ROW_TAGS:,} elements, {MAX_CELL_BYTES // MB} MB). The file was "
                    f"not written by a spreadsheet program; {CSV_INSTEAD}"
                )
                raise DataSetError(msg)
    fh.seek(0)


def _largest_row(stream: IO[bytes]) -> tuple[int, int]:
    """The most elements (`<` counted) and bytes between two row starts of a worksheet.

    Chunks are cut before the last `<` near their end, so a row start is never split.
    """
    most_tags = most_bytes = tags = size = 0
    carry = b""
    while True:
        chunk = stream.read(MB)
        data = carry + chunk
        cut = len(data)
        if chunk:
            last = data.rfind(b"<", max(cut - _TOKEN, 0))
            cut = last if last > 0 else cut
        pieces = _ROW_START.split(data[:cut])
        carry = data[cut:]
        for i, piece in enumerate(pieces):
            if i:  # a new row starts
                most_tags, most_bytes = max(most_tags, tags), max(most_bytes, size)
                tags = size = 0
            tags += piece.count(b"<")
            size += len(piece)
        if not chunk:
            return max(most_tags, tags), max(most_bytes, size)


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


def xlsx_source(fh: IO[bytes], filename: str, limits: ImportLimits) -> Source:
    """Read the first sheet of an XLSX workbook lazily, cells as text (`check_archive` first)."""
    check_archive(fh, filename, limits)
    # Imported here: only XLSX imports pay for openpyxl.
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        # data_only=False: formulas arrive as their text ("=SUM(B2:B9)") and are stored as text.
        workbook = openpyxl.load_workbook(fh, read_only=True, data_only=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ParseError) as exc:
        raise _unreadable(filename, exc) from None
    if not workbook.worksheets:
        workbook.close()
        raise _unreadable(filename, "it has no worksheet")
    sheet = workbook.worksheets[0]
    sheet.reset_dimensions()  # the declared dimension is the file's word, not its content
    notes = [f"Read the first sheet ({sheet.title!r}) of the workbook."]
    if len(workbook.worksheets) > 1:
        notes.append(f"The workbook has {len(workbook.worksheets)} sheets; only the first is read.")
    # Before the header is known, one more than the most columns an import takes, so that a
    # wider header is seen (and refused by the importer).
    width = [MAX_COLUMNS + 1]

    def bound_width(columns: int) -> None:
        width[0] = columns

    def records() -> Iterator[tuple[int, int, list[Any]]]:
        try:
            for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
                tail = row[width[0] :]
                if tail.count(None) == len(tail):  # C speed, even for 16,384 padded cells
                    row = row[: width[0]]
                yield number, number, [_cell_text(v) for v in row]
        except (ParseError, DefusedXmlException, zipfile.BadZipFile, OSError) as exc:
            raise _unreadable(filename, exc) from None

    return Source(
        kind="xlsx",
        records=records(),
        pad_short_rows=True,
        notes=notes,
        close=workbook.close,
        bound_width=bound_width,
    )
