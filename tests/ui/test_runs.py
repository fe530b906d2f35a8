"""Run use cases against a real store: push, queue, confirm, cancel (no worker runs them)."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from store import queue
from store.audit import list_audit
from store.queue import RunConflictError
from sync import destinations as dest
from ui import runs as uruns

SETTINGS = {
    "kind": dest.DATA_EXTENSION,
    "de_name": "AVID - Everyone",
    "de_key": "avid_everyone",
    "primary_keys": ["email"],
    "category_id": 100,
    "mapping": [{"source_column": "email", "destination_field": "Email"}],
}


def test_push_creates_the_pathway_and_queues_a_dry_run(workspace):
    ws = workspace
    pid, run = uruns.push(ws.engine, ws.audience, ws.connection, SETTINGS, "sam", dry_run=True)
    assert (run.pathway_id, run.state, run.dry_run, run.created_by) == (pid, "queued", True, "sam")
    with pytest.raises(RunConflictError, match="already has a queued sync"):
        uruns.push(ws.engine, ws.audience, ws.connection, SETTINGS, "sam")


def test_cancel_stops_the_queued_sync_and_the_next_one_can_start(workspace):
    ws = workspace
    pid, run = uruns.push(ws.engine, ws.audience, ws.connection, SETTINGS, "sam")
    assert uruns.cancel_sync(ws.engine, pid, "sam") == "cancelled"
    assert uruns.cancel_sync(ws.engine, pid, "sam") is None  # nothing active any more
    again = uruns.queue_sync(ws.engine, pid, "kim", full_resend=True)
    assert (again.id != run.id, again.state) == (True, "queued")
    with Session(ws.engine) as session:  # each of them in the audit log, with who and which run
        events = [(e.who, e.action, e.detail) for e in reversed(list_audit(session=session))]
    assert events[-3:] == [
        ("sam", "queue sync", f"pathway {pid}, run {run.id}"),
        ("sam", "cancel sync", f"pathway {pid}, run {run.id}"),
        ("kim", "queue sync", f"pathway {pid}, run {again.id}"),
    ]


def test_a_run_waiting_for_confirmation_is_found_and_confirmed(workspace):
    ws = workspace
    pid, run = uruns.push(ws.engine, ws.audience, ws.connection, SETTINGS, "sam")
    assert uruns.waiting_confirmation(ws.engine, run.id) is None
    queue.finish_run(ws.engine, run.id, "needs_confirm", message="Would delete 90% of rows.")
    waiting = uruns.waiting_confirmation(ws.engine, run.id)
    assert waiting.message == "Would delete 90% of rows."
    confirmed = uruns.queue_sync(ws.engine, pid, "sam", confirm_deletes=True)
    assert confirmed.state == "queued"
    assert uruns.waiting_confirmation(ws.engine, None) is None


def test_live_progress_is_read_often_at_first_then_every_two_seconds(workspace):
    from datetime import timedelta

    ws = workspace
    _, run = uruns.push(ws.engine, ws.audience, ws.connection, SETTINGS, "sam", dry_run=True)
    created = run.created_at
    assert uruns.refresh_every(run, created + timedelta(seconds=1)) == uruns.FAST_REFRESH_S
    later = created + timedelta(seconds=uruns.FAST_FOR_S + 1)
    assert uruns.refresh_every(run, later) == uruns.SLOW_REFRESH_S
    queue.finish_run(ws.engine, run.id, "succeeded")
    assert uruns.refresh_every(queue.get_run(ws.engine, run.id)) is None  # over: no re-reads
