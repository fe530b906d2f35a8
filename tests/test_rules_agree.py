"""The product's preflight and the simulator (the test oracle) judge one corpus of values alike.

Both sides are written from `shared/reference/sfmc-api.md` (§3, §4.2-§4.6) without sharing code.
For every field of `FIELDS` and every value of its corpus they must agree: accepted or refused,
the error type and message when refused, the stored string when accepted. A mismatch prints a
table of every disagreeing value. Where they disagree the reference decides which side is fixed
(the first run found ten product values that crashed or slipped a trailing newline through).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from sfmc.fieldrules import check_field_change as product_field_change
from sfmc.types import DeField
from simulator import fieldrules as sim_rules
from simulator.fields import FIELD_TYPES, SimField
from simulator.schema_rules import check_field_change as sim_field_change
from simulator.schema_rules import check_schema as sim_schema
from sync.preflight import Preflight
from sync.values import canonical as product_canonical
from sync.values import schema_problems as product_schema

# ------------------------------------------------------------------------------------------
# Product side: the three functions below are the only code that calls the product: its
# preflight `sync.preflight.Preflight`, its stored form `sync.values.canonical`, its field-list
# rules `sync.values.schema_problems` and `sfmc.fieldrules.check_field_change`, and its field
# type `sfmc.types.DeField`. Repoint them, and the imports above, when the product's rules move.


def product_verdict(spec: SimField, value: object) -> tuple:
    """The product's preflight on a one-field row, and its stored form when it accepts."""
    field = DeField(**asdict(spec))
    keys = [field.name] if field.is_primary_key else []
    refused = Preflight([field], keys).check({field.name: value})
    if refused is not None:
        return ("refused", refused.error_type, refused.error_details)
    return ("stored", product_canonical(field, value))


def product_schema_ok(specs: list[SimField]) -> bool:
    return not product_schema([DeField(**asdict(s)) for s in specs])


def product_change_ok(old: SimField | None, new: SimField, *, de_has_rows: bool) -> bool:
    before = None if old is None else DeField(**asdict(old))
    problem = product_field_change(before, DeField(**asdict(new)), de_has_rows=de_has_rows)
    return problem is None


# ------------------------------------------------------------------------------------------
# Simulator side.


def sim_verdict(field: SimField, value: object) -> tuple:
    violation = sim_rules.check_value(field, value)
    if violation is not None:
        return ("refused", violation.error_type, violation.message)
    return ("stored", sim_rules.canonical(field, value))


def outcome(judge: Any, field: SimField, value: object) -> tuple:
    try:
        return judge(field, value)
    except Exception as exc:  # a crash is a verdict too: it must show in the table
        return ("crashed", type(exc).__name__, str(exc)[:80])


# ------------------------------------------------------------------------------------------
# The corpus.

