"""The ledger seen from the store alone: checkpoints, lookups, and the unsynced-rows filter."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlmodel import Session

from store.audience_rows import iter_rows
from store.audiences import create_audience
from store.connections import create_connection
from store.importer import import_file
from store.ledger import (
    UnsyncedRows,
    clear_ledger,
    commit_checkpoint,
    ledger_has_rows,
    ledger_keys,
    ledger_lookup,
)
from store.models import DataSet
from store.pathways import create_pathway
from store.queue import enqueue_run, finish_run, get_run
from store.revisions import ensure_row_revisions

CSV = "email,name\n" + "".join(f"p{i}@x.org,P{i}\n" for i in range(1, 7))


@pytest.fixture
def setup(engine):
    report = import_file(engine, CSV.encode(), name="people", filename="p.csv")
    with Session(engine) as session:
        ds = session.get(DataSet, report.dataset_id)
        audience = create_audience("everyone", report.dataset_id, session=session)
        conn = create_connection("c", "https://a.auth.example.com/", "id", "s", session=session)
        pathway = create_pathway(audience.id, conn.id, "DE", "de_key", session=session)
        table_name, ids = ds.table_name, (audience.id, pathway.id)
    ensure_row_revisions(engine, table_name)
    return (*ids, table_name)


def unsynced(engine, audience_id, pathway_id):
    return [
        (r["_row"], r["_refused"], r["_refused_type"])
        for chunk in iter_rows(engine, audience_id, row_filter=UnsyncedRows(pathway_id))
        for r in chunk
    ]


def test_unsynced_rows_are_those_the_ledger_does_not_hold_at_their_revision(engine, setup):
    audience_id, pathway_id, table_name = setup
    run = enqueue_run(engine, pathway_id)
    refusal = {"row_values": {"email": "p5@x.org"}, "error_type": "InvalidEmailAddress",
               "error_details": "bad"}  # fmt: skip
    commit_checkpoint(
        engine,
        run.id,
        pathway_id=pathway_id,
        checkpoint_row=5,
        counters={"rows_read": 5},
        ledger_upserts=[(f"p{i}@x.org", f"h{i}", i, 0) for i in range(1, 5)],
        refusals=[(5, 0, refusal)],
        rejected=[refusal],
    )
    assert get_run(engine, run.id).checkpoint["row"] == 5
    assert ledger_has_rows(engine, pathway_id)
    assert ledger_lookup(engine, pathway_id, ["p1@x.org", "p9@x.org"]) == {"p1@x.org": "h1"}
    assert sorted(ledger_keys(engine, pathway_id)) == [f"p{i}@x.org" for i in range(1, 5)]
    # Read in pages by key: every key once, whatever the page size.
    assert list(ledger_keys(engine, pathway_id, page=3)) == [f"p{i}@x.org" for i in range(1, 5)]
    # Rows 1-4 are synced at revision 0; row 5 comes marked as refused; row 6 is new.
    rows = unsynced(engine, audience_id, pathway_id)
    assert [(r, t) for r, _id, t in rows] == [(5, "InvalidEmailAddress"), (6, None)]
    assert rows[0][1] is not None
    # A changed row (its `_rev` bumped by the trigger) is unsynced again, refusal or not.
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE \"{table_name}\" SET name = 'X' WHERE _row IN (2, 5)"))
    assert unsynced(engine, audience_id, pathway_id) == [(2, None, None), (5, None, None), (6, None, None)]  # fmt: skip
    clear_ledger(engine, pathway_id)
    assert [r for r, _i, _t in unsynced(engine, audience_id, pathway_id)] == [1, 2, 3, 4, 5, 6]


def test_a_failed_run_is_finished_with_its_error_kind_and_detail(engine, setup):
    _audience_id, pathway_id, _table = setup
    run = enqueue_run(engine, pathway_id)
    detail = {"category_id": 7, "operation": "find folder"}
    finish_run(engine, run.id, "failed", error="Folder 7 is gone.", error_kind="folder_missing",
               error_detail=detail, message="Sync failed: Folder 7 is gone.")  # fmt: skip
    done = get_run(engine, run.id)
    assert (done.state, done.error, done.error_kind) == ("failed", "Folder 7 is gone.", "folder_missing")  # fmt: skip
    assert done.error_detail == detail
    assert list(ledger_keys(engine, pathway_id)) == []
