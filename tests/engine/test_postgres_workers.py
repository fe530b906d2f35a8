"""Several workers on one PostgreSQL store: every run executes exactly once, none is left behind."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from sqlalchemy import text

from store.db import create_db_and_tables, make_engine
from store.queue import claim_next_run, enqueue_run, get_run
from tests.engine.test_push_e2e import de_key, people, table

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]
_counter = itertools.count()


@pytest.fixture
def engine(env, pg_server):
    name = f"engine{os.getpid()}_{next(_counter)}"
    admin = make_engine(pg_server.get_uri())
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    eng = make_engine(pg_server.get_uri(name))
    create_db_and_tables(eng)
    yield eng
    eng.dispose()


def test_concurrent_claims_never_hand_out_a_run_twice(engine, make_pathway):
    assert engine.dialect.name == "postgresql"
    pathways = [make_pathway(people(2)) for _ in range(6)]
    queued = {enqueue_run(engine, p).id for p in pathways}
    claimed: list[int] = []
    lock = threading.Lock()

    def claimer(n: int) -> None:
        while True:
            run = claim_next_run(engine, f"t{n}")
            if run is None:
                return
            with lock:
                claimed.append(run.id)

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(claimed) == sorted(queued)


def test_two_worker_processes_share_the_queue(engine, sim, make_pathway):
    pathways = [make_pathway(people(150, tag=f"p{i}")) for i in range(5)]
    run_ids = [enqueue_run(engine, p).id for p in pathways]
    url = engine.url.render_as_string(hide_password=False)
    worker_env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "sync.worker", "--no-schedules", "--exit-when-idle",
             "--worker-id", f"w{n}"],
            cwd=ROOT,
            env=worker_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for n in range(2)
    ]  # fmt: skip
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    done = [get_run(engine, r) for r in run_ids]
    assert [d.state for d in done] == ["succeeded"] * 5, [(d.state, d.error) for d in done]
    assert {d.worker_id for d in done} <= {"w0", "w1"}
    for pid in pathways:
        assert len(table(sim, de_key(engine, pid))) == 150
    stats = requests.get(f"{sim.base_url}/_sim/stats", timeout=10).json()
    # Each row travelled exactly once: no run was executed twice.
    assert stats["rows_received"] == 5 * 150
    assert claim_next_run(engine, "late") is None


def test_incremental_resync_on_postgres_reads_only_changed_rows(engine, sim, make_pathway):
    from store.audience_rows import iter_rows
    from store.ledger import UnsyncedRows
    from sync.runner import run_pathway
    from sync.worker import default_client_factory
    from tests.engine.test_incremental import data_table

    rows = people(30)
    pid = make_pathway(rows)

    def sync() -> object:
        queued = enqueue_run(engine, pid)
        run_pathway(engine, queued.id, client_factory=default_client_factory, chunk_size=10)
        return get_run(engine, queued.id)

    assert sync().rows_succeeded == 30
    name = data_table(engine, pid)
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE \"{name}\" SET name = 'pg-' || name WHERE _row IN (2, 17)"))
        revs = dict(conn.execute(text(f'SELECT _row, _rev FROM "{name}" WHERE _row <= 3')).all())
    assert revs == {1: 0, 2: 1, 3: 0}  # the trigger counted the change
    with engine.connect() as conn:
        audience_id = conn.execute(
            text(f"SELECT audience_id FROM pathway WHERE id = {pid}")
        ).scalar()
    unsynced = [
        r["_row"]
        for chunk in iter_rows(engine, audience_id, row_filter=UnsyncedRows(pid))
        for r in chunk
    ]
    assert unsynced == [2, 17]
    again = sync()
    assert (again.rows_sent, again.rows_skipped, again.rows_total) == (2, 28, 30)
    for i in (1, 16):
        rows[i]["name"] = "pg-" + rows[i]["name"]
    got = table(sim, de_key(engine, pid))
    assert got == {
        r["email"]: {"Email": r["email"], "Name": r["name"], "City": r["city"]} for r in rows
    }
    assert sync().rows_sent == 0


def test_rejected_rows_on_postgres_keep_their_values_as_they_were(engine, sim, make_pathway):
    """Rejected rows travel as JSON text (`store.db.JsonText`); PostgreSQL must store it once."""
    from sync.runner import run_pathway
    from sync.worker import default_client_factory
    from tests.engine.test_push_e2e import rejected

    rows = people(6)
    rows[2]["email"] = "not an address"
    rows[4]["name"] = 'Zoë "quoted" \\ name'
    rows[4]["email"] = "also wrong"
    pid = make_pathway(rows)
    queued = enqueue_run(engine, pid)
    run_pathway(engine, queued.id, client_factory=default_client_factory)
    assert get_run(engine, queued.id).rows_failed == 2
    got = sorted((r.row_values for r in rejected(engine, queued.id)), key=lambda v: v["email"])
    assert got == [
        {"email": "also wrong", "name": 'Zoë "quoted" \\ name', "city": "City 0"},
        {"email": "not an address", "name": "v1-2", "city": "City 2"},
    ]
