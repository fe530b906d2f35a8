"""Pure helpers of the UI layer (no AppTest needed)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pages import _widgets as ui
from pages import _wizard as wiz
from sfmc.errors import SfmcAuthError, SfmcConfigError
from sfmc.types import DeField

CSV = (
    "\ufeffemail,validationErrorType,validationErrorDetails,field,retryable\r\n"
    "a@x.org,NotFound,No row,email,false\r\n"
    "'=cmd,InvalidEmailAddress,bad,email,false\r\n"
    "c@x.org,NotFound,No row,email,false\r\n"
).encode()


def test_unmatched_rows_are_the_not_found_rows():
    out = ui.csv_rows_of_type(CSV, "NotFound").decode("utf-8-sig").splitlines()
    assert out[0].startswith("email,validationErrorType")
    assert [line.split(",")[0] for line in out[1:]] == ["a@x.org", "c@x.org"]


def test_error_type_counts_and_help_say_what_to_fix():
    counts = ui.error_type_counts(CSV)
    assert counts == {"NotFound": 2, "InvalidEmailAddress": 1}
    lines = ui.rejected_help(counts)
    assert lines[0].startswith("**2 × NotFound**")
    assert "email" in lines[1]


@pytest.mark.parametrize(
    ("exc", "needle"),
    [
        (SfmcAuthError("invalid_client"), "https://"),
        (SfmcAuthError("Insufficient privileges: missing scope"), "Installed Packages"),
        (SfmcConfigError("Category 123 does not exist"), "Pick a"),
        (SfmcConfigError("Auth Base URI must use https"), "Connections page"),
    ],
)
def test_error_help_gives_the_fix(exc, needle):
    assert needle in ui.error_help(exc)


def test_drift_rows_flag_each_side():
    mapping = [
        SimpleNamespace(
            source_column="email", destination_field="Email", field_type="EmailAddress"
        ),
        SimpleNamespace(source_column="gone", destination_field="Gone", field_type="Text"),
        SimpleNamespace(source_column="amount", destination_field="Amount", field_type="Decimal"),
    ]
    live = {
        "email": DeField("Email", "EmailAddress"),
        "amount": DeField("Amount", "Text"),
        "legacy": DeField("Legacy", "Text"),
    }
    rows = {
        r["Column / field"]: r
        for r in ui.drift_rows(["email", "amount", "city"], mapping, live, checked=True)
    }
    assert rows["city"]["In mapping"] == "no"
    assert "lost this column" in rows["gone → Gone"]["What to do"]
    assert "Type differs" in rows["amount → Amount"]["What to do"]
    assert rows["Legacy"]["In Data Extension"] == "yes"


def test_mapping_problems_catch_missing_and_duplicate_keys():
    import pandas as pd

    frame = pd.DataFrame(
        [
            {
                "Source column": "email",
                "Destination field": "Email",
                "Type": "EmailAddress",
                "Length": 254,
                "Required": False,
            },
            {
                "Source column": "first",
                "Destination field": "email",
                "Type": "Text",
                "Length": None,
                "Required": False,
            },
        ]
    )
    rows = wiz.frame_to_mapping(frame, ["email"])
    assert rows[0]["is_primary_key"]
    assert rows[0]["required"]
    problems = wiz.mapping_problems(rows, ["email", "donor_id"])
    assert any("donor_id" in p for p in problems)
    assert any("Two columns map" in p for p in problems)
    assert wiz.mapping_problems(rows[:1], []) == [
        "Choose at least one primary key column (Email is usual)."
    ]
