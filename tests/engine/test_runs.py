"""Run lifecycle in a real SQLite store: queue, claim, stale takeover, cancel, CSV, status."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlmodel import Session, select

from store.db import JsonText
from store.ledger import commit_checkpoint, ledger_lookup
from store.models import RejectedRow, SyncRun
from store.queue import (
    RunConflictError,
    active_run,
    cancel_requested,
    claim_next_run,
    enqueue_run,
    finish_run,
    get_run,
    heartbeat,
    request_cancel,
)
from store.reports import rejected_rows_csv
from store.schedules import enqueue_due_runs
from store.status import pathway_status
from sync.types import original_json
from tests.engine.test_push_e2e import people


@pytest.fixture
def pathway_id(make_pathway):
    return make_pathway(people(3))


def test_one_active_run_per_pathway_and_atomic_claims(engine, pathway_id):
    first = enqueue_run(engine, pathway_id, "manual", created_by="ann")
    assert first.state == "queued"
    with pytest.raises(RunConflictError, match="already has a queued sync"):
        enqueue_run(engine, pathway_id, "manual")
    claimed = claim_next_run(engine, "w1")
    assert claimed is not None
    assert (claimed.id, claimed.state, claimed.worker_id) == (first.id, "running", "w1")
    assert claim_next_run(engine, "w2") is None
    assert heartbeat(engine, first.id, "w1")
    assert not heartbeat(engine, first.id, "w2")


def test_stale_running_run_is_taken_over(engine, pathway_id):
    run = enqueue_run(engine, pathway_id)
    claim_next_run(engine, "dead-worker")
    old = datetime.now(UTC) - timedelta(minutes=5)
    with engine.begin() as conn:
        conn.execute(
            update(SyncRun.__table__)
            .where(SyncRun.__table__.c.id == run.id)
            .values(heartbeat_at=old)
        )
    assert claim_next_run(engine, "fresh", stale_after=600) is None
    taken = claim_next_run(engine, "fresh", stale_after=60)
    assert taken is not None
    assert (taken.id, taken.worker_id, taken.state) == (run.id, "fresh", "running")


def test_cancel_queued_run_at_once_and_running_run_by_flag(engine, pathway_id):
    run = enqueue_run(engine, pathway_id)
    assert request_cancel(engine, run.id) == "cancelled"
    second = enqueue_run(engine, pathway_id)
    claim_next_run(engine, "w")
    assert request_cancel(engine, second.id) == "running"
    assert cancel_requested(engine, second.id)


def test_checkpoint_commit_and_rejected_rows_csv_escapes_formulas(engine, pathway_id):
    run = enqueue_run(engine, pathway_id)
    bad = [
        {
            "row_values": {"email": '=HYPERLINK("x")', "name": "+1", "city": "-3"},
            "error_type": "InvalidEmailAddress",
            "error_details": "not valid",
            "field": "Email",
            "retryable": False,
            "primary_key": "=x",
        },
        {
            "row_values": {"email": "@SUM(A1)", "name": "\tTab", "city": "ok"},
            "error_type": "UnexpectedError",
            "error_details": "Rerun the transaction.",
            "field": None,
            "retryable": True,
            "primary_key": "@",
        },
    ]
    commit_checkpoint(
        engine,
        run.id,
        pathway_id=pathway_id,
        checkpoint_row=2,
        counters={"rows_read": 2, "rows_failed": 2},
        rejected=bad,
        ledger_upserts=[("k1", "h1"), ("k2", "h2")],
    )
    commit_checkpoint(
        engine,
        run.id,
        pathway_id=pathway_id,
        checkpoint_row=None,
        counters={"rows_read": 2},
        ledger_upserts=[("k1", "h9")],
        ledger_deletes=["k2"],
    )
    assert ledger_lookup(engine, pathway_id, ["k1", "k2", "k3"]) == {"k1": "h9"}
    stored = get_run(engine, run.id)
    assert stored.checkpoint["row"] == 2
    assert stored.rows_failed == 2
    data = rejected_rows_csv(engine, run.id)
    assert data.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert table[0] == [
        "email",
        "name",
        "city",
        "validationErrorType",
        "validationErrorDetails",
        "field",
        "retryable",
    ]
    assert table[1] == [
        '\'=HYPERLINK("x")',
        "'+1",
        "'-3",
        "InvalidEmailAddress",
        "not valid",
        "Email",
        "false",
    ]
    assert table[2] == [
        "'@SUM(A1)",
        "'\tTab",
        "ok",
        "UnexpectedError",
        "Rerun the transaction.",
        "",
        "true",
    ]


def test_pathway_status_and_schedules(engine, pathway_id, make_pathway):
    status = pathway_status(engine, pathway_id)
    assert (status.status, status.last_synced) == ("Inactive", None)
    run = enqueue_run(engine, pathway_id)
    assert pathway_status(engine, pathway_id).status == "Syncing"
    finish_run(engine, run.id, "failed", error="bad credentials")
    status = pathway_status(engine, pathway_id)
    assert (status.status, status.message) == ("Error", "bad credentials")
    ok = enqueue_run(engine, pathway_id)
    finish_run(engine, ok.id, "succeeded", counters={"rows_succeeded": 3, "rows_failed": 1})
    status = pathway_status(engine, pathway_id)
    assert (status.status, status.last_successes, status.last_failures) == ("Active", 3, 1)
    assert status.last_synced is not None
    assert status.next_run is None  # manual

    hourly = make_pathway(people(2))
    with engine.begin() as conn:
        from store.models import Pathway

        conn.execute(
            update(Pathway.__table__)
            .where(Pathway.__table__.c.id == hourly)
            .values(schedule="hourly")
        )
    now = datetime.now(UTC)
    assert enqueue_due_runs(engine, now) != []
    assert enqueue_due_runs(engine, now) == []  # already queued / not due again
    assert pathway_status(engine, hourly, now=now).status == "Syncing"
    first = active_run(engine, hourly)
    finish_run(engine, first.id, "succeeded")
    assert enqueue_due_runs(engine, now + timedelta(minutes=30)) == []
    assert len(enqueue_due_runs(engine, now + timedelta(minutes=61))) == 1


def test_rejected_values_held_as_json_text_are_stored_once_and_read_back_as_they_were(
    engine, pathway_id
):
    """The engine holds a rejected row's values as JSON text; the store must not encode it twice."""
    source = {
        "_row": 7,
        "_rev": 3,
        "email": "zoë@example.org",
        "gifts": None,
        "score": float("nan"),
        "joined": date(2021, 3, 12),
    }
    text = original_json(source)
    run = enqueue_run(engine, pathway_id)
    commit_checkpoint(
        engine,
        run.id,
        pathway_id=pathway_id,
        checkpoint_row=7,
        counters={"rows_read": 1, "rows_failed": 1},
        rejected=[
            {
                "row_values": JsonText(text),
                "error_type": "NotFound",
                "error_details": "No row in the DE has this key.",
                "field": "Email",
                "retryable": False,
                "primary_key": "zoë@example.org",
            }
        ],
    )
    with Session(engine) as session:
        stored = session.exec(select(RejectedRow).where(RejectedRow.run_id == run.id)).one()
    assert stored.row_values == {
        "email": "zoë@example.org",
        "gifts": None,
        "score": "nan",
        "joined": "2021-03-12",
    }
