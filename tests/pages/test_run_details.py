"""Run details (AppTest): the timeline, the figures, and a failed run's error with its fix."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from store.queue import enqueue_run, finish_run
from store.run_events import record_event


def _script(run_id: int) -> None:
    from pages._run_details import run_details

    run_details(run_id)


def _failed_run() -> int:
    from sqlmodel import Session

    from store import audiences, connections
    from store.importer import import_file
    from store.models import Pathway
    from ui import state

    engine = state.get_engine()
    report = import_file(engine, b"email\na@example.org\n", name="Donors", filename="d.csv")
    with Session(engine) as s:
        aud = audiences.create_audience("Everyone", report.dataset_id, session=s)
        conn = connections.create_connection(
            "Main", "https://mc0123.auth.marketingcloudapis.com/", "id", "secret", session=s
        )
        p = Pathway(audience_id=aud.id, connection_id=conn.id, de_customer_key="k", de_name="All")
        s.add(p)
        s.commit()
        pid = p.id
    run = enqueue_run(engine, pid, "manual", created_by="sam")
    record_event(engine, run.id, "reading keys", "reading keys", rows=0, api_calls=3)
    record_event(engine, run.id, "waiting on SFMC", "SFMC is queueing this job (2 min)")
    finish_run(
        engine, run.id, "failed", error="The folder 12 no longer exists in Marketing Cloud.",
        error_kind="folder_missing", error_detail={"category_id": 12},
        message="Sync failed: The folder 12 no longer exists in Marketing Cloud.",
    )  # fmt: skip
    return run.id


def test_a_failed_runs_details(store_env):
    run_id = _failed_run()
    at = AppTest.from_function(_script, args=(run_id,), default_timeout=30).run()
    assert not at.exception
    assert any("Failed" in m.value for m in at.markdown)
    error = " ".join(e.value for e in at.error)
    assert "folder 12 no longer exists" in error
    assert "folder" in error.split("no longer exists", 1)[1].lower()  # then the fix
    steps = list(at.dataframe[0].value["Step"])
    assert steps == ["queued", "reading keys", "waiting on SFMC", "finished"]
    assert {m.label for m in at.metric} >= {"Added", "Changed", "Removed", "Rejected", "API calls"}


def test_a_run_that_no_longer_exists(store_env):
    from ui import state

    state.get_engine()
    at = AppTest.from_function(_script, args=(999,), default_timeout=30).run()
    assert any("no longer exists" in w.value for w in at.warning)
