"""Type inference of imports: the awkward file's findings (issue 16) and the batch classifier."""

from __future__ import annotations

from store import inference
from store.demo import donor_rows
from store.importer import import_file
from store.inference import _classify_for_stats, _classify_many
from store.reports import spreadsheet_cell

AWKWARD = (
    "Email,Joined,Phone,Note\n"
    "ann@example.org,15.03.2024,+15280502514,=1+1\n"
    "  spaced@example.org  ,01.02.2024,(555) 123-4567,-5 off\n"
    "not-an-email,28.02.2024,+44 20 7946 0958,@home\n"
    "bob@example.org,03.04.2024,,plain\n"
)


def _col(report, name):
    return next(c for c in report.columns if c["name"] == name)


def test_email_looking_column_is_email_despite_bad_and_spaced_values(engine):
    report = import_file(engine, AWKWARD.encode(), name="a", filename="a.csv")
    email = _col(report, "email")
    assert email["type"] == "email"
    assert email["bad_examples"] == ["not-an-email"]
    assert email["padded"] == 1


def test_dotted_dates_are_read_day_first_and_the_note_says_so(engine):
    report = import_file(engine, AWKWARD.encode(), name="a", filename="a.csv")
    joined = _col(report, "joined")
    assert joined["type"] == "date"
    assert joined["dayfirst"] is True
    assert joined["bad_count"] == 0
    assert "'Joined': numeric dates are read day-first (15.03.2024 is 15 March 2024)." in (
        report.notes
    )


def test_dates_the_chosen_order_cannot_read_are_counted_and_named(engine):
    data = b"d\n15/03/2024\n20/01/2024\n12/25/2023\n2024-01-01\n"
    report = import_file(engine, data, name="m", filename="m.csv")
    d = _col(report, "d")
    assert d["dayfirst"] is True
    assert d["bad_count"] == 1
    assert d["bad_examples"][0] == "12/25/2023"
    assert "1 of them only make sense month-first (for example 12/25/2023)" in d["note"]


def test_formula_count_is_the_number_of_cells_downloads_escape(engine):
    report = import_file(engine, AWKWARD.encode(), name="a", filename="a.csv")
    cells = [v for line in AWKWARD.splitlines()[1:] for v in line.split(",")]
    escaped = sum(spreadsheet_cell(v) != v for v in cells)
    assert escaped == 5  # 2 phones starting with +, and = - @ in the notes
    assert sum(c.get("formulas", 0) for c in report.columns) == escaped
    assert any(n.startswith(f"{escaped} cells start with") for n in report.notes)


def test_batch_classifier_agrees_with_one_value_at_a_time():
    values = {v for row in donor_rows(3_000) for v in row if v}
    values |= {
        " 42 ", "\t1", "TRUE ", "15.03.2024", "31/02/2020", "+1 555", "555-123-4567",
        "1 Jan 2020", "Jan 5th, 2020", "١٢٣", "12345678901234567890", "0012", "-0",
        "(555) 123-4567 ext 5", "+4420794609581234567", "line\nbreak",
    }  # fmt: skip
    ordered = sorted(values)
    assert _classify_many(ordered) == [_classify_for_stats(v) for v in ordered]


def test_values_of_one_shape_are_classified_each_as_itself():
    """Values are matched by shape (digits 1-9 alike, letters alike beside an "@"): values
    that share a shape but differ where the expressions look closer must still differ."""
    values = [
        "0", "1", "9", "01", "10", "-0", "-05", "00.5", "0.5", "9.9", "123456789012345678",
        "1234567890123456789", "12/31/2021", "31/12/2021", "13/13/2021", "29/02/2021",
        "29/02/2024", "99/99/9999", "2021-02-29", "2024-02-29", "1 Jan 2020", "1 Jab 2020",
        "Mar 3rd, 2021", "Max 3rd, 2021", "+1 555 123 4567", "+9 555 123 4567", "+0 1",
        "yes", "yez", "T", "Q", "a@b.co", "a@b.c0", "z@9.io", "Z@Q.IO", "a1@b2.cd",
        "1@2.34", "x@y", "é@b.co", "٣", "١٢٣", "3 ", " 3", "12:30", "2021-01-01T12:30:00Z",
        "2021-01-01T25:30:00Z",
    ]  # fmt: skip
    expected = [_classify_for_stats(v) for v in values]
    assert _classify_many(values) == expected
    assert _classify_many(values[::-1]) == expected[::-1]  # shapes now known from the first
    undecodable = [*values, "caf\udce9"]  # a lone surrogate: the values are matched as they are
    assert _classify_many(undecodable) == [*expected, ("text", 0)]


def test_long_values_are_classified_but_their_shapes_not_remembered():
    """Shapes are remembered for the whole process: long ones would make that cache large."""
    long_values = [f"{'x' * 300} {i}@example.org" for i in range(50)] + ["1" * 300]
    assert _classify_many(long_values) == [_classify_for_stats(v) for v in long_values]
    assert all(len(shape) <= inference._SHAPE_BYTES for shape in inference._shape_groups)
