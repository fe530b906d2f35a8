"""Mapping tables, their problems and schema drift (pure functions)."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from sfmc.types import DeField
from ui import mapping as umap


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
        for r in umap.drift_rows(["email", "amount", "city"], mapping, live, checked=True)
    }
    assert rows["city"]["In mapping"] == "no"
    assert "lost this column" in rows["gone → Gone"]["What to do"]
    assert "Type differs" in rows["amount → Amount"]["What to do"]
    assert rows["Legacy"]["In Data Extension"] == "yes"


def test_drift_rows_unchecked_say_so():
    mapping = [SimpleNamespace(source_column="email", destination_field="Email", field_type="Text")]
    (row,) = umap.drift_rows(["email"], mapping, {}, checked=False)
    assert row["In Data Extension"] == "not checked"
    assert row["What to do"] == ""


def test_mapping_problems_catch_missing_and_duplicate_keys():
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
    rows = umap.frame_to_mapping(frame, ["email"])
    assert rows[0]["is_primary_key"]
    assert rows[0]["required"]
    problems = umap.mapping_problems(rows, ["email", "donor_id"])
    assert any("donor_id" in p for p in problems)
    assert any("Two columns map" in p for p in problems)
    assert umap.mapping_problems(rows[:1], []) == [
        "Choose at least one primary key column (Email is usual)."
    ]


def test_frame_to_mapping_gives_decimals_a_precision_and_drops_blank_rows():
    frame = pd.DataFrame(
        [
            {"Source column": "amount", "Destination field": "Amount", "Type": "Decimal"},
            {"Source column": " ", "Destination field": "Blank", "Type": "Text"},
            {"Source column": "city", "Destination field": "City", "Type": None, "Length": 40},
        ]
    )
    amount, city = umap.frame_to_mapping(frame, [])
    assert (amount["precision"], amount["scale"], amount["length"]) == (18, 2, None)
    assert (city["field_type"], city["length"], city["precision"]) == ("Text", 40, None)
    assert city["ordinal"] == 2  # the editor's row number, blank rows included


def test_mapping_frame_round_trips():
    rows = [
        SimpleNamespace(
            source_column="email",
            destination_field="Email",
            field_type="EmailAddress",
            length=254,
            required=True,
        )
    ]
    frame = umap.mapping_frame(rows)
    assert list(frame.columns) == umap.MAPPING_COLUMNS
    (row,) = umap.frame_to_mapping(frame, ["email"])
    assert (row["destination_field"], row["length"], row["is_primary_key"]) == ("Email", 254, True)
    assert umap.mapping_frame([]).empty
