"""Remembered audience counts (`count_matching(..., remembered=True)`): reused, and new per version.

The Audiences page counts every audience of a data set on each rerun; on a large data set each
count is a full scan, so the page remembers them until the data set gets a new version.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session

from store import audience_rows
from store.audience_rows import count_matching, index_filter_column
from store.datasets import get_dataset
from store.importer import import_file
from store.refresh import refresh_dataset

ROWS = b"id,name,amount\n1,Ann,10\n2,Bob,20\n3,Cy,30\n4,Di,40\n"
OVER_15 = [{"column": "amount", "op": "greater_than", "value": "15"}]


def _dataset(engine, ds_id):
    with Session(engine) as s:
        ds = get_dataset(ds_id, session=s)
        s.expunge(ds)
        return ds


def test_a_remembered_count_follows_each_new_version_and_is_reused_in_between(engine):
    ds_id = import_file(engine, ROWS, name="supporters", filename="v1.csv").dataset_id
    ds = _dataset(engine, ds_id)
    assert count_matching(engine, ds, OVER_15, remembered=True) == 3
    # Same row count, other amounts: the new version is counted anew.
    changed = b"id,name,amount\n1,Ann,10\n2,Bob,5\n3,Cy,30\n4,Di,40\n"
    refresh_dataset(engine, ds_id, changed, filename="v2.csv", mode="upsert", keys=["id"])
    ds = _dataset(engine, ds_id)
    assert ds.row_count == 4
    assert count_matching(engine, ds, OVER_15, remembered=True) == 2
    # A write that records no version (no product path does this) shows the reuse: the
    # remembered count stays, the sync's exact count sees the change.
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {ds.table_name} SET amount__n = 1"))
    assert count_matching(engine, ds, OVER_15, remembered=True) == 2
    spelled = [{"column": "Amount", "op": "greater_than", "value": " 15 "}]  # the same filter
    assert count_matching(engine, ds, spelled, remembered=True) == 2
    assert count_matching(engine, ds, OVER_15) == 0


def _plan(engine, ds, where: str) -> str:
    with engine.connect() as conn:
        rows = conn.execute(
            text(f"EXPLAIN QUERY PLAN SELECT count(*) FROM {ds.table_name} {where}")
        )
        return " ".join(str(r[-1]) for r in rows)


def test_a_picked_column_is_indexed_for_the_filters_that_compare_it(engine, monkeypatch):
    ds_id = import_file(engine, ROWS, name="supporters", filename="v1.csv").dataset_id
    ds = _dataset(engine, ds_id)
    assert index_filter_column(engine, ds, "name") is None  # 4 rows: a scan is quick enough
    monkeypatch.setattr(audience_rows, "INDEXED_FROM_ROWS", 1)
    for column in ("name", "amount"):
        index_filter_column(engine, ds, column).join()
    assert index_filter_column(engine, ds, "name") is None  # built once
    assert "INDEX ix_filter_" in _plan(engine, ds, "WHERE lower(name) = 'bob'")
    assert "INDEX ix_filter_" in _plan(engine, ds, "WHERE amount__n > 15")
    assert count_matching(engine, ds, [{"column": "name", "op": "equals", "value": "BOB"}]) == 1
    assert count_matching(engine, ds, OVER_15) == 3
