"""Rejected rows in words: CSV filters and counts (pure functions)."""

from __future__ import annotations

from ui import rejects

CSV = (
    "\ufeffemail,validationErrorType,validationErrorDetails,field,retryable\r\n"
    "a@x.org,NotFound,No row,email,false\r\n"
    "'=cmd,InvalidEmailAddress,bad,email,false\r\n"
    "c@x.org,NotFound,No row,email,false\r\n"
).encode()


def test_unmatched_rows_are_the_not_found_rows():
    out = rejects.csv_rows_of_type(CSV, "NotFound").decode("utf-8-sig").splitlines()
    assert out[0].startswith("email,validationErrorType")
    assert [line.split(",")[0] for line in out[1:]] == ["a@x.org", "c@x.org"]


def test_error_type_counts_and_help_say_what_to_fix():
    counts = rejects.error_type_counts(CSV)
    assert counts == {"NotFound": 2, "InvalidEmailAddress": 1}
    lines = rejects.rejected_help(counts)
    assert lines[0].startswith("**2 × NotFound**")
    assert "email" in lines[1]


def test_plan_counts_name_unknown_types():
    counts = rejects.plan_type_counts([{"error_type": "NullValue"}, {}, {"error_type": None}])
    assert counts == {"NullValue": 1, "Unknown": 2}
    assert rejects.rejected_help({"Odd": 1}) == [
        "**1 × Odd**: the value was refused by Marketing Cloud."
    ]
