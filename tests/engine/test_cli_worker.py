"""`python -m sync push` and the in-app background worker."""

from __future__ import annotations

import subprocess
import sys
import time

from store.queue import ACTIVE_STATES, enqueue_run, get_run
from sync.cli import main
from sync.worker import Worker, start_background_worker
from tests.engine.test_push_e2e import de_key, people, table


def test_cli_push_prints_summary_and_exit_codes(engine, sim, make_pathway, capsys):
    rows = people(12)
    rows[4]["email"] = "nope"
    pid = make_pathway(rows)
    url = str(engine.url)
    assert main(["push", "--pathway", str(pid), "--database-url", url, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "State: succeeded" in out
    assert "Dry run: 11 to create" in out
    assert "InvalidEmailAddress" in out
    assert main(["push", "--pathway", str(pid), "--database-url", url]) == 0
    out = capsys.readouterr().out
    assert "11 rows written, 1 rejected" in out
    assert len(table(sim, de_key(engine, pid))) == 11
    assert main(["push", "--pathway", "999", "--database-url", url]) == 2
    enqueue_run(engine, pid)
    assert main(["push", "--pathway", str(pid), "--database-url", url]) == 2
    assert "already has a queued sync" in capsys.readouterr().out


def test_background_worker_runs_queued_and_scheduled_syncs(engine, sim, make_pathway):
    pid = make_pathway(people(5))
    queued = enqueue_run(engine, pid)
    worker = start_background_worker(engine, poll_interval=0.05)
    try:
        assert start_background_worker(engine) is worker  # started once
        deadline = time.monotonic() + 30
        while get_run(engine, queued.id).state in ACTIVE_STATES:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        worker.stop()
    assert get_run(engine, queued.id).state == "succeeded"
    assert len(table(sim, de_key(engine, pid))) == 5


def test_worker_fires_due_schedules(engine, sim, make_pathway):
    from sqlalchemy import update

    from store.models import Pathway

    pid = make_pathway(people(3))
    with engine.begin() as conn:
        conn.execute(
            update(Pathway.__table__).where(Pathway.__table__.c.id == pid).values(schedule="daily")
        )
    worker = Worker(engine, poll_interval=0.01)
    ran = worker.run_once()
    assert ran is not None
    assert get_run(engine, ran).trigger == "schedule"
    assert get_run(engine, ran).state == "succeeded"
    assert worker.run_once() is None  # not due again for a day


class _CountingWorker(Worker):
    """A worker that counts its looks at the queue."""

    looks = 0

    def run_once(self) -> int | None:
        ran = super().run_once()
        self.looks += 1
        return ran


def test_a_woken_worker_takes_a_queued_run_without_waiting_for_its_poll(engine, sim, make_pathway):
    import threading

    pid = make_pathway(people(3))
    worker = _CountingWorker(engine, poll_interval=3600, schedules=False)
    thread = threading.Thread(target=worker.run_forever, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not worker.looks:  # it found nothing and now sleeps for an hour
        assert time.monotonic() < deadline
        time.sleep(0.01)
    queued = enqueue_run(engine, pid)
    worker.wake()
    while get_run(engine, queued.id).state in ACTIVE_STATES:
        assert time.monotonic() < deadline, "the woken worker did not take the run"
        time.sleep(0.05)
    assert get_run(engine, queued.id).state == "succeeded"
    worker.stop()  # wakes it too: the loop ends now, not in an hour
    thread.join(timeout=30)
    assert not thread.is_alive()


def test_a_run_keeps_older_objects_out_of_the_collectors_passes(engine, sim, make_pathway):
    import gc

    from sync.worker import default_client_factory

    frozen: list[int] = []

    def client_for(connection):
        frozen.append(gc.get_freeze_count())  # asked for during the run
        return default_client_factory(connection)

    queued = enqueue_run(engine, make_pathway(people(3)))
    assert Worker(engine, client_for, schedules=False).run_once() == queued.id
    assert get_run(engine, queued.id).state == "succeeded"
    assert frozen[0] > 1_000  # the modules and whatever else lived before the run
    assert gc.get_freeze_count() == 0  # collected as before once it is over


def test_the_worker_does_not_load_the_importer_until_a_source_is_refreshed():
    """pyarrow and sqlglot (the importer, database sources) cost a sync about 60 MB of memory."""
    probe = (
        "import sys, sync.worker, sync.runner, sfmc.client, store.audience_rows;"
        "print(sorted(m for m in ('pyarrow', 'numpy', 'sqlglot') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
