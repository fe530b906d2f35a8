"""Hostile uploads (issue 21 item 2): bounded, fast, and nothing left behind when refused.

Reproduced by the audit: a 4.9 KB workbook declaring `A1:XFD1048576` kept a server core busy
for 21 minutes (openpyxl padded every row to 16,384 cells, up to row 1,048,576); a 206 KB one
with an 85 MB sharedStrings.xml took 484 MB. The workbooks here are built part by part
(`tests.badinput.workbooks`), small on disk. "Fast" is a bound against a hang, not a speed test.
"""

from __future__ import annotations

import itertools
import time
import zipfile

import pytest

from store.errors import DataSetError
from store.importer import ImportProgress, import_file
from tests.badinput.conftest import snapshot
from tests.badinput.workbooks import (
    MAIN,
    filler,
    inline_row,
    shared_strings,
    sheet_xml,
    workbook,
)

FAST = 5.0  # seconds
HEADER = inline_row(1, ["email", "name"])
ROWS = [HEADER] + [inline_row(i, [f"p{i}@example.org", f"Name {i}"]) for i in range(2, 6)]


def refused(engine, data: bytes, filename: str = "bomb.xlsx") -> str:
    """Import `data`; assert it is refused fast and changes nothing; return the message."""
    before = snapshot(engine)
    started = time.monotonic()
    with pytest.raises(DataSetError) as info:
        import_file(engine, data, name="upload", filename=filename)
    assert time.monotonic() - started < FAST
    assert snapshot(engine) == before
    return str(info.value)


# (workbook, environment, words of the message)
BOMBS = {
    "85 MB-style shared strings (default 32 MB limit)": (
        lambda: workbook(sheet_xml(ROWS), shared_strings(1_300_000)),
        {},
        ("shared strings", "would unpack to 3", "more than the 32 MB", "Save the sheet as CSV"),
    ),
    "a styles part of 17 MB whitespace (default 16 MB limit)": (
        lambda: workbook(sheet_xml(ROWS), extra={"xl/styles.xml": filler(17)}),
        {},
        ("the part xl/styles.xml", "more than the 16 MB", "CSV"),
    ),
    "a sheet over its limit": (
        lambda: workbook(itertools.chain(sheet_xml(ROWS), filler(3))),
        {"PATHWAYS_IMPORT_XLSX_SHEET_MB": "2"},
        ("the sheet xl/worksheets/sheet1.xml", "more than the 2 MB"),
    ),
    "all parts together over the total": (
        lambda: workbook(sheet_xml(ROWS), extra={"xl/media/image1.png": filler(3, b"\0")}),
        {"PATHWAYS_IMPORT_XLSX_TOTAL_MB": "2"},
        ("the workbook would unpack to 3 MB", "more than the 2 MB"),
    ),
    "too many parts": (
        lambda: workbook(sheet_xml(ROWS), extra={f"xl/x{i}.xml": [b"<x/>"] for i in range(40)}),
        {"PATHWAYS_IMPORT_XLSX_PARTS": "20"},
        ("46 parts", "more than the 20"),
    ),
    "one row of 2,000,000 empty cells (8 MB of XML, 630 MB in openpyxl)": (
        lambda: workbook(sheet_xml([HEADER, '<row r="2">' + "<c/>" * 2_000_000 + "</row>"])),
        {},
        ("a row of xl/worksheets/sheet1.xml holds 2,000,00", "more than a spreadsheet row can"),
    ),
    "the same row behind a namespace prefix": (
        lambda: workbook(
            sheet_xml([f'<x:row xmlns:x="{MAIN}" r="2">' + "<x:c/>" * 200_000 + "</x:row>"])
        ),
        {},
        ("holds 200,00", "CSV"),
    ),
    "bzip2-compressed parts": (
        lambda: workbook(sheet_xml(ROWS), compression=zipfile.ZIP_BZIP2),
        {},
        ("uses a compression Excel does not write", "Save it again"),
    ),
}


@pytest.mark.parametrize("case", list(BOMBS))
def test_workbook_bomb_is_refused_before_parsing(engine, monkeypatch, case):
    build, env, says = BOMBS[case]
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    data = build()
    assert len(data) < 4_000_000  # small on disk
    message = refused(engine, data)
    for words in says:
        assert words in message, message


