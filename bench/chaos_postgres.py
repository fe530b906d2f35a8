"""Chaos on PostgreSQL: several worker processes share one store on a real server (pgserver).

`python -m bench chaos --database postgres [--json] [--rows N] [--fast]`

Three scenarios, each in its own database of one `pgserver` instance, with three
`python -m sync.worker` processes against one simulator process, checked row by row like the
SQLite suite (`bench/chaos.py`: lost, duplicated, mismatched):

- `pg_three_workers_one_killed`: the worker running a sync is SIGKILLed mid-run; another one
  resumes the run from its checkpoint;
- `pg_killed_holding_scheduled_slot`: the worker running a scheduled run (its slot taken) is
  killed; the run is resumed and the slot never fires a second run;
- `pg_schedule_fires_once`: a schedule falls due while three workers poll every 0.1 s: one run.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from bench.chaos import PROJECT_DIR, Lab, Scale, ScenarioResult

_STALE = {"full": 3.0, "fast": 1.0}


@contextlib.contextmanager
def postgres_server() -> Iterator[Any]:
    """A PostgreSQL server from the `pgserver` wheel, in a folder of its own, stopped at the end."""
    import pgserver

    # Not under a 0700 folder: as root, pgserver runs the server as an unprivileged user.
    pgdata = tempfile.mkdtemp(prefix="pathways-chaos-pg-")
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    try:
        yield server
    finally:
        server.cleanup()
        shutil.rmtree(pgdata, ignore_errors=True)


class PgLab(Lab):
    """A chaos `Lab` whose store is a new database on the PostgreSQL `server`."""

    def __init__(self, server: Any, *, rows: int, subprocess_sim: list[str]) -> None:
        from sqlalchemy import text

        from store.db import create_db_and_tables, make_engine

        super().__init__(rows=rows, subprocess_sim=subprocess_sim)
        name = f"chaos_{uuid.uuid4().hex[:10]}"
        admin = make_engine(server.get_uri())
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        admin.dispose()
        self.engine.dispose()
        self.db_url = server.get_uri(name)
        self.env["DATABASE_URL"] = self.db_url
        os.environ["DATABASE_URL"] = self.db_url  # restored by the Lab's environment on close
        self.engine = make_engine(self.db_url)
        create_db_and_tables(self.engine)

    def start_worker(
        self, worker_id: str, *, stale_after: float, schedules: bool = False
    ) -> subprocess.Popen[bytes]:
        """A `python -m sync.worker` process on this store (firing schedules when asked)."""
        cmd = [sys.executable, "-m", "sync.worker", "--database-url", self.db_url, "--worker-id", worker_id,
               "--poll", "0.1", "--stale-after", str(stale_after), "--heartbeat", "0.2"]  # fmt: skip
        if not schedules:
            cmd.append("--no-schedules")
        log = (self.dir / f"{worker_id}.log").open("wb")
        proc = subprocess.Popen(cmd, cwd=PROJECT_DIR, env={**os.environ, **self.env},
                                stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        self.workers.append(proc)
        return proc

    def schedule_due(self, pathway_id: int, *, every_minutes: int = 5) -> None:
        """Give the pathway an interval schedule whose next slot is due now."""
        from sqlalchemy import update

        from store.models import Pathway, utcnow

        table = Pathway.__table__  # type: ignore[attr-defined]
        with self.engine.begin() as conn:
            conn.execute(update(table).where(table.c.id == pathway_id).values(
                schedule=f"every {every_minutes} minutes",
                schedule_slot=utcnow() - timedelta(minutes=every_minutes, seconds=1)))  # fmt: skip

    def scheduled_runs(self, pathway_id: int) -> list[int]:
        from sqlalchemy import select

        from store.models import SyncRun

        with self.engine.connect() as conn:
            return list(conn.execute(select(SyncRun.id).where(SyncRun.pathway_id == pathway_id,
                                                              SyncRun.trigger == "schedule")).scalars())  # fmt: skip


def _sim_flags(rows: int, seconds: float) -> list[str]:
    """A simulator process that takes about `seconds` to accept `rows` rows."""
    return ["--latency-ms", "2", "--soap-latency-ms", "2", "--rate-limit", "0",
            "--async-rows-per-s", str(rows / seconds)]  # fmt: skip


def _kill_mid_run(
    lab: PgLab, run_id: int, workers: dict[str, Any]
) -> tuple[str, int, int | None, bool]:
    """SIGKILL the run's worker once a quarter is acknowledged; returns who, where, resume row.

    The resume row is read from the run's message ("Resuming after row N.") as the next worker
    takes the run over; None when the run ended before anyone was seen resuming it.
    """
    lab.wait_for(lambda: lab.run_row(run_id).worker_id in workers, 60, "a worker's claim")
    lab.wait_for(lambda: lab.checkpoint(run_id) >= lab.n_rows // 4 or lab.run_row(run_id).state != "running",
                 120, "the run's progress")  # fmt: skip
    victim = lab.run_row(run_id).worker_id
    mid_run = lab.run_row(run_id).state == "running"
    workers[victim].send_signal(signal.SIGKILL)
    workers[victim].wait()
    at_kill = lab.checkpoint(run_id)
    resumed: list[int] = []

    def taken_over() -> bool:
        run = lab.run_row(run_id)
        found = re.search(r"Resuming after row (\d+)", run.message or "")
        if found and run.worker_id != victim:
            resumed.append(int(found.group(1)))
        return bool(resumed) or run.state not in ("queued", "running")

    lab.wait_for(taken_over, 120, "another worker to resume the run")
    lab.wait_for(
        lambda: lab.run_row(run_id).state not in ("queued", "running"), 180, "the run to finish"
    )
    return str(victim), at_kill, resumed[0] if resumed else None, mid_run


def _stop(workers: dict[str, Any]) -> None:
    for proc in workers.values():
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)


def scenario_three_workers_one_killed(server: Any, scale: Scale) -> ScenarioResult:
    """Three workers; the one running the sync is killed mid-run, another resumes it."""
    started = time.monotonic()
    rows = max(scale.rows, 1500)
    with PgLab(server, rows=rows, subprocess_sim=_sim_flags(rows, scale.t(12, 3))) as lab:
        pid = lab.make_pathway()
        stale = scale.t(_STALE["full"], _STALE["fast"])
        workers = {f"pg-w{n}": lab.start_worker(f"pg-w{n}", stale_after=stale) for n in (1, 2, 3)}
        run_id = lab.enqueue(pid)
        victim, at_kill, resumed_at, mid_run = _kill_mid_run(lab, run_id, workers)
        finisher = lab.run_row(run_id).worker_id
        _stop(workers)
        ok = mid_run and resumed_at is not None and resumed_at >= at_kill > 0 and finisher != victim
        note = f"{victim} killed at checkpoint {at_kill}; {finisher} resumed after row {resumed_at}"
        return lab.result("pg_three_workers_one_killed", [run_id], started, ok=ok, note=note)


def scenario_killed_holding_slot(server: Any, scale: Scale) -> ScenarioResult:
    """The worker running a scheduled run is killed; the run resumes, the slot fires once."""
    started = time.monotonic()
    rows = max(scale.rows, 1500)
    with PgLab(server, rows=rows, subprocess_sim=_sim_flags(rows, scale.t(12, 3))) as lab:
        pid = lab.make_pathway()
        stale = scale.t(_STALE["full"], _STALE["fast"])
        lab.schedule_due(pid)
        workers = {f"pg-s{n}": lab.start_worker(f"pg-s{n}", stale_after=stale, schedules=True)
                   for n in (1, 2, 3)}  # fmt: skip
        lab.wait_for(lambda: bool(lab.scheduled_runs(pid)), 60, "the scheduled run")
        run_id = lab.scheduled_runs(pid)[0]
        victim, at_kill, resumed_at, mid_run = _kill_mid_run(lab, run_id, workers)
        time.sleep(scale.t(3, 1.5))  # the two left keep polling the schedule
        runs = lab.scheduled_runs(pid)
        _stop(workers)
        ok = mid_run and resumed_at is not None and resumed_at >= at_kill > 0 and runs == [run_id]
        note = (f"{victim} killed holding the slot's run at checkpoint {at_kill}; resumed after row "
                f"{resumed_at}; scheduled runs: {len(runs)}")  # fmt: skip
        return lab.result("pg_killed_holding_scheduled_slot", [run_id], started, ok=ok, note=note)


def scenario_schedule_fires_once(server: Any, scale: Scale) -> ScenarioResult:
    """A slot falls due while three workers poll the schedules every 0.1 s: exactly one run."""
    started = time.monotonic()
    rows = max(scale.rows, 1500)
    with PgLab(server, rows=rows, subprocess_sim=_sim_flags(rows, scale.t(6, 2))) as lab:
        pid = lab.make_pathway()
        workers = {f"pg-f{n}": lab.start_worker(f"pg-f{n}", stale_after=30, schedules=True)
                   for n in (1, 2, 3)}  # fmt: skip
        time.sleep(scale.t(6, 4))  # all three started and polling
        lab.schedule_due(pid)
        lab.wait_for(lambda: bool(lab.scheduled_runs(pid)), 60, "the scheduled run")
        run_id = lab.scheduled_runs(pid)[0]
        lab.wait_for(lambda: lab.run_row(run_id).state not in ("queued", "running"), 180, "the run")
        time.sleep(scale.t(3, 1.5))
        runs = lab.scheduled_runs(pid)
        alive = sum(p.poll() is None for p in workers.values())
        _stop(workers)
        note = f"{len(runs)} scheduled run(s) with {alive} workers polling"
        return lab.result("pg_schedule_fires_once", [run_id], started, ok=runs == [run_id] and alive == 3,
                          note=note)  # fmt: skip


SCENARIOS: dict[str, Callable[[Any, Scale], ScenarioResult]] = {
    "pg_three_workers_one_killed": scenario_three_workers_one_killed,
    "pg_killed_holding_scheduled_slot": scenario_killed_holding_slot,
    "pg_schedule_fires_once": scenario_schedule_fires_once,
}


def run_suite(server: Any, *, rows: int, fast: bool, only: list[str] | None = None,
              on_result: Callable[[ScenarioResult], None] | None = None) -> list[ScenarioResult]:  # fmt: skip
    """Run the PostgreSQL scenarios (all, or `only`) on `server`; a crash is a failed result."""
    results = []
    for name in only or list(SCENARIOS):
        begun = time.monotonic()
        try:
            result = SCENARIOS[name](server, Scale(rows=rows, fast=fast))
        except Exception as exc:
            result = ScenarioResult(name, rows, 0, 0, 0, 0, False, seconds=round(time.monotonic() - begun, 1),
                                    note=f"crashed: {type(exc).__name__}: {exc}")  # fmt: skip
        results.append(result)
        if on_result:
            on_result(result)
    return results


def run_on_new_server(*, rows: int, fast: bool, only: list[str] | None,
                      on_result: Callable[[ScenarioResult], None]) -> list[ScenarioResult]:  # fmt: skip
    """`python -m bench chaos --database postgres`: start pgserver, run the suite, stop it."""
    unknown = sorted(set(only or ()) - set(SCENARIOS))
    if unknown:
        msg = f"Unknown PostgreSQL scenario(s) {', '.join(unknown)}: use one of {', '.join(SCENARIOS)}."
        raise SystemExit(msg)
    with postgres_server() as server:
        return run_suite(server, rows=rows, fast=fast, only=only, on_result=on_result)


def run(args: Any) -> int:
    """`python -m bench chaos --database postgres ...` (bench/chaos.py hands its arguments here)."""
    import json
    from dataclasses import asdict

    from bench.chaos import summary, table

    def show(result: ScenarioResult) -> None:
        if not args.json:
            mark = "ok  " if result.passed else "FAIL"
            print(f"{mark} {result.name}: {result.rows_in_de:,}/{result.rows:,} rows in DE, lost {result.lost}, "
                  f"duplicated {result.duplicated} ({result.seconds:g} s) {result.note}", flush=True)  # fmt: skip

    rows = args.rows or (1500 if args.fast else 20_000)
    results = run_on_new_server(rows=rows, fast=args.fast, only=args.only, on_result=show)
    line = summary(results)
    if args.json:
        print(
            json.dumps(
                {"database": "postgres", "scenarios": [asdict(r) for r in results], "summary": line}
            )
        )
    else:
        print(f"\n{table(results)}\n\nsummary: {line['passed']}/{line['scenarios']} passed, lost {line['lost']}, "
              f"duplicated {line['duplicated']}, {line['seconds']:g} s")  # fmt: skip
    return 0 if not line["failed"] else 1