NAN, INF = float("nan"), float("inf")
# Every field meets these: blanks, whitespace, other JSON scalars, unicode, objects.
COMMON = [
    None, "", " ", "\t", "\u00a0", "abc", "ABC", "Zoë", "日本語", "a\n", "=1+1", 0, 1, -1, 2,
    True, False, 1.0, 1.5, -0.0, NAN, INF, -INF, Decimal("1.005"), {"a": 1}, [1],
    date(2024, 5, 1), datetime(2024, 5, 1, 13, 2, 3),
]  # fmt: skip
# The reference's own examples (§3a rowset and async bodies, §4.1, §4.2).
REFERENCE = [
    "a@example.com", "b@example.com", "Ann", "Bob", 3, "2024-05-23T14:32:00Z",
    "2024-05-24T09:00:00Z", "2013-05-23T14:32:00Z", "01/02/2011 16:00:00", "123.45", "en-US",
    "001", "12345_pk",
]  # fmt: skip
BY_TYPE: dict[str, list[object]] = {
    "Text": [
        "x" * 4, "x" * 5, "x" * 6, "é" * 5, "é" * 6, "x" * 10, "x" * 11, "x" * 50, "x" * 51,
        "x" * 4000, "x" * 4001, "👍" * 5, "👍" * 6, " padded ", "line1\nline2", "ABC", "abc",
    ],
    "Number": [
        "0", "42", "+42", "-42", " 0042 ", "-0", "2147483647", "2147483648", "-2147483648",
        "-2147483649", 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, "1.0", "1.5", "1e3", "0x10",
        "1_000", "1,000", "١٢", "²", "12\n", "9" * 30, "9" * 5000, "0" * 30 + "7", 1e10, 3.0, -3.0,
    ],
    "Decimal": [
        "123.45", "123.456", "123.455", "123.445", "-123.455", "999.994", "999.995", "1000",
        "999", "0.5", ".5", "5.", "-0", "-0.001", "+1.5", "1e3", "1,5", "1.2.3", "  7.25  ",
        "0007.5", "1234567890123456", "12345678901234567", "9" * 27 + ".49", "9" * 27,
        "9" * 29, "0." + "0" * 30 + "1", "١.٥", 1, 1.25, 2.675, 1e20, 1e-7,
        Decimal("1E+2"), Decimal("-0.5"), Decimal("12.345"), Decimal("NaN"), Decimal("-Infinity"),
    ],
    "Date": [
        "2024-05-23", "2024-05-23T14:32:00", "2024-05-23T14:32:00z", "2024-05-23T14:32:00+02:00",
        "2024-05-23T00:30:00+02:00", "2024-05-23T14:32:00.123456", "2024-05-23 14:32",
        "2024-05-23T14", "20240523", " 2024-05-23 ", "2024-02-29", "2023-02-29", "1900-02-29",
        "2000-02-29", "2024-02-30", "2024-13-01", "1753-01-01", "1752-12-31",
        "9999-12-31T23:59:59", "9999-12-31T23:00:00-02:00", "0001-01-01T00:00:00+01:00",
        "1753-01-01T00:30:00+01:00", "5/23/2013 2:32:00 PM", "3/1/2024", "03/01/2024",
        "3/1/2024 14:05", "3/1/2024 14:05:09", "3/1/2024 1:5", "3/1/2024  14:05", "3/ 1/2024",
        "3/1/2024 2:05 pm", "3/1/2024 12:00 AM", "13/1/2024", "31/12/2024", "2/30/2024",
        "2/29/2024", "2/29/2023", "3/1/2024 24:00", "3/1/2024 14:05:60", "12/31/9999",
        "1/1/1753", "12/31/1752", "1/1/0000", "3/1/24", "2024/03/01", "March 1, 2024",
        "1709251200", "٢٠٢٤-٠٥-٢٣", date(1700, 1, 1), datetime(2024, 2, 29, 23, 59, 59, 999999),
    ],
    "Boolean": [
        "true", "True", "TRUE", "false", "1", "0", "yes", "no", "y", "n", "Y", " n ", "t", "f",
        "on", "off", "maybe", "1.0", 0, 1, 2, 0.0,
    ],
    "EmailAddress": [
        "a@b.org", "A.B+c@Example.ORG", "Ann.Lee+tag@Example.org", "a@b", "a@b.c", "a@b.co",
        "a..b@c.org", ".a@b.org", "a.@b.org", "a@-b.org", "a@b-.org", "a b@c.org",
        " a@b.org", "a@b.org ", "ü@b.org", "a@bü.org", "x" * 248 + "@b.org",
        "x" * 249 + "@b.org", "not-an-email", "a@b.org,c@d.org", "@b.org", "a@", "a@b.o1",
        "o'brien@example.ie", "a@b.org\n", "a@b.org\r\n", "a@" + "b" * 63 + ".org", "a@" + "b" * 64 + ".org",
    ],
    "Phone": [
        "+1 617 555 0100", "617-555-0100", "(617) 555-0100", "617.555.0100", "617/555/0100",
        "617-555-0100 x12", "617-555-0100 ext. 12", "617-555-0100 EXT 12", "617-555-0100x",
        "+1 617 555 0100 x1234567", "12", "123456", "1234567", "123456789012345",
        "1234567890123456", "call me", "+44 20 7946 0958", " 617-555-0100 ", "٦١٧٥٥٥٠١٠٠",
        "++1 617 555 0100", "617-555-0100\nx12", 6175550100, "1" * 50, "1" * 51,
    ],
    "Locale": ["en\n", "en-US\n", "en", "en-US", "EN-us", "fr-FR", "eng", "en_US", "e", "en-", "zh-Hans", "12"],
}  # fmt: skip

