"""The product's field-type table (`store.fieldtypes`) through the engine's door (`sync.values`).

One table per field type: what SFMC refuses (error type and message), what it stores, what the
push sends for a source value, and how the importer recognises the type.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

import pytest

from sfmc.fieldrules import CODES, check_schema
from sfmc.types import FIELD_TYPES, DeField
from store import fieldtypes
from store.fieldvalues import BOOLEAN_WORDS, DECIMAL_TEXT, SFMC_BOOLEAN_WORDS
from store.inference import FALSE_WORDS, TRUE_WORDS, ColumnStats
from sync.mapping import convert_value
from sync.values import canonical, check_value, key_part, schema_problems, shape_of

TEXT = DeField("Name", "Text", max_length=5)
PK = DeField("Key", "Text", max_length=10, is_primary_key=True, is_required=True)
NUM = DeField("N", "Number")
DEC = DeField("D", "Decimal", precision=5, scale=2)
DATE = DeField("When", "Date")
BOOL = DeField("Ok", "Boolean")
EMAIL = DeField("Email", "EmailAddress")
PHONE = DeField("Phone", "Phone")
LOCALE = DeField("Lang", "Locale")
OTHER = DeField("Blob", "Base16Encrypted")

# (field, value, error type, message after "The value for column [name] ")
REFUSED = [
    (TEXT, "abcdef", "MaxLengthExceeded", "exceeds the column's maximum length."),
    (TEXT, float("nan"), "UnexpectedError", "is not a valid value."),
    (NUM, "1.5", "InvalidNumber", "is not a valid number."),
    (NUM, 2**31, "InvalidNumber", "is not a valid number."),
    (NUM, -(2**31) - 1, "InvalidNumber", "is not a valid number."),
    (NUM, True, "InvalidNumber", "is not a valid number."),
    (NUM, "12x", "InvalidNumber", "is not a valid number."),
    (DEC, "abc", "InvalidDecimal", "is not a valid decimal."),
    (DEC, "1e3", "InvalidDecimal", "is not a valid decimal."),
    (
        DEC,
        "1234.5",
        "InvalidDecimal",
        "is not a valid decimal. It allows at most 3 digits before the decimal point.",
    ),
    (DATE, "31/12/2024", "InvalidDate", "is not a valid date."),
    (DATE, "1600-01-01", "InvalidDate", "is not a valid date."),
    (DATE, "2024-02-30", "InvalidDate", "is not a valid date."),
    (BOOL, "maybe", "InvalidBoolean", "is not a valid boolean."),
    (BOOL, "t", "InvalidBoolean", "is not a valid boolean."),
    (BOOL, 2, "InvalidBoolean", "is not a valid boolean."),
    (
        EMAIL,
        "not-an-email",
        "InvalidEmailAddress",
        "is not a valid email address. Parse error [InvalidEmailAddress]",
    ),
    (EMAIL, "a@b", "InvalidEmailAddress", None),
    (
        PHONE,
        "call me",
        "InvalidPhone",
        "is not a valid phone number. Parse error [ExactTarget.Core.Validation.ValidationResult[]]",
    ),
    (PHONE, "12", "InvalidPhone", None),
    (LOCALE, "en_us", "UnexpectedError", "is not a valid locale."),
    (LOCALE, "en-USA", "MaxLengthExceeded", None),
]


@pytest.mark.parametrize(("field", "value", "error_type", "message"), REFUSED)
def test_check_value_refuses_like_sfmc(field, value, error_type, message):
    violation = check_value(field, value)
    assert violation is not None
    assert (violation.field, violation.error_type) == (field.name, error_type)
    assert error_type in CODES
    if message is not None:
        assert violation.message == f"The value for column [{field.name}] {message}"
    assert violation.rowset_message == f"{field.name}: {violation.message}"


@pytest.mark.parametrize("value", [None, ""])
def test_blank_values_need_a_value_only_on_keys_and_required_fields(value):
    assert check_value(TEXT, value) is None
    violation = check_value(PK, value)
    assert violation is not None
    assert violation.error_type == "NullValue"
    assert violation.message == "Column [Key] does not allow null value."
    defaulted = DeField("R", "Number", is_required=True, default_value="0")
    assert check_value(defaulted, value) is None


# (field, value, what SFMC stores)
STORED = [
    (TEXT, "abcde", "abcde"),
    (TEXT, None, None),
    (TEXT, 12.0, "12"),
    (TEXT, True, "True"),
    (NUM, " 0042 ", "42"),
    (NUM, "+7", "7"),
    (NUM, 7, "7"),
    (DEC, "123.456", "123.46"),
    (DEC, "-0.005", "-0.01"),
    (DEC, 1, "1.00"),
    (DEC, Decimal("2.5"), "2.50"),
    (DATE, "2024-05-23T14:32:00Z", "5/23/2024 2:32:00 PM"),
    (DATE, "01/02/2011 16:00:00", "1/2/2011 4:00:00 PM"),
    (DATE, "5/23/2024 2:32 PM", "5/23/2024 2:32:00 PM"),
    (DATE, "2024-05-23", "5/23/2024 12:00:00 AM"),
    (DATE, date(2024, 5, 23), "5/23/2024 12:00:00 AM"),
    (BOOL, True, "True"),
    (BOOL, "0", "False"),
    (BOOL, " Yes ", "True"),
    (BOOL, "N", "False"),
    (EMAIL, "Ann.Lee+tag@Example.org", "Ann.Lee+tag@Example.org"),
    (PHONE, "+1 (555) 010-9999", "+1 (555) 010-9999"),
    (LOCALE, "en-US", "en-US"),
    (OTHER, "x" * 5000, "x" * 5000),
]


@pytest.mark.parametrize(("field", "value", "stored"), STORED)
def test_accepts_and_canonicalises(field, value, stored):
    assert check_value(field, value) is None
    assert canonical(field, value) == stored


def test_canonical_refuses_invalid_value():
    with pytest.raises(ValueError, match="check_value"):
        canonical(NUM, "x")


def test_key_part_is_case_insensitive():
    assert key_part(PK, "ABC") == key_part(PK, "abc") == "abc"


# (field type, source value, what the push sends)
SENT = [
    ("Text", None, ""),
    ("Text", 3.0, "3"),
    ("Text", False, "false"),
    ("Text", date(2024, 5, 23), "2024-05-23"),
    ("Locale", "en-US", "en-US"),
    ("Phone", 5550101, "5550101"),
    ("EmailAddress", " a@b.org ", "a@b.org"),
    ("EmailAddress", None, ""),
    ("Number", "12", "12"),
    ("Number", " 12 ", "12"),
    ("Number", "7.0", "7"),
    ("Number", 7.0, "7"),
    ("Number", "12x", "12x"),
    ("Number", True, True),
    ("Decimal", "1,234.50", "1234.50"),
    ("Decimal", 12.5, "12.5"),
    ("Decimal", "abc", "abc"),
    ("Date", "05/23/2024", "2024-05-23T00:00:00"),
    ("Date", "2024-05-23T14:32:00.5", "2024-05-23T14:32:00"),
    ("Date", datetime(2024, 5, 23, 14, 32, 7, 9), "2024-05-23T14:32:07"),
    ("Date", "  ", ""),
    ("Date", "not a date", "not a date"),
    ("Boolean", "T", "true"),
    ("Boolean", " no ", "false"),
    ("Boolean", 0, "false"),
    ("Boolean", "", ""),
    ("Boolean", "maybe", "maybe"),
]


@pytest.mark.parametrize(("field_type", "value", "sent"), SENT)
def test_convert_sends_what_sfmc_reads(field_type, value, sent):
    assert convert_value(field_type, value) == sent


@pytest.mark.parametrize("word", sorted(BOOLEAN_WORDS))
def test_every_boolean_word_is_sent_as_a_value_sfmc_accepts(word):
    for spelling in (word, word.upper(), f" {word.title()} "):
        sent = convert_value("Boolean", spelling)
        assert sent == ("true" if BOOLEAN_WORDS[word] else "false")
        assert check_value(BOOL, sent) is None


def test_one_set_of_words_for_sfmc_the_push_and_the_importer():
    assert set(SFMC_BOOLEAN_WORDS) < set(BOOLEAN_WORDS)
    assert TRUE_WORDS | FALSE_WORDS == set(BOOLEAN_WORDS)
    stats = ColumnStats()
    for word in BOOLEAN_WORDS:
        if not word.isdigit():
            stats.add(word.upper())
    assert stats.describe("flag", "Flag")["type"] == "boolean"


def test_the_table_has_one_entry_per_sfmc_field_type():
    assert tuple(fieldtypes.TYPES) == FIELD_TYPES
    inferred = {t.column_type for t in fieldtypes.TYPES.values()} - {None}
    assert inferred == {"text", "integer", "decimal", "date", "boolean", "email", "phone"}


@pytest.mark.parametrize("field", [TEXT, PK, NUM, DEC, DATE, BOOL, EMAIL, PHONE, LOCALE, OTHER])
def test_fast_test_is_only_ever_sure_of_valid_values(field):
    sure = fieldtypes.sure_check(shape_of(field))
    samples = [
        *(value for _, value, _, _ in REFUSED),
        *(value for _, value, _ in STORED),
        *(sent for _, _, sent in SENT),
        "",
        " ",
        "0",
        "123456789",
        "1234567890",
        "-5",
        "007.50",
        ".5",
        "2024-05-23T14:32:00",
    ]
    if sure is None:
        assert field is OTHER
        return
    for value in samples:
        if sure(value):
            assert check_value(field, value) is None, value


def test_decimal_syntax_is_one_pattern():
    whole = re.compile(DECIMAL_TEXT).fullmatch
    for text in ("1", "-1.", "+.5", "0012.50"):
        assert whole(text)
        assert check_value(DeField("D", "Decimal", precision=18, scale=2), text) is None
    for text in ("1e3", ".", "1.2.3", "", "+-1"):
        assert not whole(text)


def test_default_values_must_fit_their_type():
    ok = [
        DeField("B", "Boolean", default_value="False"),
        DeField("W", "Date", default_value="Now()"),
    ]
    assert schema_problems(ok) == []
    bad = [DeField("N", "Number", default_value="x")]
    assert schema_problems(bad) == [
        "Default value 'x' of field 'N' does not fit its type Number; fix or remove the default."
    ]
    assert check_schema(bad) == []  # the client alone has no value rules
