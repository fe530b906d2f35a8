"""Pure parts of the engine: mapping suggestion, value conversion, keys, preflight."""

from __future__ import annotations

from datetime import date, datetime

from sfmc.types import DeField
from store import fieldtypes
from sync.mapping import (
    FieldMap,
    RowConverter,
    convert_value,
    de_key_for,
    de_name_for,
    key_string,
    row_hash,
    suggest_mapping,
    title_case,
)
from sync.preflight import Preflight
from sync.values import check_value, shape_of

COLUMNS = [
    {"name": "email", "original": "Email", "type": "email", "max_length": 40},
    {"name": "first_name", "original": "first_name", "type": "text", "max_length": 12},
    {"name": "bio", "original": "Bio", "type": "text", "max_length": 900},
    {"name": "gifts", "original": "Gifts", "type": "integer", "max_length": 3},
    {"name": "big_id", "original": "Big ID", "type": "integer", "max_length": 12},
    {"name": "total", "original": "Total", "type": "decimal", "max_length": 8},
    {"name": "joined", "original": "Joined", "type": "date", "max_length": 10},
    {"name": "opted", "original": "Opted", "type": "boolean", "max_length": 5},
    {"name": "phone", "original": "Phone", "type": "phone", "max_length": 14},
]


def test_suggest_mapping_types_lengths_and_email_primary_key():
    mapping = {m.source_column: m for m in suggest_mapping(COLUMNS, title_case_names=True)}
    assert mapping["email"].field_type == "EmailAddress"
    assert mapping["email"].is_primary_key
    assert mapping["email"].required
    assert mapping["first_name"].destination_field == "First Name"
    assert (mapping["first_name"].field_type, mapping["first_name"].length) == ("Text", 255)
    assert mapping["bio"].length == 1000
    assert mapping["gifts"].field_type == "Number"
    assert (mapping["big_id"].field_type, mapping["big_id"].scale) == ("Decimal", 0)
    assert (mapping["total"].precision, mapping["total"].scale) == (18, 2)
    assert mapping["joined"].field_type == "Date"
    assert mapping["opted"].field_type == "Boolean"
    assert mapping["phone"].field_type == "Phone"
    assert sum(m.is_primary_key for m in mapping.values()) == 1


def test_names_and_keys_templates():
    assert title_case("first_name") == "First Name"
    assert de_name_for("Lapsed donors") == "Pathways - Lapsed donors"
    key = de_key_for("a" * 30, 12345)
    assert len(key) == 36
    assert key.startswith("pathways_aaaa")
    assert key.endswith("_segment_12345")  # the audience id survives a long client id
    assert de_key_for("a" * 30, 12345) != de_key_for("a" * 30, 12346)
    assert de_key_for("abc", 7) == "pathways_abc_segment_7"
    assert de_name_for("X", "Team - {audience}") == "Team - X"


def test_convert_values_to_sfmc_forms():
    assert convert_value("Date", date(2024, 5, 23)) == "2024-05-23T00:00:00"
    assert convert_value("Date", datetime(2024, 5, 23, 14, 32)) == "2024-05-23T14:32:00"
    assert convert_value("Date", "05/23/2024") == "2024-05-23T00:00:00"
    assert convert_value("Date", "not a date") == "not a date"
    assert convert_value("Boolean", True) == "true"
    assert convert_value("Boolean", "No") == "false"
    assert convert_value("Boolean", 1) == "true"
    assert convert_value("Number", 7.0) == "7"
    assert convert_value("Decimal", 12.5) == "12.5"
    assert convert_value("Text", None) == ""
    assert convert_value("EmailAddress", " a@b.org ") == "a@b.org"