def test_declared_dimension_is_ignored(engine):
    """The audit's 4.9 KB workbook: `A1:XFD1048576` and a formatted last row. openpyxl padded
    each of the million rows in between to 16,384 cells; now rows are as wide as the header
    and reading stops after a run of blank rows."""
    last = '<row r="1048576" s="1" customFormat="1"/>'
    data = workbook(sheet_xml([*ROWS, last], dimension="A1:XFD1048576"))
    assert len(data) < 5_000
    started = time.monotonic()
    report = import_file(engine, data, name="dims", filename="dims.xlsx")
    assert time.monotonic() - started < FAST
    assert (report.rows_imported, report.rows_refused) == (4, 0)
    assert [c["name"] for c in report.columns] == ["email", "name"]


def test_far_away_cell_stops_after_a_run_of_blank_rows(engine):
    """A cell at XFD1048576 after the data: rows are cut to the header's width and reading
    stops after 10,000 blank rows, which the report says."""
    far = '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    started = time.monotonic()
    report = import_file(engine, workbook(sheet_xml([*ROWS, far])), name="f", filename="f.xlsx")
    assert time.monotonic() - started < FAST
    assert (report.rows_imported, report.rows_refused) == (4, 0)
    assert any("Reading stopped at line 10,005" in n for n in report.notes), report.notes


def test_row_wider_than_the_header_is_refused_by_line(engine):
    wide = '<row r="3"><c r="A3" t="inlineStr"><is><t>w@x.org</t></is></c>'
    wide += '<c r="XFD3" t="inlineStr"><is><t>far</t></is></c></row>'
    rows = [ROWS[0], ROWS[1], wide, *ROWS[3:]]
    report = import_file(engine, workbook(sheet_xml(rows)), name="w", filename="w.xlsx")
    assert (report.rows_imported, report.rows_refused) == (3, 1)
    assert (
        "Line 3: expected 2 values (one per column), found 16384" in report.problems[0]["problem"]
    )


def _csv(rows: int, blank_after: int | None = None, blanks: int = 0) -> bytes:
    lines = ["email,name"]
    for i in range(rows):
        if i == blank_after:
            lines += [""] * blanks
        lines.append(f"p{i}@example.org,Name {i}")
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("PATHWAYS_IMPORT_MAX_ROWS", "50", "more than 50 rows"),
        ("PATHWAYS_IMPORT_MAX_CELLS", "120", "more than 120 cells"),
    ],
)
def test_import_over_its_budget_is_ended_with_the_limit(engine, monkeypatch, variable, value, says):
    monkeypatch.setenv(variable, value)
    message = refused(engine, _csv(200), "big.csv")
    assert says in message, message
    assert variable in message, message
    assert "Split it into smaller files" in message


def test_import_over_its_time_is_ended(engine, monkeypatch):
    monkeypatch.setenv("PATHWAYS_IMPORT_MAX_SECONDS", "0.05")
    monkeypatch.setattr("store.importer.BATCH_ROWS", 10)
    before = snapshot(engine)
    with pytest.raises(DataSetError, match="more than 0 seconds to read") as info:
        import_file(engine, _csv(100), name="slow", filename="slow.csv", on_progress=_slow)
    assert "PATHWAYS_IMPORT_MAX_SECONDS" in str(info.value)
    assert snapshot(engine) == before


def _slow(_progress: ImportProgress) -> None:
    time.sleep(0.06)


def test_blank_rows_report_progress_and_can_be_cancelled(engine, monkeypatch):
    """The audit's import kept running after its tab closed: blank rows never called
    on_progress, through which Streamlit stops a script. Now every record counts."""
    monkeypatch.setattr("store.importer.BATCH_ROWS", 10)
    seen: list[ImportProgress] = []
    data = _csv(2, blank_after=1, blanks=95)
    import_file(engine, data, name="blanks", filename="b.csv", on_progress=seen.append)
    assert len(seen) >= 9, seen

    class Closed(BaseException):
        """What Streamlit raises in a script whose session has gone."""

    def close_tab(progress: ImportProgress) -> None:
        if progress.rows_imported <= 1:
            raise Closed

    before = snapshot(engine)
    with pytest.raises(Closed):
        import_file(engine, data, name="cancelled", filename="b.csv", on_progress=close_tab)
    assert snapshot(engine) == before


def test_long_run_of_blank_rows_ends_the_reading_and_says_so(engine, monkeypatch):
    monkeypatch.setenv("PATHWAYS_IMPORT_BLANK_RUN", "100")
    report = import_file(engine, _csv(3, blank_after=2, blanks=150), name="r", filename="r.csv")
    assert report.rows_imported == 2
    assert any("Reading stopped at line 103" in n for n in report.notes), report.notes
    assert any("remove the blank rows" in n for n in report.notes)
