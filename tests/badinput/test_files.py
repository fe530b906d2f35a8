"""Malformed CSV/XLSX uploads: each gets a message that says what to fix, and changes nothing else."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import openpyxl
import pytest
from sqlalchemy import select
from sqlmodel import Session

from store.datasets import dataset_table
from store.errors import DataSetError
from store.importer import import_file
from store.models import DataSet
from tests.badinput.conftest import snapshot

BIG = 10_000_000


def xlsx(rows: list[list[object]]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@dataclass(frozen=True)
class Refused:
    """The whole file is refused with a DataSetError naming the fix."""

    data: bytes
    filename: str
    says: tuple[str, ...]


@dataclass(frozen=True)
class Imported:
    """The file imports; bad rows are reported by line, notes explain what was done."""

    data: bytes
    filename: str
    rows: int
    refused: int = 0
    says: tuple[str, ...] = ()  # in notes or problems
    values: dict[str, str] = field(default_factory=dict)  # column -> first row's value


REFUSED = {
    "empty file": Refused(b"", "a.csv", ("is empty", "header row and at least one data row")),
    "only whitespace": Refused(b"  \n\n \r\n", "a.csv", ("is empty",)),
    "header only (csv)": Refused(b"email,name\n", "a.csv", ("no data rows", "at least one row")),
    "header only (xlsx)": Refused(xlsx([["email", "name"]]), "a.xlsx", ("no data rows",)),
    "empty workbook": Refused(xlsx([]), "a.xlsx", ("has no rows", "header row")),
    "xlsx that is not a zip": Refused(
        b"PK\x03\x04garbage", "a.xlsx", ("not a readable .xlsx", "Save it again")
    ),
    "png named .csv": Refused(b"\x89PNG\r\n\x1a\n" + b"0" * 64, "a.csv", ("PNG image", ".csv")),
    "utf-16 without BOM": Refused(
        "email,name\nx@y.org,a\n".encode("utf-16-le"), "a.csv", ("UTF-16", "save it as UTF-8")
    ),
    "every row has NUL bytes": Refused(
        b"email,name\nx@y.org,a\x00b\n", "a.csv", ("no data rows", "NUL bytes", "remove them")
    ),
    "binary noise": Refused(bytes(range(256)) * 10, "a.csv", ("no data rows", "refused")),
    "501 columns": Refused(
        (",".join(f"c{i}" for i in range(501)) + "\n" + ",".join("1" * 501) + "\n").encode(),
        "a.csv",
        ("has 501 columns", "at most 500", "Remove the columns you do not need"),
    ),
    "501 columns (xlsx)": Refused(
        xlsx([[f"c{i}" for i in range(501)], [1] * 501]), "a.xlsx", ("has 501 columns",)
    ),
}

IMPORTED = {
    "windows-1252 encoding": Imported(
        "name,city\nJos\xe9,Z\xfcrich\n".encode("cp1252"),
        "a.csv",
        1,
        says=("Read as cp1252",),
        values={"name": "José", "city": "Zürich"},
    ),
    "stray bytes in utf-8": Imported(
        "email,name\nx@y.org,Zoë\nz@y.org,bad \xff byte\nw@y.org,Chloé\n".encode(
            "utf-8", "surrogateescape"
        ).replace(b"\xc3\xbf", b"\xff"),
        "a.csv",
        2,
        refused=1,
        says=("Line 3", "save the file as UTF-8"),
    ),
    "NUL bytes in one row": Imported(
        b"email,name\nx@y.org,a\x00b\nz@y.org,c\n", "a.csv", 1, 1, ("Line 2", "NUL bytes")
    ),
    "ragged rows": Imported(
        b"a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n",
        "a.csv",
        2,
        refused=2,
        says=("Line 3: expected 3 values", "found 2", "Line 4", "found 4"),
    ),
    "duplicate column names": Imported(
        b"email,Email,name\nx@y.org,z@y.org,n\n",
        "a.csv",
        1,
        says=("Two columns are called 'Email'",),
        values={"email": "x@y.org", "email_2": "z@y.org"},
    ),
    "blank column name": Imported(
        b"email,,name\nx@y.org,q,n\n",
        "a.csv",
        1,
        says=("Column 2 has no name",),
        values={"column_2": "q"},
    ),
    "10 MB single cell": Imported(
        b"email,note\nx@y.org," + b"x" * BIG + b"\n", "a.csv", 1, values={"email": "x@y.org"}
    ),
    "formula cells (csv)": Imported(
        b'email,note\nx@y.org,"=HYPERLINK(""http://evil.example"",""x"")"\n',
        "a.csv",
        1,
        says=("like spreadsheet formulas", "escaped in downloads"),
        values={"note": '=HYPERLINK("http://evil.example","x")'},
    ),
    "formula cells (xlsx)": Imported(
        xlsx([["email", "n"], ["x@y.org", "=1+2"]]),
        "a.xlsx",
        1,
        says=("like spreadsheet formulas",),
        values={"n": "=1+2"},
    ),
    "quote never closed": Imported(
        b'email,name\na@y.org,ok\nx@y.org,"abc\nz@y.org,c\n',
        "a.csv",
        1,
        refused=1,
        says=("Line 3", "never closed", "lines 3-4 were read as one value"),
        values={"email": "a@y.org"},
    ),
    "quoted newline is fine": Imported(
        b'email,note\nx@y.org,"two\nlines"\n', "a.csv", 1, values={"note": "two\nlines"}
    ),
    "inch mark in an unquoted cell": Imported(
        b'email,item\nx@y.org,15" screen\n', "a.csv", 1, values={"item": '15" screen'}
    ),
    "classic-Mac CR line endings": Imported(
        b"email,name\rx@y.org,a\rz@y.org,b\r", "a.csv", 2, values={"name": "a"}
    ),
    # csv.reader would hold 150,001 values of that line in a list (one per separator).
    "a line of 150,000 separators": Imported(
        b"email,name\nx@y.org,a\n" + b"," * 150_000 + b"\nz@y.org,b\n",
        "a.csv",
        2,
        refused=1,
        says=("Line 3: more than 100,000 separators", "check the separator"),
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_refused_file_says_what_to_fix_and_stores_nothing(engine, case):
    spec = REFUSED[case]
    before = snapshot(engine)
    with pytest.raises(DataSetError) as info:
        import_file(engine, spec.data, name="upload", filename=spec.filename)
    message = str(info.value)
    for text in spec.says:
        assert text in message, message
    assert "Traceback" not in message
    assert snapshot(engine) == before  # no data set row, no half-filled table left behind


@pytest.mark.parametrize("case", list(IMPORTED))
def test_imported_file_reports_problems_by_line_and_keeps_values(engine, case):
    spec = IMPORTED[case]
    report = import_file(engine, spec.data, name="upload", filename=spec.filename)
    assert (report.rows_imported, report.rows_refused) == (spec.rows, spec.refused)
    said = " ".join(report.notes) + " " + " ".join(p["problem"] for p in report.problems)
    for text in spec.says:
        assert text in said, said
    with Session(engine) as session:
        ds = session.get(DataSet, report.dataset_id)
        assert ds is not None
        assert ds.row_count == spec.rows
        table = dataset_table(ds, with_shadows=False)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(table)).mappings()]
    assert len(rows) == spec.rows  # refused rows are reported, never stored half-way
    for column, value in spec.values.items():
        assert rows[0][column] == value
    if case == "10 MB single cell":
        assert len(rows[0]["note"]) == BIG  # kept whole; preflight rejects it per row later


def test_second_data_set_with_the_same_name_is_refused(engine):
    import_file(engine, b"email\nx@y.org\n", name="Donors", filename="a.csv")
    before = snapshot(engine)
    with pytest.raises(DataSetError, match="exists already; choose another name"):
        import_file(engine, b"email\nz@y.org\n", name="Donors", filename="b.csv")
    assert snapshot(engine) == before


def test_data_set_without_a_name_is_refused(engine):
    with pytest.raises(DataSetError, match="Give the data set a name"):
        import_file(engine, b"email\nx@y.org\n", name="  ", filename="a.csv")
    assert snapshot(engine)["datasets"] == 0
