"""The column-wise reader (pyarrow) gives exactly what the line reader gives, or hands over.

A plain CSV file is read column-wise (`store.csv_columns`); a file the line reader must read
(a row of the wrong width...) is read again by it from the start. The same bytes given as a
stream arrow cannot read on its own (a buffered wrapper) always take the line reader, which is
how these tests import one file both ways and compare the data sets.
"""

from __future__ import annotations

import io

import pytest
from sqlalchemy import inspect, select
from sqlmodel import Session

import store.importer
from store.datasets import dataset_table
from store.importer import import_file
from store.models import DataSet

REPORTED = (
    "rows_imported",
    "rows_refused",
    "blank_lines",
    "columns",
    "problems",
    "problem_counts",
    "notes",
    "encoding",
    "delimiter",
    "has_header",
    "file_kind",
)


def _varied_csv(rows: int) -> bytes:
    """Quotes, separators and line breaks inside values, blank and empty lines, formulas,
    padded values, day-first dates, bad emails, empty cells, phantom header columns, CRLF."""
    out = ["Donor ID,E-mail,Name,Amount,Joined,Notes,Monthly,Phone,,"]
    for i in range(1, rows + 1):
        email = f"p{i}@example.org" if i % 13 else ("" if i % 2 else f"p{i} @example.org")
        name = ('"Núñez, Ana"', '"He said ""hi"""', "Zoë", "李", " Padded ")[i % 5]
        amount = f"{i % 500}.{i % 100:02d}"
        for every, odd in ((31, "=1+2"), (37, '"1,5"'), (19, " 12 "), (23, ""), (41, "-5")):
            amount = odd if i % every == 0 else amount
        joined = (f"{i % 28 + 1:02d}/{i % 12 + 1:02d}/2021", f"{i % 28 + 1}.03.2020")[i % 2]
        if i % 97 == 0:
            joined = "3 Mar 2021"
        notes = ('"line one\nline two"', "@mention", "plain", '"tab\there"', "")[i % 5]
        monthly = ("yes", "no", "TRUE", "")[i % 4]
        phone = ("+44 20 7946 0958", "(555) 123-4567", "+1555")[i % 3]
        out.append(f"{i:06d},{email},{name},{amount},{joined},{notes},{monthly},{phone},,")
        if i % 4001 == 0:
            out.append(",,,,,,,,,")  # a blank row
        if i % 5003 == 0:
            out.append("")  # an empty line
        if i % 6007 == 0:
            out.append("  ,,,,,,,,,")  # spaces only: imported as a row, as ever
    return ("\r\n".join(out) + "\r\n").encode()


def _everything(engine, report) -> dict:
    with Session(engine) as session:
        ds = session.get(DataSet, report.dataset_id)
    table = dataset_table(ds)
    with engine.connect() as conn:
        rows = conn.execute(select(table).order_by(table.c["_row"])).all()
    shown = {field: getattr(report, field) for field in REPORTED}
    return {
        "report": shown,
        "columns": ds.columns,
        "table": [c.name for c in table.c],
        "rows": rows,
    }


def _both_ways(engine, monkeypatch, data: bytes) -> tuple[dict, dict]:
    """Import `data` column-wise and by lines; fail unless each took the reader it should."""
    line_reads: list[bool] = []
    row_chunks = store.importer._row_chunks

    def spy(*args, **kwargs):
        line_reads.append(True)
        return row_chunks(*args, **kwargs)

    monkeypatch.setattr(store.importer, "_row_chunks", spy)
    fast = import_file(engine, data, name="fast", filename="f.csv")
    assert line_reads == [], "the plain file was not read column-wise"
    lines = import_file(engine, io.BufferedReader(io.BytesIO(data)), name="lines", filename="f.csv")
    assert line_reads == [True]
    return _everything(engine, fast), _everything(engine, lines)


def test_a_varied_file_is_the_same_data_set_either_way(engine, monkeypatch):
    fast, lines = _both_ways(engine, monkeypatch, _varied_csv(23_000))
    assert fast["report"]["rows_imported"] == 23_000 + 3  # the spaces-only rows are rows
    assert fast["report"]["blank_lines"] == 5 + 4
    types = {c["name"]: c["type"] for c in fast["columns"]}
    assert types["joined"] == "date"
    assert types["amount"] == "decimal"
    assert any("like spreadsheet formulas" in note for note in fast["report"]["notes"])
    assert any("day-first" in note for note in fast["report"]["notes"])
    assert "amount__n" in fast["table"]
    assert "joined__d" in fast["table"]
    assert fast == lines


@pytest.mark.parametrize(
    "data",
    [
        b"1,2021-03-04,ann@example.org\n2,2021-03-05,bob@example.org\n",  # no header
        'a;b\n\ufeff1;x\n2;"y;z"\n'.encode(),  # semicolons, a quoted separator
        b"only\nx\n\n\ny\n",  # one column, empty lines are blank rows
    ],
)
def test_small_files_are_the_same_either_way(engine, monkeypatch, data):
    fast, lines = _both_ways(engine, monkeypatch, data)
    assert fast == lines


def test_a_wrong_row_late_in_a_plain_file_is_refused_with_its_line(engine):
    """The column-wise reader has written batches when it meets the row; the line reader
    reads the file again, and the first attempt leaves no table behind."""
    rows = [f"{i},name {i},{i * 3}" for i in range(1, 30_001)]
    rows[24_999] = "25000,name,with,too many"
    data = ("id,name,amount\n" + "\n".join(rows) + "\n").encode()
    tables = set(inspect(engine).get_table_names())
    report = import_file(engine, data, name="late", filename="late.csv")
    assert report.rows_imported == 29_999
    assert [(p["line"], p["kind"]) for p in report.problems] == [(25_001, "column_count")]
    assert set(inspect(engine).get_table_names()) - tables == {report.table_name}
