"""The fast row path agrees with SFMC's field rules (`check_value`/`canonical`), value by value."""

from __future__ import annotations

import time
from datetime import date, datetime
from decimal import Decimal

import pytest

from simulator import fieldrules as fr
from simulator.fields import SimField
from simulator.schema import UNSET, DeSchema, RowError
from simulator.state import SimDE

FIELDS = [
    SimField("Text", "Text", max_length=5),
    SimField("Req", "Text", is_required=True),
    SimField("ReqDefault", "Text", is_required=True, default_value="x"),
    SimField("Key", "Text", max_length=10, is_primary_key=True, is_required=True),
    SimField("N", "Number"),
    SimField("D", "Decimal", precision=5, scale=2),
    SimField("D0", "Decimal", precision=3),
    SimField("When", "Date"),
    SimField("Ok", "Boolean"),
    SimField("Email", "EmailAddress"),
    SimField("Phone", "Phone"),
    SimField("Loc", "Locale"),
    SimField("Odd", "Mystery"),
]
VALUES = [
    None, "", " ", "abc", "abcdef", "ABC", "Zoë", "a\n", 0, 1, -1, 2, 2**31 - 1, 2**31, -(2**31),
    True, False, 1.0, 1.5, float("nan"), float("inf"), Decimal("1.005"), "1", "+12", " 7 ", "1.5",
    "001", "12\n", "-0", "999.995", "999.994", "1000", ".5", "5.", "1e3", "abc.d", "١٢", "²",
    "2024-02-29", "2023-02-29", "2024-03-01T10:00:00Z", "2024-03-01T10:00:00+02:00", "1600-01-01",
    "3/1/2024", "03/01/2024", "3/1/2024 14:05", "3/1/2024 14:05:09", "3/1/2024 2:05 PM",
    "13/1/2024", "2/30/2024", "3/1/2024 24:00", "3/1/2024 1:5", "3/1/2024  14:05", "1/1/0000",
    "3/1/2024 14:05:60", "12/31/9999", date(2024, 5, 1), datetime(2024, 5, 1, 13, 2, 3),
    "true", "False", "YES", " n ", "maybe", "a@b.org", "A.B+c@Example.ORG", "a@b", "a@b.org\n",
    "x" * 300 + "@b.org", "+1 617 555 0100", "617-555-0100 x12", "12", "call me", "1234567890123456",
    "en", "en-US", "eng", {"a": 1}, [1],
]  # fmt: skip


def reference(field, value):
    violation = fr.check_value(field, value)
    return violation if violation is not None else fr.canonical(field, value)


@pytest.mark.parametrize("field", FIELDS, ids=lambda f: f.name)
def test_converter_agrees_with_check_value_and_canonical(field):
    convert = fr.converter(field)
    for value in VALUES * 2:  # twice: the memoised converters answer from their cache the 2nd time
        expected = reference(field, value)
        try:
            got = convert(value)
        except fr.Invalid:
            assert isinstance(expected, fr.Violation), (field.name, value)
            continue
        assert got == expected, (field.name, value)


ROWS = [
    {"Key": "k1", "Req": "r", "N": "5", "When": "3/1/2024", "Ok": "yes"},
    {"key": "K1", "req": "r2", "n": 6},  # case-insensitive names and keys: updates k1
    {"Key": "k2", "Req": "r"},
    {"Key": "k3"},  # required Req missing on a new row
    {"Key": "", "Req": "r"},  # missing key
    {"Req": "r"},  # no key at all
    {"Key": "k4", "Req": "r", "Bogus": 1, "N": "x", "Email": "nope"},  # three violations
    {"Key": "k5", "Req": "r", "ReqDefault": ""},  # blank -> default on a new row
    {"Key": "k2", "Req": "r", "Text": ""},  # blank on an existing row stores null
    {"Key": "k6", "Req": "r", "D": "1.005", "When": "2024-03-01T10:00:00Z"},
]


@pytest.mark.parametrize("mode", ["upsert", "insert", "update"])
def test_rows_saved_like_the_field_rules_say(mode):
    de = SimDE("t", "t", 1, list(FIELDS))
    outcomes = [de.save_row(row, mode=mode) for row in ROWS]
    kinds = [None if o is None else o.kind for o in outcomes]
    if mode == "upsert":
        assert kinds == [None, None, None, "validation", "missing_key", "missing_key",
                         "validation", None, None, None]  # fmt: skip
        assert [v.error_type for v in outcomes[6].violations] == [
            "UnknownColumn", "InvalidNumber", "InvalidEmailAddress"]  # fmt: skip
        stored = dict(zip([f.name for f in FIELDS], de.rows[("k1",)], strict=True))
        assert stored["Req"] == "r2"
        assert stored["N"] == "6"
        assert stored["When"] == "3/1/2024 12:00:00 AM"
        assert stored["Ok"] == "True"
        assert de.rows[("k5",)][2] == "x"
        assert de.rows[("k2",)][0] is None
        k6 = de.rows[("k6",)]
        assert (k6[5], k6[7]) == ("1.01", "3/1/2024 10:00:00 AM")
    elif mode == "insert":
        assert kinds[1] == "duplicate"
    else:
        assert kinds[0] == "not_found"


def test_prepare_is_stateless_and_unset_marks_missing_columns():
    schema = DeSchema(FIELDS)
    key, slots = schema.prepare({"Key": "AbC", "N": 7}, "upsert")
    assert key == ("abc",)
    assert slots[3] == "AbC"
    assert slots[4] == "7"
    assert slots[0] is UNSET
    assert isinstance(schema.prepare({"N": 7}, "upsert"), RowError)
    no_pk = DeSchema([SimField("A")])
    assert no_pk.prepare({"A": "x"}, "upsert").kind == "no_pk"
    assert no_pk.prepare({"A": "x"}, "insert") == (None, ("x",))  # complete: the tuple to store


def test_async_worker_commits_due_jobs_without_any_request(make_sim):
    sim = make_sim(seed="demo", async_rows_per_s=20_000)
    items = [{"SubscriberKey": f"W{i}", "Email": f"w{i}@example.org"} for i in range(2_000)]
    put = "/data/v1/async/dataextensions/key:major_donors/rows"
    assert sim.rest("PUT", put, json={"items": items}).status_code == 202
    de = sim.running.state.get_de("major_donors")
    assert len(de.rows) == 40  # nothing visible before the job's completion time (0.1 s)
    deadline = time.monotonic() + 5
    while len(de.rows) < 2_040 and time.monotonic() < deadline:
        time.sleep(0.02)  # no HTTP request: the worker thread commits on its own
    assert len(de.rows) == 2_040
    assert not sim.running.state.job_queue


def test_rows_readback_is_streamed_with_offset_and_limit(make_sim):
    sim = make_sim(seed="demo")
    url = sim.url + "/_sim/dataextensions/major_donors/rows"
    full = sim.http.get(url).json()
    assert full["count"] == len(full["items"]) == 40
    page = sim.http.get(url, params={"offset": 35, "limit": 10}).json()
    assert page["count"] == 40
    assert page["items"] == full["items"][35:]
    assert sim.http.get(url, params={"limit": 0}).json() == {"count": 40, "items": []}