def test_converter_hash_and_case_insensitive_key():
    mapping = [
        FieldMap("email", "Email", "EmailAddress", is_primary_key=True, required=True),
        FieldMap("n", "N", "Number"),
    ]
    conv = RowConverter(mapping)
    a = conv({"email": "Ann@Example.org", "n": 3, "_row": 1})
    b = conv({"email": "ann@example.org", "n": 3, "_row": 2})
    assert a == {"Email": "Ann@Example.org", "N": "3"}
    key_fields = [m.to_de_field() for m in mapping if m.is_primary_key]
    assert key_string(a, key_fields) == key_string(b, key_fields)
    assert row_hash(a, conv.field_names) != row_hash(b, conv.field_names)
    assert row_hash(a, conv.field_names) == row_hash(dict(a), conv.field_names)


def test_preflight_rejects_like_sfmc_and_catches_duplicate_keys():
    fields = [
        DeField("Email", "EmailAddress", 254, is_primary_key=True, is_required=True),
        DeField("Name", "Text", 5),
        DeField("Score", "Number"),
        DeField("Amount", "Decimal", precision=5, scale=2),
        DeField("Joined", "Date"),
        DeField("Opted", "Boolean"),
    ]
    pf = Preflight(fields, ["Email"])
    ok = {
        "Email": "a@x.org",
        "Name": "Ann",
        "Score": "3",
        "Amount": "12.5",
        "Joined": "",
        "Opted": "true",
    }
    assert pf.check(ok) is None
    dup = pf.check({**ok, "Email": "A@X.ORG"})
    assert dup is not None
    assert dup.error_type == "DuplicateKey"
    cases = {
        "Name": ("toolongname", "MaxLengthExceeded"),
        "Score": ("3000000000", "InvalidNumber"),
        "Amount": ("12345.1", "InvalidDecimal"),
        "Joined": ("31/31/2020", "InvalidDate"),
        "Opted": ("maybe", "InvalidBoolean"),
        "Email": ("not-an-email", "InvalidEmailAddress"),
    }
    for i, (name, (value, expected)) in enumerate(cases.items()):
        row = {**ok, "Email": f"u{i}@x.org", name: value}
        outcome = pf.check(row)
        assert outcome is not None, name
        assert (outcome.error_type, outcome.field) == (expected, name)
        assert outcome.error_details
        assert name in outcome.error_details
    missing = pf.check({**ok, "Email": ""})
    assert missing is not None
    assert missing.error_type == "NullValue"


def test_preflight_fast_path_never_accepts_what_sfmc_refuses():
    """The per-field fast tests are an optimisation: they must agree with check_value."""
    fields = [
        DeField("Email", "EmailAddress", 30),
        DeField("Name", "Text", 5, is_required=True),
        DeField("Score", "Number"),
        DeField("Amount", "Decimal", precision=6, scale=2),
        DeField("Joined", "Date"),
        DeField("Opted", "Boolean", is_required=True),
        DeField("Phone", "Phone"),
        DeField("Lang", "Locale"),
    ]
    samples = [
        "",
        " ",
        "a",
        "abcde",
        "abcdef",
        "a@b.co",
        "A.B+c@ex-ample.org",
        "a@b",
        "x" * 40 + "@b.org",
        "0",
        "-12",
        "+7",
        "2147483647",
        "2147483648",
        "99999999999",
        "1.5",
        "0012.50",
        "1234.5",
        "12345.1",
        ".5",
        "1e3",
        "true",
        "false",
        "True",
        "2024-05-23T14:32:00",
        "2024-02-30T00:00:00",
        "1700-01-01T00:00:00",
        "+1 555 123 4567",
        "555",
        "en-US",
        "en_us",
        None,
        12,
        3.5,
        True,
    ]
    sure = {f.name: fieldtypes.sure_check(shape_of(f)) for f in fields}
    base = {
        "Email": "",
        "Name": "abc",
        "Score": "",
        "Amount": "",
        "Joined": "",
        "Opted": "true",
        "Phone": "",
        "Lang": "",
    }
    assert all(sure[name](value) for name, value in base.items())
    for field in fields:
        for value in samples:
            if sure[field.name](value):
                assert check_value(field, value) is None, (field.name, value)
