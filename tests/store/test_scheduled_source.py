"""A scheduled run reads its database source first; a source that is down stops it cleanly.

Real parts: a SQLite source database, the worker, the engine and the HTTP simulator.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import requests
from sqlalchemy import update
from sqlmodel import Session

from sfmc.client import SfmcClient
from sfmc.config import SfmcCredentials
from simulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from store.audiences import create_audience
from store.connections import connection_secret, create_connection
from store.models import Pathway, utcnow
from store.pathways import create_pathway, set_mapping
from store.queue import get_run
from store.refresh import create_sql_dataset
from store.schedules import enqueue_due_runs
from sync.worker import SOURCE_UNAVAILABLE, Worker
from ui.errors import SOURCE_FIX, run_error_help

QUERY = "SELECT email, name FROM donors"


def _source(path, n: int) -> str:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS donors (email TEXT, name TEXT)")
        db.execute("DELETE FROM donors")
        db.executemany("INSERT INTO donors VALUES (?, ?)",
                       [(f"d{i}@example.org", f"Donor {i}") for i in range(n)])  # fmt: skip
    return f"sqlite:///{path}"


def _requests_to_sfmc(sim) -> int:
    stats = requests.get(sim.base_url + "/_sim/stats", timeout=10).json()
    return sum(n for endpoint, n in stats["by_endpoint"].items() if "/_sim/" not in endpoint)


def _de_rows(sim, key: str) -> int:
    resp = requests.get(f"{sim.base_url}/_sim/dataextensions/{key}/rows", timeout=10)
    return len(resp.json()["items"]) if resp.status_code == 200 else 0


def _client(connection):
    """The simulator listens on 127.0.0.1, which only a client told so may call."""
    credentials = SfmcCredentials(auth_base_uri=connection.auth_base_uri, client_id=connection.client_id,
                                  client_secret=connection_secret(connection))  # fmt: skip
    return SfmcClient(credentials=credentials, allow_local=True)


def _scheduled_pathway(engine, sim, url: str) -> int:
    report = create_sql_dataset(engine, "crm", url, QUERY, who="kim", keys=["email"])
    with Session(engine) as session:
        audience = create_audience("crm all", report.dataset_id, session=session)
        conn = create_connection(
            "sim", sim.auth_uri, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, session=session
        )
        pathway = create_pathway(audience.id, conn.id, "CRM", "crm_key", session=session,
                                 category_id=1000, primary_keys=["Email"], schedule="every 5 minutes")  # fmt: skip
        set_mapping(pathway.id, [
            {"source_column": "email", "destination_field": "Email", "field_type": "EmailAddress",
             "length": 254, "is_primary_key": True, "required": True},
            {"source_column": "name", "destination_field": "Name", "length": 100},
        ], session=session)  # fmt: skip
        return int(pathway.id)


def _due_now(engine, pathway_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(update(Pathway.__table__).where(Pathway.__table__.c.id == pathway_id)
                     .values(schedule_slot=utcnow() - timedelta(minutes=6)))  # fmt: skip


def test_a_source_that_is_down_fails_the_run_untouched_and_the_next_slot_retries(
    engine, sim, tmp_path
):
    path = tmp_path / "crm.db"
    pathway_id = _scheduled_pathway(engine, sim, _source(path, 5))
    path.rename(tmp_path / "moved.db")  # the CRM database is down
    _due_now(engine, pathway_id)
    (run_id,) = enqueue_due_runs(engine)
    before = _requests_to_sfmc(sim)
    worker = Worker(engine, _client, worker_id="w", schedules=False)
    assert worker.run_once() == run_id
    run = get_run(engine, run_id)
    assert (run.state, run.error_kind, run.rows_sent) == ("failed", SOURCE_UNAVAILABLE, 0)
    assert "data set 'crm' could not be read" in run.error
    assert "next scheduled run tries again" in run.error
    assert run_error_help(run).endswith(SOURCE_FIX)  # the page says where to look and what to do
    assert _requests_to_sfmc(sim) == before  # nothing in Marketing Cloud was touched
    # The database is back, with two more donors: the next slot reads it first, then sends.
    _source(tmp_path / "moved.db", 7)
    (tmp_path / "moved.db").rename(path)
    _due_now(engine, pathway_id)
    (retry,) = enqueue_due_runs(engine)
    assert worker.run_once() == retry
    done = get_run(engine, retry)
    assert (done.state, done.rows_succeeded) == ("succeeded", 7), done.error
    assert _de_rows(sim, "crm_key") == 7
