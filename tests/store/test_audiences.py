"""Audience filters: parameterised SQL, every operator, injection attempts, keyset iteration."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect
from sqlmodel import Session

from store.audience_rows import count_matching, count_rows, iter_rows, preview
from store.audiences import create_audience
from store.filters import AudienceFilterError, compile_filters
from store.importer import import_file
from store.models import DataSet

CSV = (
    "email,name,amount,joined,monthly,city\n"
    "ann@x.org,Ann,10,2021-01-05,yes,Paris\n"
    "BOB@x.org,Bob,9,03/14/2022,no,\n"
    "cat@y.org,Cat,100.5,5 Jan 2023,Y,paris\n"
    "dan@y.org,Dan,,2020/07/01,,Cork\n"
    "eve@z.org,O'Brien,0,2024-02-29,false,Dublin\n"
)


@pytest.fixture
def ds(engine):
    report = import_file(engine, CSV.encode(), name="people", filename="p.csv")
    with Session(engine) as session:
        return session.get(DataSet, report.dataset_id)


def names(engine, ds, filters):
    from store.audience_rows import preview_matching

    return list(preview_matching(engine, ds, filters)["name"])


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"column": "city", "op": "equals", "value": "PARIS"}, ["Ann", "Cat"]),
        ({"column": "city", "op": "not_equals", "value": "paris"}, ["Bob", "Dan", "O'Brien"]),
        ({"column": "email", "op": "contains", "value": "@Y."}, ["Cat", "Dan"]),
        ({"column": "email", "op": "not_contains", "value": "x.org"}, ["Cat", "Dan", "O'Brien"]),
        ({"column": "email", "op": "starts_with", "value": "bob"}, ["Bob"]),
        ({"column": "city", "op": "in", "value": ["cork", "Dublin"]}, ["Dan", "O'Brien"]),
        ({"column": "city", "op": "in", "value": "cork, dublin"}, ["Dan", "O'Brien"]),
        ({"column": "city", "op": "not_in", "value": ["paris"]}, ["Bob", "Dan", "O'Brien"]),
        ({"column": "amount", "op": "between", "value": [5, 50]}, ["Ann", "Bob"]),
        ({"column": "amount", "op": "greater_than", "value": "9.5"}, ["Ann", "Cat"]),
        ({"column": "amount", "op": "less_than", "value": 9.5}, ["Bob", "O'Brien"]),
        ({"column": "city", "op": "is_empty"}, ["Bob"]),
        ({"column": "amount", "op": "is_not_empty"}, ["Ann", "Bob", "Cat", "O'Brien"]),
        ({"column": "joined", "op": "before", "value": "2022-01-01"}, ["Ann", "Dan"]),
        ({"column": "joined", "op": "after", "value": "01/01/2023"}, ["Cat", "O'Brien"]),
        ({"column": "joined", "op": "between", "value": ["2022-12-31", "2021-01-06"]}, ["Bob"]),
        ({"column": "monthly", "op": "equals", "value": "true"}, ["Ann", "Cat"]),
        ({"column": "monthly", "op": "not_equals", "value": "yes"}, ["Bob", "Dan", "O'Brien"]),
        ({"column": "name", "op": "equals", "value": "o'brien"}, ["O'Brien"]),
    ],
    ids=lambda v: v["op"] if isinstance(v, dict) else None,
)
def test_operators(engine, ds, flt, expected):
    assert names(engine, ds, [flt]) == expected
    assert count_matching(engine, ds, [flt]) == len(expected)


def test_filters_combine_with_and(engine, ds):
    filters = [
        {"column": "email", "op": "contains", "value": "y.org"},
        {"column": "amount", "op": "greater_than", "value": "50"},
    ]
    assert names(engine, ds, filters) == ["Cat"]


@pytest.mark.parametrize(
    ("flt", "match"),
    [
        ({"column": "nope", "op": "equals", "value": "x"}, "no column 'nope'"),
        ({"column": "name; DROP TABLE dataset;--", "op": "equals", "value": "x"}, "no column"),
        ({"column": "name", "op": "LIKE", "value": "x"}, "unknown operator"),
        ({"column": "name", "op": "equals", "value": ""}, "needs a value"),
        ({"column": "name", "op": "greater_than", "value": "3"}, "number or date column"),
        ({"column": "amount", "op": "before", "value": "2020-01-01"}, "needs a date column"),
        ({"column": "amount", "op": "greater_than", "value": "ten"}, "not a number"),
        ({"column": "joined", "op": "after", "value": "someday"}, "not a date"),
        ({"column": "amount", "op": "between", "value": [1]}, "two values"),
        ({"column": "city", "op": "in", "value": []}, "at least one"),
    ],
)
def test_bad_filters_are_clear_errors(engine, ds, flt, match):
    with pytest.raises(AudienceFilterError, match=match):
        compile_filters(ds, [flt])


@pytest.mark.parametrize(
    "evil",
    [
        "x' OR '1'='1",
        'x"; DROP TABLE dataset; --',
        "%",
        "_",
        "' UNION SELECT client_secret_encrypted FROM connection --",
    ],
)
def test_injection_in_values_matches_nothing_and_drops_nothing(engine, ds, evil):
    for op in ("equals", "contains", "starts_with", "in"):
        assert count_matching(engine, ds, [{"column": "name", "op": op, "value": evil}]) == 0
    assert "dataset" in inspect(engine).get_table_names()
    assert count_matching(engine, ds, []) == 5


def test_values_are_bound_parameters(ds):
    clause = compile_filters(ds, [{"column": "name", "op": "equals", "value": "x' OR 1=1 --"}])
    compiled = clause.compile()
    assert "OR 1=1" not in str(compiled)
    assert "x' or 1=1 --" in compiled.params.values()


def test_audience_count_preview_and_iteration(engine, ds):
    with Session(engine) as session:
        everyone = create_audience("All", ds.id, session=session)
        paris = create_audience(
            "Paris", ds.id, [{"column": "city", "op": "equals", "value": "paris"}], session=session
        )
        session.refresh(everyone)
    assert count_rows(engine, everyone.id) == 5
    assert count_rows(engine, paris.id) == 2
    frame = preview(engine, paris.id, limit=1)
    assert list(frame["name"]) == ["Ann"]
    assert frame.index.name == "_row"

    chunks = list(iter_rows(engine, everyone.id, chunk_size=2))
    assert [len(c) for c in chunks] == [2, 2, 1]
    flat = [r for c in chunks for r in c]
    assert [r["_row"] for r in flat] == [1, 2, 3, 4, 5]
    assert flat[3]["amount"] is None  # empty cells are None
    assert set(flat[0]) == {"_row", "email", "name", "amount", "joined", "monthly", "city"}

    resumed = [
        r["_row"] for c in iter_rows(engine, everyone.id, chunk_size=2, after_row=3) for r in c
    ]
    assert resumed == [4, 5]
    only = next(iter_rows(engine, paris.id, columns=["email"]))
    assert only == [{"_row": 1, "email": "ann@x.org"}, {"_row": 3, "email": "cat@y.org"}]
    with pytest.raises(AudienceFilterError, match="no column"):
        next(iter_rows(engine, paris.id, columns=["secret"]))
    with pytest.raises(AudienceFilterError, match="does not exist"):
        count_rows(engine, 999)


def test_iteration_is_stable_across_many_chunks(engine):
    data = "n\n" + "".join(f"{i}\n" for i in range(1, 1001))
    report = import_file(engine, data.encode(), name="many", filename="m.csv")
    with Session(engine) as session:
        aud = create_audience(
            "odd-ish", report.dataset_id, [{"column": "n", "op": "greater_than", "value": "500"}],
            session=session,
        )  # fmt: skip
    seen = [r["n"] for c in iter_rows(engine, aud.id, chunk_size=64) for r in c]
    assert seen == [str(i) for i in range(501, 1001)]
