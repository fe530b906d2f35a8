"""A worker killed with SIGKILL mid-run: the next worker resumes from the checkpoint.

The final DE equals an uninterrupted run's, every rejected row is recorded exactly once, and the
counters add up (nothing lost, nothing duplicated).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlmodel import Session, select

from simulator import SimulatorConfig, start_simulator
from store.models import RejectedRow
from store.queue import enqueue_run, get_run
from tests.engine.conftest import point_pathway_at
from tests.engine.test_push_e2e import people, table

ROOT = Path(__file__).resolve().parents[2]


def _worker(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sync.worker", "--no-schedules", "--poll", "0.2", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.fixture
def slow_sim():
    config = SimulatorConfig(latency_ms=0, soap_latency_ms=0, async_rows_per_s=2_000, rate_limit=0)
    with start_simulator(config) as running:
        yield running


def test_killed_worker_run_is_resumed_without_loss_or_duplicates(
    env, engine, slow_sim, make_pathway, monkeypatch
):
    # make_pathway uses the `sim` fixture; point it at the slow simulator instead.
    rows = people(6_000)
    bad = {17, 2_500, 5_999}
    for i in bad:
        rows[i]["email"] = f"broken-{i}"
    pid = make_pathway(rows)
    key = point_pathway_at(engine, pid, slow_sim.auth_uri)
    run = enqueue_run(engine, pid)
    worker_env = {**os.environ, "DATABASE_URL": str(engine.url), "PYTHONPATH": str(ROOT)}

    first = _worker(worker_env, "--worker-id", "doomed")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            current = get_run(engine, run.id)
            if current.checkpoint.get("row", 0) > 0:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the first worker never wrote a checkpoint")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    killed = get_run(engine, run.id)
    assert killed.state == "running"
    assert 0 < killed.checkpoint["row"] < 6_000

    time.sleep(1.2)  # let the dead worker's heartbeat go stale
    second = _worker(worker_env, "--worker-id", "rescuer", "--stale-after", "1", "--exit-when-idle")
    assert second.wait(timeout=120) == 0
    done = get_run(engine, run.id)
    assert done.state == "succeeded", (done.state, done.error)
    assert done.worker_id == "rescuer"

    got = table(slow_sim, key)
    expected = {
        r["email"]: {"Email": r["email"], "Name": r["name"], "City": r["city"]}
        for i, r in enumerate(rows)
        if i not in bad
    }
    assert got == expected
    with Session(engine) as session:
        rejected = session.exec(select(RejectedRow).where(RejectedRow.run_id == run.id)).all()
    assert sorted(r.row_values["email"] for r in rejected) == sorted(f"broken-{i}" for i in bad)
    assert (done.rows_succeeded, done.rows_failed) == (6_000 - len(bad), len(bad))
    assert done.rows_read == 6_000
