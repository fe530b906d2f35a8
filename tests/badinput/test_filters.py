"""Audience filters: bad operators and values are refused with the fix; injection stays data."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect
from sqlmodel import Session, func, select

from store.audience_rows import count_matching, preview_matching
from store.audiences import create_audience
from store.datasets import get_dataset_by_name
from store.filters import AudienceFilterError
from store.importer import import_file
from store.models import Audience, DataSet

CSV = (
    b"email,name,amount,joined\n"
    b"ann@example.org,Ann,10,2024-01-31\n"
    b"bob@example.org,Bob 100%,20,2023-06-01\n"
    b"cy@example.org,C_y,30,2022-02-02\n"
    b"dee@example.org,O'Neil,40,2021-03-03\n"
)


@pytest.fixture
def ds(engine):
    import_file(engine, CSV, name="Donors", filename="d.csv")
    with Session(engine) as session:
        found = get_dataset_by_name("Donors", session=session)
        session.expunge(found)
        return found


REFUSED = {
    "unknown operator": ({"column": "name", "op": "DROP", "value": "x"}, "unknown operator 'DROP'"),
    "sql in operator": (
        {"column": "name", "op": "equals OR 1=1", "value": "x"},
        "use one of equals",
    ),
    "sql in column name": (
        {"column": "email; DROP TABLE dataset; --", "op": "equals", "value": "x"},
        "has no column 'email; DROP TABLE dataset; --'. Columns:",
    ),
    "quote in column name": (
        {"column": 'name" OR 1=1 --', "op": "equals", "value": "x"},
        "has no column",
    ),
    "between with one value": ({"column": "amount", "op": "between", "value": "5"}, "two values"),
    "number filter with text": (
        {"column": "amount", "op": "greater_than", "value": "1; DELETE FROM dataset"},
        "is not a number",
    ),
    "date filter with text": (
        {"column": "joined", "op": "before", "value": "yesterday'--"},
        "is not a date; write it like 2023-01-31",
    ),
    "missing value": ({"column": "name", "op": "equals", "value": "  "}, "needs a value"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_bad_filter_is_refused_with_the_fix_and_no_audience_is_saved(engine, ds, case):
    flt, says = REFUSED[case]
    with Session(engine) as session, pytest.raises(AudienceFilterError) as info:
        create_audience("Bad", ds.id, [flt], session=session)
    assert says in str(info.value)
    assert str(info.value).startswith("Filter 1:")  # says which filter
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Audience)).one() == 0


INJECTION_VALUES = {
    "quote or 1=1": ("equals", "' OR '1'='1", 0),
    "statement after quote": ("equals", "x'); DELETE FROM dataset; --", 0),
    "percent is literal in contains": ("contains", "%", 1),
    "underscore is literal in contains": ("contains", "_", 1),
    "apostrophe name matches exactly": ("equals", "O'Neil", 1),
    "injection inside an in-list": ("in", ["Ann", "x' OR 1=1 --"], 1),
}


@pytest.mark.parametrize("case", list(INJECTION_VALUES))
def test_injection_in_values_is_plain_data(engine, ds, case):
    op, value, expected = INJECTION_VALUES[case]
    tables_before = sorted(inspect(engine).get_table_names())
    filters = [{"column": "name", "op": op, "value": value}]
    assert count_matching(engine, ds, filters) == expected
    assert len(preview_matching(engine, ds, filters)) == expected
    with Session(engine) as session:
        audience = create_audience("Odd", ds.id, filters, session=session)
        assert audience.id is not None
        stored = session.get(DataSet, ds.id)
        assert stored.row_count == 4
    assert sorted(inspect(engine).get_table_names()) == tables_before
    assert count_matching(engine, ds, []) == 4  # the data set is untouched
