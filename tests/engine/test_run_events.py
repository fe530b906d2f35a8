"""A run's timeline (`store.run_events`): phases and batches recorded as the real engine runs."""

from __future__ import annotations

from sqlmodel import Session

from store.audiences import update_audience
from store.models import Pathway
from store.run_events import list_events, phase_of
from tests.engine.test_push_e2e import people, run


def test_a_sync_records_its_phases_and_each_batch(engine, sim, make_pathway):
    pid = make_pathway(people(20), method="mirror")
    first, _ = run(engine, pid)
    assert first.state == "succeeded", first.error
    events = list_events(engine, first.id)
    phases = [e.phase for e in events]
    assert "sending" in phases
    assert phases[-1] == "done"
    batches = [e for e in events if e.phase == "batch"]
    assert batches  # 20 rows in batches of 7: at least one commit, the last at row 20
    assert batches[-1].rows == 20
    assert "20 written, 0 rejected" in batches[-1].detail
    assert all(e.api_calls is not None for e in batches)
    assert [e.at for e in events] == sorted(e.at for e in events)

    with Session(engine) as session:  # 8 of 20 leave: Mirror deletes them
        aud = session.get(Pathway, pid).audience_id
        keep = [f"user{i}@example.org" for i in range(12, 20)]
        update_audience(aud, filters=[{"column": "email", "op": "not_in", "value": keep}],
                        session=session)  # fmt: skip
    second, _ = run(engine, pid)
    assert second.rows_deleted == 8
    deletes = [e for e in list_events(engine, second.id) if e.phase == "deletes"]
    assert deletes
    assert "8 deleted so far" in deletes[-1].detail
    assert list_events(engine, first.id) == events  # each run keeps its own


def test_sfmc_notes_are_one_waiting_phase():
    assert phase_of("SFMC is queueing this job (2 min)") == "waiting on SFMC"
    assert phase_of("SFMC is queueing this job (3 min)") == "waiting on SFMC"
    assert phase_of("reading keys") == "reading keys"


def test_deleting_the_pathway_deletes_its_timeline(engine, sim, make_pathway):
    from store.pathways import delete_pathway

    pid = make_pathway(people(5))
    done, _ = run(engine, pid)
    assert list_events(engine, done.id)
    with Session(engine) as session:
        delete_pathway(pid, session=session)
    assert list_events(engine, done.id) == []
