"""Several workers on one PostgreSQL store: every run executes exactly once, none is left behind."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
import requests
from sqlalchemy import text

from store import runs
from store.db import create_db_and_tables, make_engine
from tests.engine.test_push_e2e import de_key, people, table

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]
_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_server():
    import pgserver

    # Directly under /tmp: pgserver runs PostgreSQL as its own user, which cannot enter
    # pytest's 0700 base directory.
    data = tempfile.mkdtemp(prefix="pathways-pg-engine-")
    server = pgserver.get_server(data, cleanup_mode="stop")
    yield server
    server.cleanup()
    shutil.rmtree(data, ignore_errors=True)


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
    queued = {runs.enqueue_run(engine, p).id for p in pathways}
    claimed: list[int] = []
    lock = threading.Lock()

    def claimer(n: int) -> None:
        while True:
            run = runs.claim_next_run(engine, f"t{n}")
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
    run_ids = [runs.enqueue_run(engine, p).id for p in pathways]
    url = engine.url.render_as_string(hide_password=False)
    worker_env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "sfmc.worker", "--no-schedules", "--exit-when-idle",
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
    done = [runs.get_run(engine, r) for r in run_ids]
    assert [d.state for d in done] == ["succeeded"] * 5, [(d.state, d.error) for d in done]
    assert {d.worker_id for d in done} <= {"w0", "w1"}
    for pid in pathways:
        assert len(table(sim, de_key(engine, pid))) == 150
    stats = requests.get(f"{sim.base_url}/_sim/stats", timeout=10).json()
    # Each row travelled exactly once: no run was executed twice.
    assert stats["rows_received"] == 5 * 150
    assert runs.claim_next_run(engine, "late") is None
