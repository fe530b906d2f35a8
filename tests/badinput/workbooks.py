"""Hand-built XLSX files for the bad-input corpus: small on disk, hostile once unpacked.

openpyxl only writes honest workbooks, so these are assembled part by part with zipfile. Big
parts are written in chunks and deflated at level 1: tens of MB of repeated XML become a few
hundred KB in a fraction of a second.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml."
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"

CONTENT_TYPES = f"""<?xml version="1.0" encoding="UTF-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" ContentType="{_CT}sheet.main+xml"/>
<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_CT}worksheet+xml"/>
<Override PartName="/xl/sharedStrings.xml" ContentType="{_CT}sharedStrings+xml"/>
</Types>"""
ROOT_RELS = f"""<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="{_PKG_REL}"><Relationship Id="rId1" Target="xl/workbook.xml"
Type="{_REL}/officeDocument"/></Relationships>"""
WORKBOOK = f"""<?xml version="1.0" encoding="UTF-8"?>
<workbook xmlns="{MAIN}" xmlns:r="{_REL}"><sheets>
<sheet name="Donors" sheetId="1" r:id="rId1"/></sheets></workbook>"""
WORKBOOK_RELS = f"""<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="{_PKG_REL}">
<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>
<Relationship Id="rId2" Type="{_REL}/sharedStrings" Target="sharedStrings.xml"/>
</Relationships>"""


def sheet_xml(rows: Iterable[str], dimension: str | None = None) -> Iterable[bytes]:
    """A worksheet's XML in chunks: `rows` are `<row>` elements, written as given."""
    yield f'<?xml version="1.0" encoding="UTF-8"?>\n<worksheet xmlns="{MAIN}">'.encode()
    if dimension:
        yield f'<dimension ref="{dimension}"/>'.encode()
    yield b"<sheetData>"
    for row in rows:
        yield row.encode()
    yield b"</sheetData></worksheet>"


def inline_row(number: int, values: Iterable[str], columns: Iterable[str] = "ABCDEFGH") -> str:
    """A `<row>` of inline-string cells (no shared strings needed)."""
    cells = "".join(
        f'<c r="{col}{number}" t="inlineStr"><is><t>{v}</t></is></c>'
        for col, v in zip(columns, values, strict=False)
    )
    return f'<row r="{number}">{cells}</row>'


def shared_strings(count: int, text: str = "donor") -> Iterable[bytes]:
    """A sharedStrings.xml of `count` strings, in chunks."""
    yield f'<?xml version="1.0" encoding="UTF-8"?>\n<sst xmlns="{MAIN}">'.encode()
    chunk = "".join(f"<si><t>{text}{i:07d}</t></si>" for i in range(10_000)).encode()
    for _ in range(count // 10_000):
        yield chunk
    yield b"</sst>"


def workbook(
    sheet: Iterable[bytes],
    strings: Iterable[bytes] = (b'<sst xmlns="' + MAIN.encode() + b'"/>',),
    extra: dict[str, Iterable[bytes]] | None = None,
    compression: int = zipfile.ZIP_DEFLATED,
) -> bytes:
    """An .xlsx file with one sheet (and any extra parts), every part written in chunks."""
    parts: dict[str, Iterable[bytes]] = {
        "[Content_Types].xml": [CONTENT_TYPES.encode()],
        "_rels/.rels": [ROOT_RELS.encode()],
        "xl/workbook.xml": [WORKBOOK.encode()],
        "xl/_rels/workbook.xml.rels": [WORKBOOK_RELS.encode()],
        "xl/worksheets/sheet1.xml": sheet,
        "xl/sharedStrings.xml": strings,
        **(extra or {}),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression, compresslevel=1) as archive:
        for name, chunks in parts.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = compression
            with archive.open(info, "w") as part:
                for chunk in chunks:
                    part.write(chunk)
    return out.getvalue()


def filler(megabytes: float, piece: bytes = b" ") -> Iterable[bytes]:
    """`megabytes` MB of one repeated byte string (whitespace is valid between XML elements)."""
    block = piece * (1024 * 1024 // len(piece))
    whole, rest = divmod(int(megabytes * 1024 * 1024), len(block))
    for _ in range(whole):
        yield block
    yield block[:rest]