FIELDS = [
    SimField("Name", "Text", max_length=5),
    SimField("Note", "Text"),
    SimField("Long", "Text", max_length=4000),
    SimField("Key", "Text", max_length=10, is_primary_key=True, is_required=True),
    SimField("Needed", "Text", is_required=True),
    SimField("Defaulted", "Text", is_required=True, default_value="x"),
    SimField("Count", "Number"),
    SimField("Id", "Number", is_primary_key=True, is_required=True),
    SimField("Amount", "Decimal", precision=5, scale=2),
    SimField("Total", "Decimal", precision=18, scale=2),
    SimField("Plain", "Decimal"),
    SimField("Wide", "Decimal", precision=29, scale=2),
    SimField("Whole", "Decimal", precision=29),
    SimField("Small", "Decimal", precision=3),
    SimField("AsLength", "Decimal", max_length=6, scale=3),
    SimField("When", "Date"),
    SimField("Since", "Date", is_required=True, default_value="Now()"),
    SimField("Ok", "Boolean"),
    SimField("Must", "Boolean", is_required=True),
    SimField("Email", "EmailAddress"),
    SimField("Short", "EmailAddress", max_length=20),
    SimField("Phone", "Phone"),
    SimField("Locale", "Locale"),
]


def corpus(field: SimField) -> list[object]:
    return COMMON + REFERENCE + BY_TYPE[field.field_type]


def _cell(value: object, width: int) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def disagreements(field: SimField) -> list[tuple[object, tuple, tuple]]:
    found = []
    for value in corpus(field):
        product = outcome(product_verdict, field, value)
        sim = outcome(sim_verdict, field, value)
        if product != sim:
            found.append((value, product, sim))
    return found


def table(field: SimField, rows: list[tuple[object, tuple, tuple]]) -> str:
    lines = [f"{field}: {len(rows)} value(s) judged differently"]
    for value, product, sim in rows:
        lines += [f"  value      {_cell(value, 100)}", f"  product    {_cell(product, 100)}",
                  f"  simulator  {_cell(sim, 100)}", ""]  # fmt: skip
    return "\n".join(lines)


@pytest.mark.parametrize("field", FIELDS, ids=lambda f: f"{f.name}-{f.field_type}")
def test_product_and_simulator_judge_every_value_alike(field):
    rows = disagreements(field)
    assert not rows, "\n" + table(field, rows)


def test_corpus_covers_every_field_type():
    assert {f.field_type for f in FIELDS} == set(BY_TYPE) == set(FIELD_TYPES)


# ------------------------------------------------------------------------------------------
# Field-list rules (§4.1-§4.4): both sides accept and refuse the same definitions.

KEY = SimField("Key", "Text", 36, is_primary_key=True, is_required=True)
SCHEMAS = [
    [KEY], [], [KEY, SimField("key")], [SimField("_x")], [SimField("x" * 129)],
    [SimField("x" * 128)], [SimField("T", max_length=4000)], [SimField("T", max_length=4001)],
    [SimField("T", max_length=0)], [SimField("E", "EmailAddress", 255)],
    [SimField("D", "Decimal", precision=29, scale=29)], [SimField("D", "Decimal", precision=30)],
    [SimField("D", "Decimal", precision=5, scale=6)], [SimField("K", is_primary_key=True)],
    [SimField("W", "Date", is_primary_key=True, is_required=True)], [SimField("Z", "Blob")],
    [SimField("N", "Number", default_value="x")], [SimField("N", "Number", default_value="7")],
    [SimField("W", "Date", default_value="Now()")], [SimField("B", "Boolean", default_value="no")],
    [SimField(" ")], [SimField("L", "Locale", 6)],
]  # fmt: skip
CHANGES = [
    (None, SimField("New"), True), (None, KEY, True), (None, KEY, False),
    (None, SimField("R", is_required=True), True),
    (None, SimField("R", is_required=True, default_value="x"), True),
    (SimField("T", max_length=5), SimField("T", "Number"), False),
    (SimField("T", max_length=5), SimField("T", max_length=3), False),
    (SimField("T", max_length=5), SimField("T", max_length=9), True),
    (SimField("T"), SimField("T", max_length=40), False),
    (SimField("T"), SimField("T", is_required=True), False),
    (SimField("D", "Decimal", precision=9, scale=2), SimField("D", "Decimal", precision=8, scale=2), False),
    (SimField("D", "Decimal", precision=9, scale=2), SimField("D", "Decimal", precision=12, scale=4), True),
    (SimField("K"), SimField("K", is_primary_key=True, is_required=True), True),
]  # fmt: skip


@pytest.mark.parametrize("specs", SCHEMAS, ids=lambda s: ",".join(f.name[:8] for f in s) or "none")
def test_schema_rules_agree(specs):
    assert product_schema_ok(specs) == (not sim_schema(specs)), sim_schema(specs)


@pytest.mark.parametrize(("old", "new", "has_rows"), CHANGES)
def test_field_change_rules_agree(old, new, has_rows):
    sim_ok = sim_field_change(old, new, de_has_rows=has_rows) is None
    assert product_change_ok(old, new, de_has_rows=has_rows) == sim_ok
