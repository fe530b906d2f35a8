from __future__ import annotations

import pytest

from simulator import fieldrules as fr
from simulator.fields import SimField
from simulator.schema_rules import check_field_change, check_schema

TEXT = SimField("Name", "Text", max_length=5)
PK = SimField("Key", "Text", max_length=10, is_primary_key=True, is_required=True)
NUM = SimField("N", "Number")
DEC = SimField("D", "Decimal", precision=5, scale=2)
DATE = SimField("When", "Date")
BOOL = SimField("Ok", "Boolean")
EMAIL = SimField("Email", "EmailAddress")
PHONE = SimField("Phone", "Phone")


@pytest.mark.parametrize(
    ("field", "value", "error_type"),
    [
        (TEXT, "abcdef", "MaxLengthExceeded"),
        (PK, None, "NullValue"),
        (PK, "", "NullValue"),
        (NUM, "1.5", "InvalidNumber"),
        (NUM, 2**31, "InvalidNumber"),
        (NUM, True, "InvalidNumber"),
        (DEC, "1234.5", "InvalidDecimal"),
        (DEC, "abc", "InvalidDecimal"),
        (DATE, "31/12/2024", "InvalidDate"),
        (DATE, "1600-01-01", "InvalidDate"),
        (BOOL, "maybe", "InvalidBoolean"),
        (EMAIL, "not-an-email", "InvalidEmailAddress"),
        (EMAIL, "a@b", "InvalidEmailAddress"),
        (PHONE, "call me", "InvalidPhone"),
        (PHONE, "12", "InvalidPhone"),
    ],
)
def test_check_value_rejects(field, value, error_type):
    violation = fr.check_value(field, value)
    assert violation is not None
    assert violation.error_type == error_type
    assert fr.ERROR_TYPES[violation.code] == error_type
    assert f"[{field.name}]" in violation.message
    assert violation.rowset_message.startswith(f"{field.name}: ")


@pytest.mark.parametrize(
    ("field", "value", "stored"),
    [
        (TEXT, "abcde", "abcde"),
        (TEXT, None, None),
        (NUM, " 0042 ", "42"),
        (NUM, 7, "7"),
        (DEC, "123.456", "123.46"),
        (DEC, 1, "1.00"),
        (DATE, "2024-05-23T14:32:00Z", "5/23/2024 2:32:00 PM"),
        (DATE, "01/02/2011 16:00:00", "1/2/2011 4:00:00 PM"),
        (DATE, "2024-05-23", "5/23/2024 12:00:00 AM"),
        (BOOL, True, "True"),
        (BOOL, "0", "False"),
        (EMAIL, "Ann.Lee+tag@Example.org", "Ann.Lee+tag@Example.org"),
        (PHONE, "+1 (555) 010-9999", "+1 (555) 010-9999"),
    ],
)
def test_accepts_and_canonicalises(field, value, stored):
    assert fr.check_value(field, value) is None
    assert fr.canonical(field, value) == stored


def test_canonical_refuses_invalid_value():
    with pytest.raises(ValueError, match="check_value"):
        fr.canonical(NUM, "x")


def test_key_part_is_case_insensitive():
    assert fr.key_part(PK, "ABC") == fr.key_part(PK, "abc")


def test_schema_rules():
    assert check_schema([PK, TEXT]) == []
    problems = check_schema(
        [
            SimField("Id", "Text", is_primary_key=True),
            SimField("id", "Text"),
            SimField("_x", "Text"),
            SimField("T", "Text", max_length=5000),
            SimField("D", "Decimal", precision=40),
            SimField("W", "Date", is_primary_key=True, is_required=True),
            SimField("Z", "Blob"),
        ]
    )
    joined = "\n".join(problems)
    for needle in (
        "must also be required",
        "used twice",
        "reserves",
        "1 to 4000",
        "precision 40",
        "Date primary",
        "unknown type",
    ):
        assert needle in joined
    assert check_schema([]) != []


def test_field_change_rules():
    assert check_field_change(None, SimField("New", "Text"), de_has_rows=True) is None
    assert "primary key" in check_field_change(None, PK, de_has_rows=True)
    assert check_field_change(None, PK, de_has_rows=False) is None
    req = SimField("R", "Text", is_required=True)
    assert "default" in check_field_change(None, req, de_has_rows=True)
    assert "type" in check_field_change(TEXT, SimField("Name", "Number"), de_has_rows=False)
    assert "shrink" in check_field_change(
        TEXT, SimField("Name", "Text", max_length=3), de_has_rows=False
    )
    assert (
        check_field_change(TEXT, SimField("Name", "Text", max_length=9), de_has_rows=True) is None
    )
    assert "required" in check_field_change(
        TEXT, SimField("Name", "Text", max_length=5, is_required=True), de_has_rows=False
    )
