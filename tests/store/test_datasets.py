"""CSV/XLSX import edge cases, on a real database."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select
from sqlmodel import Session

from store.datasets import dataset_table
from store.errors import DataSetError
from store.importer import ImportProgress, import_file
from store.models import DataSet


def _rows(engine, report):
    with Session(engine) as session:
        ds = session.get(DataSet, report.dataset_id)
    table = dataset_table(ds)
    names = [c["name"] for c in ds.columns]
    with engine.connect() as conn:
        result = conn.execute(select(*(table.c[n] for n in names)).order_by(table.c["_row"]))
        return [dict(zip(names, r, strict=True)) for r in result]


def _col(report, name):
    return next(c for c in report.columns if c["name"] == name)


def test_bom_types_and_safe_names(engine):
    data = (
        "\ufeffE-mail,First Name,Amount,Joined,Monthly,Donor ID,Phone\n"
        "Ann+x@Example.org,Zoë,12.50,2021-03-04,yes,00042,+44 20 7946 0958\n"
        "bob@example.org,李,7,03/14/2021,No,00043,(555) 123-4567\n"
        "not-an-email,Ivan,1.25,4 Mar 2021,TRUE,00044,\n"
    ).encode()
    report = import_file(engine, data, name="d", filename="d.csv")
    assert report.encoding == "utf-8-sig"
    assert report.rows_imported == 3
    assert report.rows_refused == 0
    assert [c["name"] for c in report.columns] == [
        "e_mail", "first_name", "amount", "joined", "monthly", "donor_id", "phone",
    ]  # fmt: skip
    assert _col(report, "e_mail")["original"] == "E-mail"
    types = {c["name"]: c["type"] for c in report.columns}
    assert types == {
        "e_mail": "email",  # 1 of 3 invalid: an email header lowers the bar to half
        "first_name": "text",
        "amount": "decimal",
        "joined": "date",
        "monthly": "boolean",
        "donor_id": "text",  # leading zeros must survive
        "phone": "phone",
    }
    assert _col(report, "donor_id")["leading_zeros"] == 3
    assert _col(report, "first_name")["max_length"] == 4
    rows = _rows(engine, report)
    assert rows[0]["first_name"] == "Zoë"
    assert rows[1]["first_name"] == "李"
    assert rows[0]["donor_id"] == "00042"
    assert rows[2]["phone"] is None


def test_bad_examples_are_reported(engine):
    lines = ["email"] + [f"user{i}@example.org" for i in range(30)] + ["broken@", "x y@z.org"]
    report = import_file(engine, "\n".join(lines).encode(), name="e", filename="e.csv")
    email = _col(report, "email")
    assert email["type"] == "email"
    assert set(email["bad_examples"]) == {"broken@", "x y@z.org"}
    assert email["bad_count"] == 2


def test_semicolon_delimiter_and_quoted_newlines(engine):
    data = b'name;note;city\nAnn;"line one\nline two; still note";Paris\nBob;plain;"Cork"\n'
    report = import_file(engine, data, name="s", filename="s.csv")
    assert report.delimiter == ";"
    assert report.rows_imported == 2
    assert _rows(engine, report)[0]["note"] == "line one\nline two; still note"


def test_tab_delimiter(engine):
    report = import_file(engine, b"a\tb\n1\t2\n3\t4\n", name="t", filename="t.tsv")
    assert report.delimiter == "\t"
    assert [c["type"] for c in report.columns] == ["integer", "integer"]


def test_ragged_rows_refused_with_line_numbers(engine):
    data = b'a,b,c\n1,2,3\n4,5\n"multi\nline",8,9\n10,11,12,13\n14,15,16,,\n'
    report = import_file(engine, data, name="r", filename="r.csv")
    assert report.rows_imported == 3  # trailing empty cells (14,15,16,,) are fine
    assert report.rows_refused == 2
    assert [p["line"] for p in report.problems] == [3, 6]
    assert "expected 3 values" in report.problems[0]["problem"]
    assert report.problem_counts == {"column_count": 2}
    with Session(engine) as session:
        assert session.get(DataSet, report.dataset_id).problems == report.problems
    assert "refused 2 rows" in report.summary()


def test_cp1252_file(engine):
    data = "name,city\nJosé,Montréal\nFrançois,Zürich\n“Quote”,x\n".encode("cp1252")
    report = import_file(engine, data, name="w", filename="w.csv")
    assert report.encoding == "cp1252"
    assert [r["name"] for r in _rows(engine, report)] == ["José", "François", "“Quote”"]


def test_latin1_fallback_for_bytes_cp1252_lacks(engine):
    data = b"name\nA\x81b\nJos\xe9\n"  # 0x81 is undefined in cp1252
    report = import_file(engine, data, name="l", filename="l.csv")
    assert report.encoding == "latin-1"
    assert report.rows_imported == 2


def test_stray_bytes_in_utf8_file_are_refused_with_line(engine):
    good = "name\n" + "".join(f"Zoë {i}\n" for i in range(10))
    data = good.encode() + b"Bad \x93quote\x94\n" + "Last é\n".encode()
    report = import_file(engine, data, name="u", filename="u.csv")
    assert report.encoding == "utf-8"
    assert report.rows_imported == 11
    assert report.rows_refused == 1
    assert report.problems[0]["line"] == 12
    assert "0x93" in report.problems[0]["problem"]
    assert report.problems[0]["kind"] == "undecodable"


def test_nul_bytes_refused(engine):
    data = b"a,b\n1,2\n3,\x004\n5,6\n"
    report = import_file(engine, data, name="n", filename="n.csv")
    assert report.rows_imported == 2
    assert report.problems == [
        {"line": 3, "kind": "nul_bytes", "problem": report.problems[0]["problem"]}
    ]
    assert "NUL" in report.problems[0]["problem"]


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "empty"),
        (b"  \n\n", "empty"),
        (b"email,name\n", "no data rows"),
        (b"%PDF-1.7 binary", "PDF"),
        (b"\x00\x01\x02\x03" * 100, "binary"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "xls"),
    ],
    ids=["empty", "blank", "header-only", "pdf", "binary", "old-xls"],
)
def test_unusable_files_raise_dataset_error_and_leave_nothing(engine, data, match):
    with pytest.raises(DataSetError, match=match):
        import_file(engine, data, name="x", filename="x.csv")
    with Session(engine) as session:
        assert session.get(DataSet, 1) is None


def test_duplicate_and_blank_headers_are_renamed_with_notes(engine):
    report = import_file(engine, b"Email,email,,Name\n1,2,3,4\n", name="h", filename="h.csv")
    assert [c["name"] for c in report.columns] == ["email", "email_2", "column_3", "name"]
    assert any("Two columns are called" in n for n in report.notes)
    assert any("no name" in n for n in report.notes)


def test_name_taken(engine):
    import_file(engine, b"a\n1\n", name="same", filename="a.csv")
    with pytest.raises(DataSetError, match="exists already"):
        import_file(engine, b"a\n1\n", name="same", filename="a.csv")


def test_ten_megabyte_cell(engine):
    big = "x" * (10 * 1024 * 1024)
    data = f'id,blob\n1,"{big}"\n2,small\n'.encode()
    report = import_file(engine, io.BytesIO(data), name="big", filename="big.csv")
    assert report.rows_imported == 2
    assert _col(report, "blob")["max_length"] == len(big)
    assert _rows(engine, report)[0]["blob"] == big


def test_formula_cells_are_text(engine):
    data = b'amount,note\n=1+1,=HYPERLINK("x")\n-5,@SUM(A1)\n+3,+cmd\n'
    report = import_file(engine, data, name="f", filename="f.csv")
    rows = _rows(engine, report)
    assert rows[0] == {"amount": "=1+1", "note": '=HYPERLINK("x")'}
    assert _col(report, "note")["formulas"] == 3
    assert any("formulas" in n for n in report.notes)


def test_headerless_file_gets_numbered_columns(engine):
    data = b"a@x.org,12,2021-01-01\nb@x.org,13,2021-02-01\n"
    report = import_file(engine, data, name="nh", filename="nh.csv")
    assert report.has_header is False
    assert [c["name"] for c in report.columns] == ["column_1", "column_2", "column_3"]
    assert report.rows_imported == 2


def test_progress_is_reported(engine, monkeypatch):
    monkeypatch.setattr("store.importer.BATCH_ROWS", 10)
    seen: list[ImportProgress] = []
    data = ("n\n" + "".join(f"{i}\n" for i in range(35))).encode()
    import_file(engine, data, name="p", filename="p.csv", on_progress=seen.append)
    assert [p.rows_imported for p in seen] == [10, 20, 30, 35]
    assert seen[-1].bytes_total == len(data)


def test_types_change_after_first_batch(engine, monkeypatch):
    """Regression: companions predicted from the first batch must be fixed at the end."""
    monkeypatch.setattr("store.importer.BATCH_ROWS", 5)
    dates = ["01/02/2020"] * 5 + ["25/12/2020"] * 60  # day-first only shows up later
    nums = ["x"] * 5 + [str(i) for i in range(60)]  # text at first, numbers later
    lines = ["d,n"] + [f"{d},{n}" for d, n in zip(dates, nums, strict=True)]
    report = import_file(engine, "\n".join(lines).encode(), name="c", filename="c.csv")
    assert _col(report, "d")["dayfirst"] is True
    assert _col(report, "n")["type"] == "integer"
    from store.audience_rows import count_matching

    with Session(engine) as session:
        ds = session.get(DataSet, report.dataset_id)
    assert count_matching(engine, ds, [{"column": "d", "op": "before", "value": "2020-03-01"}]) == 5
    assert count_matching(engine, ds, [{"column": "n", "op": "greater_than", "value": "9"}]) == 50


def test_xlsx_import(engine, tmp_path):
    from datetime import date, datetime

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Email", "Amount", "Joined", "Active", "Formula", "Id"])
    ws.append(["a@x.org", 12.5, date(2021, 3, 4), True, "=SUM(B2:B3)", "007"])
    ws.append(["b@x.org", 7, datetime(2022, 1, 2, 10, 30), False, None, "008"])
    ws.append([None, None, None, None, None, None])
    wb.create_sheet("Other")
    path = tmp_path / "book.xlsx"
    wb.save(path)
    report = import_file(engine, path, name="x", filename="book.xlsx")
    assert report.file_kind == "xlsx"
    assert report.rows_imported == 2
    assert report.blank_lines == 1
    rows = _rows(engine, report)
    assert rows[0] == {
        "email": "a@x.org", "amount": "12.5", "joined": "2021-03-04", "active": "true",
        "formula": "=SUM(B2:B3)", "id": "007",
    }  # fmt: skip
    assert rows[1]["joined"] == "2022-01-02T10:30:00"
    assert rows[1]["amount"] == "7"
    assert any("2 sheets" in n for n in report.notes)


def test_broken_xlsx(engine):
    with pytest.raises(DataSetError, match="xlsx"):
        import_file(engine, b"PK\x03\x04garbage", name="b", filename="b.xlsx")
