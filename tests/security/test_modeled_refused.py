"""A connection that refuses modeled audiences never gets one, whatever path the push takes.

Issue 21 item 3: the flag was checked only in the wizard. An audience flagged modeled after its
pathway existed (with no audit entry), then "Full re-send", wrote 17,738 rows to a connection
that refuses modeled audiences. Now the pathway's creation, the queueing of a run ("Sync now",
"Full re-send", the wizard's push) and the run itself check it, and flag changes are audited.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

from store import audiences, connections, queue
from store.crypto import generate_key
from store.db import create_db_and_tables, make_engine
from store.importer import import_file
from store.models import AuditEvent, Pathway, SyncRun
from sync import destinations as dest
from sync.runner import run_pathway
from sync.types import SETUP_KINDS, SetupError
from ui import audiences as uaud
from ui import errors
from ui import pathways as upath
from ui import runs as uruns

URI = "https://mc0123456789.auth.marketingcloudapis.com/"
CSV = b"email,score\na@example.org,0.9\nb@example.org,0.2\n"
SETTINGS = {
    "kind": dest.DATA_EXTENSION,
    "de_name": "AVID - Scored",
    "de_key": "avid_scored",
    "primary_keys": ["email"],
    "category_id": 100,
    "mapping": [{"source_column": "email", "destination_field": "Email"}],
}


@pytest.fixture
def store(tmp_path, monkeypatch) -> Any:
    """A store with one data set, audience 'Scored' (not modeled) and two connections."""
    monkeypatch.setenv("PATHWAYS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PATHWAYS_SECRET_KEY", generate_key())
    monkeypatch.delenv("DATABASE_URL", raising=False)
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    create_db_and_tables(engine)
    report = import_file(engine, CSV, name="Scores", filename="scores.csv")
    with Session(engine) as session:
        aud = audiences.create_audience("Scored", report.dataset_id, session=session)
        strict = connections.create_connection("Strict", URI, "c1", "s1", session=session)
        lenient = connections.create_connection(
            "Lenient", URI, "c2", "s2", allow_modeled=True, session=session
        )
        ids = {"audience": aud.id, "strict": strict.id, "lenient": lenient.id}
    yield engine, ids
    engine.dispose()


def _aud(ids: dict[str, int]) -> dict[str, Any]:
    return {"id": ids["audience"], "name": "Scored"}


def _conn(ids: dict[str, int], which: str) -> dict[str, Any]:
    return {"id": ids[which], "name": which.title()}


def _flag_in_store(engine: Any, audience_id: int) -> None:
    """Flag the audience directly in the store (a change the use cases did not see coming)."""
    with Session(engine) as session:
        audiences.update_audience(audience_id, modeled=True, session=session)


def _count(engine: Any, model: type) -> int:
    with Session(engine) as session:
        return len(session.exec(select(model)).all())


def _audit(engine: Any) -> list[tuple[str, str, str]]:
    with Session(engine) as session:
        events = session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()
        return [(e.who, e.action, e.detail) for e in events]


def test_the_kind_is_an_engine_setup_kind_with_its_advice():
    assert "modeled_refused" in SETUP_KINDS
    assert errors.KIND_ADVICE["modeled_refused"] == ("", errors.MODELED_FIX)


def test_creating_a_pathway_refuses_a_modeled_audience(store):
    engine, ids = store
    uaud.set_modeled(engine, ids["audience"], True, who="kim")
    with pytest.raises(SetupError) as info:
        upath.create_pathway(engine, _aud(ids), _conn(ids, "strict"), SETTINGS, "sam")
    assert info.value.kind == "modeled_refused"
    assert "Strict" in str(info.value)
    assert _count(engine, Pathway) == 0
    assert [a[1] for a in _audit(engine)] == ["set modeled"]  # no "create pathway"
    # A connection that allows modeled audiences takes it.
    assert upath.create_pathway(engine, _aud(ids), _conn(ids, "lenient"), SETTINGS, "sam")


@pytest.mark.parametrize("flags", [{}, {"full_resend": True}, {"dry_run": True}])
def test_queueing_refuses_once_the_audience_is_flagged_after_its_pathway(store, flags):
    """ "Sync now", "Full re-send" and dry runs on Manage Pathways go through `queue_sync`."""
    engine, ids = store
    pid = upath.create_pathway(engine, _aud(ids), _conn(ids, "strict"), SETTINGS, "sam")
    uaud.set_modeled(engine, ids["audience"], True, who="kim")
    with pytest.raises(SetupError) as info:
        uruns.queue_sync(engine, pid, "sam", **flags)
    assert info.value.kind == "modeled_refused"
    assert _count(engine, SyncRun) == 0
    help_text = errors.error_help(info.value)
    assert errors.MODELED_FIX in help_text


def test_the_wizard_push_of_an_existing_pathway_is_refused_too(store):
    engine, ids = store
    upath.create_pathway(engine, _aud(ids), _conn(ids, "strict"), SETTINGS, "sam")
    _flag_in_store(engine, ids["audience"])
    with pytest.raises(SetupError):
        uruns.push(engine, _aud(ids), _conn(ids, "strict"), SETTINGS, "sam")
    assert _count(engine, SyncRun) == 0


def _never_connect(_connection: Any) -> Any:
    msg = "a refused run must not build an SFMC client"
    raise AssertionError(msg)


def test_the_run_itself_refuses_when_the_flag_changed_after_queueing(store):
    engine, ids = store
    pid = upath.create_pathway(engine, _aud(ids), _conn(ids, "strict"), SETTINGS, "sam")
    run = uruns.queue_sync(engine, pid, "sam", full_resend=True)
    _flag_in_store(engine, ids["audience"])
    result = run_pathway(engine, run.id, client_factory=_never_connect, worker_id="w1")
    assert result.state == "failed"
    stored = queue.get_run(engine, run.id)
    assert (stored.state, stored.error_kind) == ("failed", "modeled_refused")
    assert stored.error_detail["audience_id"] == ids["audience"]
    assert errors.MODELED_FIX in errors.run_error_help(stored)
    assert stored.rows_sent == 0


def test_a_connection_that_stops_allowing_modeled_audiences_is_honoured(store):
    engine, ids = store
    uaud.set_modeled(engine, ids["audience"], True, who="kim")
    pid = upath.create_pathway(engine, _aud(ids), _conn(ids, "lenient"), SETTINGS, "sam")
    run = uruns.queue_sync(engine, pid, "sam")
    with Session(engine) as session:
        connections.update_connection(ids["lenient"], allow_modeled=False, session=session)
    result = run_pathway(engine, run.id, client_factory=_never_connect, worker_id="w1")
    assert result.state == "failed"
    assert queue.get_run(engine, run.id).error_kind == "modeled_refused"


def test_modeled_flag_changes_are_audited_with_who_and_old_to_new(store):
    engine, ids = store
    uaud.set_modeled(engine, ids["audience"], True, who="kim")
    uaud.set_modeled(engine, ids["audience"], True, who="kim")  # no change, no entry
    uaud.set_modeled(engine, ids["audience"], False, who="ann")
    assert _audit(engine) == [
        ("kim", "set modeled", "Scored: not modeled -> modeled"),
        ("ann", "set modeled", "Scored: modeled -> not modeled"),
    ]
    with Session(engine) as session:
        assert all(e.at is not None for e in session.exec(select(AuditEvent)))


def test_flagging_a_deleted_audience_says_so(store):
    engine, _ids = store
    with pytest.raises(LookupError):
        uaud.set_modeled(engine, 9999, True, who="kim")
