"""Chaos suite: push audiences through faults and check the final Data Extension row by row.

`python -m bench chaos [--json] [--rows N] [--fast] [--only NAME ...]`

Every scenario builds its own world in a temporary directory (a SQLite store, an encrypted
connection, a data set with valid and invalid rows, a pathway) against a real simulator over
HTTP, injects faults while the run is under way, and then compares the DE with the expected
result:

- `lost`: valid rows missing from the DE *and* not among the run's rejected rows (with a reason),
  plus invalid rows that were neither rejected nor written (silently dropped);
- `duplicated`: keys present more than once in the DE, and rows in the DE that should not be
  there (keys outside the audience, or invalid rows that got in);
- `mismatched`: valid rows in the DE whose values differ from the audience;
- `rejected`: distinct keys in the rejected rows of the scenario's final run(s).

A scenario passes when lost = duplicated = mismatched = 0 and its own checks held (e.g. a clear
message when the folder is gone). `--fast` scales rows, token lifetimes and fault durations down
so that the whole suite runs in well under a minute (`tests/chaos/test_chaos_fast.py`).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from bench.common import SimProcess

PROJECT_DIR = Path(__file__).resolve().parent.parent
FIELDS = ("Email", "Name", "City", "Gifts")
NAME_LENGTH = 50
# The simulator's tenant the scenarios run on: "ideal", or "realistic" (simulator.realism).
PROFILE: ContextVar[str] = ContextVar("chaos_profile", default="ideal")
FAST: ContextVar[bool] = ContextVar("chaos_fast", default=False)


# ---------------------------------------------------------------------------------------------
# Results


@dataclass
class ScenarioResult:
    """One scenario's figures (the JSON shape of `python -m bench chaos --json`)."""

    name: str
    rows: int
    rows_in_de: int
    lost: int
    duplicated: int
    rejected: int
    passed: bool
    mismatched: int = 0
    seconds: float = 0.0
    note: str = ""


@dataclass
class Expected:
    """What the audience should become: valid rows by lower-cased email, and invalid keys."""

    valid: dict[str, dict[str, str]]
    invalid: set[str]


def audience_rows(n: int, *, seed: str = "v1") -> list[dict[str, str]]:
    """A deterministic audience of `n` rows; about 4% of them are invalid for the DE."""
    rows = []
    for i in range(n):
        email = f"donor{i:06d}@example.org"
        name = f"Donor {i} {seed}"
        if i % 50 == 7:
            email = f"not-an-email-{i}"  # InvalidEmailAddress
        elif i % 50 == 23:
            name = "N" * (NAME_LENGTH + 10)  # MaxLengthExceeded
        rows.append({"email": email, "name": name, "city": f"City {i % 13}", "gifts": str(i % 97)})
    return rows


def expected_of(rows: list[dict[str, str]]) -> Expected:
    valid: dict[str, dict[str, str]] = {}
    invalid: set[str] = set()
    for r in rows:
        key = r["email"].lower()
        if "@" not in r["email"] or len(r["name"]) > NAME_LENGTH:
            invalid.add(key)
            continue
        valid[key] = {
            "Email": r["email"],
            "Name": r["name"],
            "City": r["city"],
            "Gifts": r["gifts"],
        }
    return Expected(valid, invalid)


def compare(
    de_rows: list[dict[str, Any]], expected: Expected, rejected_keys: set[str]
) -> tuple[int, int, int]:
    """(lost, duplicated, mismatched) of a DE against the expected rows (see module doc)."""
    seen: dict[str, int] = {}
    mismatched = 0
    unexpected = 0
    for row in de_rows:
        key = str(row.get("Email") or "").lower()
        seen[key] = seen.get(key, 0) + 1
        want = expected.valid.get(key)
        if want is None:
            unexpected += 1
            continue
        got = {f: "" if row.get(f) is None else str(row.get(f)) for f in FIELDS}
        if got != want:
            mismatched += 1
    duplicated = unexpected + sum(n - 1 for n in seen.values() if n > 1)
    lost = sum(1 for k in expected.valid if k not in seen and k not in rejected_keys)
    lost += sum(1 for k in expected.invalid if k not in seen and k not in rejected_keys)
    return lost, duplicated, mismatched


# ---------------------------------------------------------------------------------------------
# A scenario's world


@contextlib.contextmanager
def _env(values: dict[str, str]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class Lab:
    """Temporary store + simulator + helpers for one scenario."""

    def __init__(
        self, *, rows: int, sim_config: Any | None = None, subprocess_sim: list[str] | None = None
    ) -> None:
        from cryptography.fernet import Fernet

        self._tmp = tempfile.TemporaryDirectory(prefix="pathways-chaos-")
        self.dir = Path(self._tmp.name)
        self.db_path = self.dir / "store.db"
        self.db_url = f"sqlite:///{self.db_path}"
        self.env = {
            "PATHWAYS_DATA_DIR": str(self.dir),
            "PATHWAYS_SECRET_KEY": Fernet.generate_key().decode(),
            "PATHWAYS_DEMO": "1",
            "DATABASE_URL": self.db_url,
        }
        self._env_cm = _env(self.env)
        self._env_cm.__enter__()
        from store.db import create_db_and_tables, make_engine

        self.engine = make_engine(self.db_url)
        create_db_and_tables(self.engine)
        self.n_rows = rows
        self.proc_sim: SimProcess | None = None
        if subprocess_sim is not None:
            self.proc_sim = SimProcess(
                flags=[*subprocess_sim, *realism_flags()], wait=False
            )  # starts while the audience is built
        self.rows = audience_rows(rows)
        self.expected = expected_of(self.rows)
        if self.proc_sim is not None:
            self.proc_sim.wait_ready()
            self.sim: Any = self.proc_sim
        else:
            from simulator import SimulatorConfig, start_simulator

            self.sim = start_simulator(
                sim_config
                or SimulatorConfig(latency_ms=0, soap_latency_ms=0, rate_limit=0, realism=realism())
            )
        self.client_timeout = 30.0
        self.workers: list[subprocess.Popen[bytes]] = []

    def close(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.sim.stop()
        self.engine.dispose()
        self._env_cm.__exit__(None, None, None)
        self._tmp.cleanup()

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- setup
    def make_pathway(self, *, method: str = "upsert", category_id: int | None = None) -> int:
        from sqlmodel import Session

        from simulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
        from store.audiences import create_audience
        from store.connections import create_connection
        from store.datasets import get_dataset_by_name
        from store.importer import import_file
        from store.pathways import create_pathway, set_mapping

        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(self.rows[0]))
        writer.writeheader()
        writer.writerows(self.rows)
        tag = uuid.uuid4().hex[:8]
        import_file(self.engine, out.getvalue().encode(), name=f"chaos {tag}", filename="chaos.csv")
        with Session(self.engine) as session:
            ds = get_dataset_by_name(f"chaos {tag}", session=session)
            assert ds is not None
            audience = create_audience(f"Chaos {tag}", ds.id, session=session)
            conn = create_connection(
                f"sim {tag}", self.sim.auth_uri, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, session=session
            )
            pathway = create_pathway(
                audience.id,
                conn.id,
                f"Chaos {tag}",
                f"chaos_{tag}",
                session=session,
                method=method,
                category_id=category_id or self.root_folder(),
                primary_keys=["Email"],
            )
            types = {"email": ("EmailAddress", 254), "name": ("Text", NAME_LENGTH),
                     "city": ("Text", 50), "gifts": ("Number", None)}  # fmt: skip
            set_mapping(
                pathway.id,
                [
                    {
                        "source_column": col,
                        "destination_field": col.title(),
                        "field_type": ftype,
                        "length": length,
                        "required": col == "email",
                        "is_primary_key": col == "email",
                    }
                    for col, (ftype, length) in types.items()
                ],
                session=session,
            )
            self.customer_key = pathway.de_customer_key
            return int(pathway.id)

    def update_pathway(self, pathway_id: int, **values: Any) -> None:
        """Change a pathway behind the product's back, as a user editing it elsewhere would."""
        from sqlmodel import Session

        from store.models import Pathway

        with Session(self.engine) as session:
            pathway = session.get(Pathway, pathway_id)
            assert pathway is not None
            for name, value in values.items():
                setattr(pathway, name, value)
            session.add(pathway)
            session.commit()
        self.customer_key = values.get("de_customer_key", self.customer_key)

    def root_folder(self) -> int:
        folders = self.get("/_sim/folders")["items"]
        return next(f["id"] for f in folders if f["parentId"] == 0)

    # --- simulator
    def get(self, path: str) -> Any:
        resp = requests.get(self.sim.base_url + path, timeout=30)
        resp.raise_for_status()
        return resp.json()

    def faults(self, **knobs: Any) -> None:
        requests.post(self.sim.base_url + "/_sim/faults", json=knobs, timeout=30).raise_for_status()

    def delete(self, path: str) -> None:
        requests.delete(self.sim.base_url + path, timeout=30).raise_for_status()

    def de_rows(self) -> list[dict[str, Any]]:
        resp = requests.get(
            f"{self.sim.base_url}/_sim/dataextensions/{quote(self.customer_key, safe='')}/rows",
            timeout=60,
        )
        if resp.status_code == 404:
            return []
        resp.raise_for_status()
        return resp.json()["items"]

    # --- runs
    def client_factory(self, connection: Any) -> Any:
        from sfmc.client import SfmcClient
        from sfmc.config import SfmcCredentials
        from store.connections import connection_secret

        credentials = SfmcCredentials(
            auth_base_uri=connection.auth_base_uri,
            client_id=connection.client_id,
            client_secret=connection_secret(connection),
        )
        return SfmcClient(credentials=credentials, allow_local=True, timeout=self.client_timeout,
                          share_tokens=True)  # fmt: skip

    def enqueue(self, pathway_id: int, *, full: bool = False) -> int:
        from store.queue import enqueue_run

        return int(enqueue_run(self.engine, pathway_id, "manual", full_resend=full).id)  # type: ignore[arg-type]

    def run(self, pathway_id: int, *, full: bool = False, options: Any = None) -> Any:
        """Run a sync in this process (blocking) and return the finished run row."""
        from store.queue import get_run
        from sync.runner import run_pathway

        run_id = self.enqueue(pathway_id, full=full)
        run_pathway(self.engine, run_id, client_factory=self.client_factory, options=options,
                    chunk_size=max(100, self.n_rows // 20), heartbeat_every=0.5)  # fmt: skip
        return get_run(self.engine, run_id)

    def run_in_thread(
        self, pathway_id: int, *, options: Any = None
    ) -> tuple[int, threading.Thread]:
        from sync.runner import run_pathway

        run_id = self.enqueue(pathway_id)
        thread = threading.Thread(
            target=run_pathway,
            args=(self.engine, run_id),
            kwargs={
                "client_factory": self.client_factory,
                "options": options,
                "chunk_size": max(100, self.n_rows // 20),
                "heartbeat_every": 0.5,
            },  # fmt: skip
            daemon=True,
        )
        thread.start()
        return run_id, thread

    def run_row(self, run_id: int) -> Any:
        from store.queue import get_run

        return get_run(self.engine, run_id)

    def wait_for(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                msg = f"timed out after {timeout:g} s waiting for {what}"
                raise TimeoutError(msg)
            time.sleep(0.05)

    def checkpoint(self, run_id: int) -> int:
        run = self.run_row(run_id)
        return int((run.checkpoint or {}).get("row", 0) or 0)

    def rejected_keys(self, run_ids: list[int]) -> set[str]:
        from sqlmodel import Session, col, select

        from store.models import RejectedRow

        with Session(self.engine) as session:
            rows = session.exec(
                select(RejectedRow).where(col(RejectedRow.run_id).in_(run_ids))
            ).all()
        return {
            str(r.row_values.get("email", "")).lower()
            for r in rows
            if r.error_type and r.error_details
        }

    def result(
        self, name: str, run_ids: list[int], started: float, *, ok: bool = True, note: str = ""
    ) -> ScenarioResult:
        de = self.de_rows()
        rejected = self.rejected_keys(run_ids)
        lost, duplicated, mismatched = compare(de, self.expected, rejected)
        states = [self.run_row(r).state for r in run_ids]
        final = self.run_row(run_ids[-1])
        if final.state != "succeeded":
            ok = False
            note = (note + f" final run {final.state}: {final.error or final.message}").strip()
        passed = ok and lost == 0 and duplicated == 0 and mismatched == 0
        if not note:
            note = f"runs {', '.join(states)}"
        return ScenarioResult(
            name=name,
            rows=self.n_rows,
            rows_in_de=len(de),
            lost=lost,
            duplicated=duplicated,
            rejected=len(rejected),
            passed=passed,
            mismatched=mismatched,
            seconds=round(time.monotonic() - started, 1),
            note=note,
        )

    # --- worker subprocesses
    def start_worker(self, worker_id: str, *, stale_after: float) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-m", "sync.worker", "--database-url", self.db_url,
               "--worker-id", worker_id, "--poll", "0.1", "--stale-after", str(stale_after),
               "--heartbeat", "0.2", "--no-schedules"]  # fmt: skip
        log = (self.dir / f"{worker_id}.log").open("wb")
        proc = subprocess.Popen(cmd, cwd=PROJECT_DIR, env={**os.environ, **self.env},
                                stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        self.workers.append(proc)
        return proc


# ---------------------------------------------------------------------------------------------
# Scenarios


@dataclass(frozen=True)
class Scale:
    """Sizes and durations of a suite run (`--fast` shrinks them)."""

    rows: int
    fast: bool

    def t(self, full: float, fast: float) -> float:
        return fast if self.fast else full


def realism(**knobs: Any) -> Any:
    """The current profile's tenant (`PROFILE`), with `knobs` overriding single behaviours.

    `--fast` shortens the realistic waits to about a second (the suite stays short).
    """
    from simulator.realism import PROFILES

    tenant = PROFILES[PROFILE.get()]
    if PROFILE.get() != "ideal" and FAST.get():
        tenant = replace(tenant, pickup_median_s=0.3, pickup_long_min_s=1.0,
                         pickup_long_max_s=2.0, transient_error_s=1.0, journey_processing_s=0.5)  # fmt: skip
    return replace(tenant, **knobs)


def realism_flags() -> list[str]:
    """`python -m simulator` flags of `realism()` (for simulators run as a subprocess)."""
    from simulator.realism import Realism

    tenant = realism()
    flags = [f"--profile={PROFILE.get()}"]
    for name, _, _ in Realism.knobs():
        value = getattr(tenant, name)
        flag = "--" + name.replace("_", "-")
        flags.append(
            (flag if value else "--no-" + flag[2:])
            if isinstance(value, bool)
            else f"{flag}={value}"
        )
    return flags


def _sim_config(**kwargs: Any) -> Any:
    from simulator import SimulatorConfig

    base: dict[str, Any] = {
        "latency_ms": 0,
        "soap_latency_ms": 0,
        "rate_limit": 0,
        "random_seed": 11,
        "realism": realism(),
    }
    base.update(kwargs)
    return SimulatorConfig(**base)


def _options(scale: Scale, **kwargs: Any) -> Any:
    from sync.types import PushOptions

    base: dict[str, Any] = {"batch_rows": max(50, scale.rows // 8), "in_flight": 3}
    base.update(kwargs)
    return PushOptions(**base)


def _rate(scale: Scale, seconds: float) -> float:
    """Async rows/s so that pushing the audience takes about `seconds`."""
    return max(50.0, scale.rows / seconds)


def scenario_worker_killed_twice(scale: Scale) -> ScenarioResult:
    """SIGKILL the worker process mid-run twice; a new worker process resumes each time."""
    from store.queue import ACTIVE_STATES

    started = time.monotonic()
    rows = max(scale.rows, 1500)
    seconds = scale.t(12, 2.5)
    args = ["--latency-ms", "2", "--soap-latency-ms", "2", "--rate-limit", "0",
            "--async-rows-per-s", str(rows / seconds)]  # fmt: skip
    with Lab(rows=rows, subprocess_sim=args) as lab:
        pid = lab.make_pathway()
        run_id = lab.enqueue(pid)
        stale = scale.t(3, 1.0)

        def owner() -> str | None:
            return lab.run_row(run_id).worker_id

        # Each next worker starts as soon as the previous one owns the run, so its start-up
        # overlaps the run; it claims the run only once the dead worker's heartbeat is stale.
        w1 = lab.start_worker("chaos-w1", stale_after=stale)
        lab.wait_for(lambda: owner() == "chaos-w1", 60, "worker 1's claim")
        w2 = lab.start_worker("chaos-w2", stale_after=stale)
        target = max(1, rows // 4)  # kill once about a quarter of the audience is acknowledged
        lab.wait_for(lambda: lab.checkpoint(run_id) >= target or lab.run_row(run_id).state != "running",
                     120, "worker 1's progress")  # fmt: skip
        killed_twice = lab.run_row(run_id).state == "running"
        w1.send_signal(signal.SIGKILL)
        w1.wait()
        first = lab.checkpoint(run_id)
        lab.wait_for(lambda: owner() == "chaos-w2", 60, "worker 2's claim")
        w3 = lab.start_worker("chaos-w3", stale_after=stale)
        lab.wait_for(lambda: lab.checkpoint(run_id) > first or lab.run_row(run_id).state != "running",
                     60, "worker 2's progress")  # fmt: skip
        killed_twice = killed_twice and lab.run_row(run_id).state == "running"
        w2.send_signal(signal.SIGKILL)
        w2.wait()
        second = lab.checkpoint(run_id)
        lab.wait_for(
            lambda: lab.run_row(run_id).state not in ACTIVE_STATES, 120, "the run to finish"
        )
        resumed_by = owner()
        w3.terminate()
        w3.wait(timeout=10)
        note = f"killed at checkpoints {first} and {second}; finished by {resumed_by}"
        killed_twice = killed_twice and resumed_by == "chaos-w3"
        if not killed_twice:
            note += " (worker 2 finished before the second kill)"
        return lab.result("worker_killed_twice", [run_id], started, ok=killed_twice, note=note)


def scenario_token_expiry(scale: Scale) -> ScenarioResult:
    """Tokens live 30 s (fast: 2 s) across a long run, plus a forced early expiry mid-run."""
    started = time.monotonic()
    ttl = int(scale.t(30, 2))
    seconds = scale.t(70, 2.5)
    with Lab(
        rows=scale.rows,
        sim_config=_sim_config(token_ttl=ttl, async_rows_per_s=_rate(scale, seconds)),
    ) as lab:
        pid = lab.make_pathway()
        run_id, thread = lab.run_in_thread(pid, options=_options(scale))
        lab.wait_for(lambda: lab.checkpoint(run_id) > 0, 60, "the first checkpoint")
        lab.faults(expire_tokens=True)
        time.sleep(seconds / 3)
        lab.faults(expire_tokens=True)
        thread.join()
        issued = lab.get("/_sim/stats")["by_endpoint"].get("POST /v2/token", 0)
        return lab.result("token_expiry", [run_id], started, ok=issued >= 3,
                          note=f"token ttl {ttl} s, 2 forced expiries, {issued} tokens issued")  # fmt: skip


def scenario_429_storm(scale: Scale) -> ScenarioResult:
    """A 429 storm with Retry-After in the middle of the run (plus the normal rate limit)."""
    started = time.monotonic()
    storm = scale.t(8, 1.0)
    retry_after = int(scale.t(2, 1))
    config = _sim_config(
        rate_limit=40, retry_after_s=retry_after, async_rows_per_s=_rate(scale, scale.t(10, 2))
    )
    with Lab(rows=scale.rows, sim_config=config) as lab:
        pid = lab.make_pathway()
        run_id, thread = lab.run_in_thread(pid, options=_options(scale))
        lab.wait_for(lambda: lab.checkpoint(run_id) > 0, 60, "the first checkpoint")
        lab.faults(storm_seconds=storm)
        thread.join()
        throttled = lab.get("/_sim/stats")["faults"].get("throttled", 0)
        return lab.result("429_storm", [run_id], started, ok=throttled > 0,
                          note=f"{storm:g} s storm, Retry-After {retry_after} s, {throttled} throttled answers")  # fmt: skip


def scenario_soap_throttling(scale: Scale) -> ScenarioResult:
    """Mirror with 25% of SOAP calls throttled: key reads, deletes and DE lookups all retried."""
    started = time.monotonic()
    with Lab(rows=scale.rows, sim_config=_sim_config()) as lab:
        pid = lab.make_pathway(method="mirror")
        first = lab.run(pid, options=_options(scale))
        # Behind the tool's back: stale rows to delete, and tampered values to correct.
        stale = [{"Email": f"stale{i}@example.org", "Name": "stale", "City": "x", "Gifts": "1"}
                 for i in range(max(5, scale.rows // 20))]  # fmt: skip
        tampered = [{**v, "Name": "tampered"} for v in list(lab.expected.valid.values())[:10]]
        requests.post(f"{lab.sim.base_url}/_sim/dataextensions/{lab.customer_key}/rows",
                      json={"items": stale + tampered}, timeout=30).raise_for_status()  # fmt: skip
        lab.faults(soap_throttle_rate=0.25)
        batch = max(3, len(stale) // 10)  # about ten SOAP deletes, each may be throttled
        second = lab.run(pid, full=True, options=_options(scale, delete_batch=batch))
        throttled = lab.get("/_sim/stats")["faults"].get("throttled", 0)
        note = f"{len(stale)} stale rows deleted: {second.rows_deleted}; {throttled} SOAP throttle faults"
        ok = throttled > 0 and second.rows_deleted == len(stale)
        return lab.result("soap_throttling", [first.id, second.id], started, ok=ok, note=note)


def scenario_http_errors(scale: Scale) -> ScenarioResult:
    """5% of requests answer 500/503, plus dropped connections and client-side timeouts."""
    started = time.monotonic()
    timeout_s = scale.t(3, 1.5)
    config = _sim_config(async_rows_per_s=_rate(scale, scale.t(10, 2)))
    with Lab(rows=scale.rows, sim_config=config) as lab:
        lab.client_timeout = timeout_s / 2
        pid = lab.make_pathway()
        lab.faults(error_rate=0.05, drop_rate=0.01, timeout_rate=0.01, timeout_s=timeout_s)
        done = lab.run(pid, options=_options(scale))
        faults = lab.get("/_sim/stats")["faults"]
        note = ", ".join(f"{k} {v}" for k, v in sorted(faults.items()))
        return lab.result("http_5xx_drops_timeouts", [done.id], started, ok=bool(faults), note=note)


def scenario_async_errors(scale: Scale) -> ScenarioResult:
    """Async requests ending in Error status, partial result pages, and deadlocked rows."""
    started = time.monotonic()
    with Lab(rows=scale.rows, sim_config=_sim_config()) as lab:
        pid = lab.make_pathway()
        lab.faults(async_error_rate=0.15, partial_results_rate=0.5, deadlock_rate=0.02)
        first = lab.run(pid, options=_options(scale, batch_rows=max(20, scale.rows // 20)))
        # Rows SFMC failed twice are rejected as retryable; the next (incremental) run sends them.
        lab.faults(async_error_rate=0, partial_results_rate=0, deadlock_rate=0)
        second = lab.run(pid, options=_options(scale))
        first_rejects = len(lab.rejected_keys([first.id])) - len(lab.expected.invalid)
        note = f"first run: {first_rejects} retryable rejects; second run sent {second.rows_sent}"
        return lab.result("async_error_partial_results", [second.id], started, note=note)


def scenario_de_deleted(scale: Scale) -> ScenarioResult:
    """The DE is deleted in SFMC between two (incremental) runs: recreated, every row sent."""
    started = time.monotonic()
    with Lab(rows=scale.rows, sim_config=_sim_config()) as lab:
        pid = lab.make_pathway()
        first = lab.run(pid, options=_options(scale))
        lab.delete(f"/_sim/dataextensions/{lab.customer_key}")
        second = lab.run(pid, options=_options(scale))
        recreated = "deleted in Marketing Cloud" in (second.message or "")
        return lab.result("de_deleted_between_runs", [second.id], started, ok=recreated,
                          note=f"runs {first.state}, {second.state}; recreation reported: {recreated}")  # fmt: skip


def scenario_field_removed(scale: Scale) -> ScenarioResult:
    """A mapped field is removed from the DE in SFMC between two (incremental) runs."""
    started = time.monotonic()
    with Lab(rows=scale.rows, sim_config=_sim_config()) as lab:
        pid = lab.make_pathway()
        first = lab.run(pid, options=_options(scale))
        lab.delete(f"/_sim/dataextensions/{lab.customer_key}/fields/City")
        second = lab.run(pid, options=_options(scale))
        note = f"runs {first.state}, {second.state}; second run sent {second.rows_sent} rows"
        return lab.result("field_removed_between_runs", [second.id], started, note=note)


def scenario_folder_deleted(scale: Scale) -> ScenarioResult:
    """The pathway's folder is deleted: the DE keeps working; recreating it needs a valid folder."""
    started = time.monotonic()
    with Lab(rows=scale.rows, sim_config=_sim_config()) as lab:
        folder = lab.sim.state.add_folder("Chaos", lab.root_folder())
        pid = lab.make_pathway(category_id=folder.id)
        lab.run(pid, options=_options(scale))
        lab.delete(f"/_sim/folders/{folder.id}")
        second = lab.run(pid, full=True, options=_options(scale))
        lab.delete(f"/_sim/dataextensions/{lab.customer_key}")
        third = lab.run(pid, options=_options(scale))
        text = (third.error or third.message or "").lower()
        clear = third.state == "failed" and "folder" in text and "pick" in text
        lab.update_pathway(pid, category_id=lab.root_folder())
        fourth = lab.run(pid, options=_options(scale))
        note = (f"DE kept working without its folder ({second.state}); recreate refused: "
                f"{(third.error or '')[:160]!r}; after picking a folder: {fourth.state}")  # fmt: skip
        return lab.result(
            "folder_deleted",
            [fourth.id],
            started,
            ok=clear and second.state == "succeeded",
            note=note,
        )


def scenario_db_locked(scale: Scale) -> ScenarioResult:
    """Another writer holds the app database (`BEGIN EXCLUSIVE`) for a while, twice, mid-run."""
    started = time.monotonic()
    hold = scale.t(5, 1.0)
    config = _sim_config(async_rows_per_s=_rate(scale, scale.t(10, 2)))
    with Lab(rows=scale.rows, sim_config=config) as lab:
        pid = lab.make_pathway()
        run_id, thread = lab.run_in_thread(pid, options=_options(scale))
        lab.wait_for(lambda: lab.checkpoint(run_id) > 0, 60, "the first checkpoint")
        for _ in range(2):
            other = sqlite3.connect(lab.db_path, timeout=30, isolation_level=None)
            other.execute("BEGIN EXCLUSIVE")
            time.sleep(hold)
            other.execute("ROLLBACK")
            other.close()
            time.sleep(hold / 3)
        thread.join()
        return lab.result("db_locked", [run_id], started, note=f"store locked {hold:g} s, twice")


SCENARIOS: dict[str, Callable[[Scale], ScenarioResult]] = {
    "worker_killed_twice": scenario_worker_killed_twice,
    "token_expiry": scenario_token_expiry,
    "429_storm": scenario_429_storm,
    "soap_throttling": scenario_soap_throttling,
    "http_5xx_drops_timeouts": scenario_http_errors,
    "async_error_partial_results": scenario_async_errors,
    "de_deleted_between_runs": scenario_de_deleted,
    "field_removed_between_runs": scenario_field_removed,
    "folder_deleted": scenario_folder_deleted,
    "db_locked": scenario_db_locked,
}


def scenarios_for(profile: str) -> dict[str, Callable[[Scale], ScenarioResult]]:
    """The scenarios a profile runs: all of these, plus the realistic tenant's own.

    bench/chaos_realistic.py builds on this module (its `Lab`), so it is looked up by name.
    """
    if profile == "ideal":
        return SCENARIOS
    return {**SCENARIOS, **importlib.import_module("bench.chaos_realistic").SCENARIOS}


def run_scenario(name: str, *, rows: int, fast: bool, profile: str = "ideal") -> ScenarioResult:
    """Run one scenario; an exception inside it becomes a failed result with the reason."""
    started = time.monotonic()
    tokens = PROFILE.set(profile), FAST.set(fast)
    try:
        return scenarios_for(profile)[name](Scale(rows=rows, fast=fast))
    except Exception as exc:
        return ScenarioResult(name, rows, 0, 0, 0, 0, False, seconds=round(time.monotonic() - started, 1),
                              note=f"crashed: {type(exc).__name__}: {exc}")  # fmt: skip
    finally:
        PROFILE.reset(tokens[0])
        FAST.reset(tokens[1])


def run_suite(*, rows: int, fast: bool, only: list[str] | None = None,
              on_result: Callable[[ScenarioResult], None] | None = None,
              profile: str = "ideal") -> list[ScenarioResult]:  # fmt: skip
    """Run the scenarios (all of the profile's, or `only`) in order."""
    results = []
    for name in only or list(scenarios_for(profile)):
        result = run_scenario(name, rows=rows, fast=fast, profile=profile)
        results.append(result)
        if on_result:
            on_result(result)
    return results


def summary(results: list[ScenarioResult]) -> dict[str, Any]:
    """The suite's summary line."""
    return {
        "scenarios": len(results),
        "passed": sum(r.passed for r in results),
        "failed": [r.name for r in results if not r.passed],
        "lost": sum(r.lost for r in results),
        "duplicated": sum(r.duplicated for r in results),
        "seconds": round(sum(r.seconds for r in results), 1),
    }


def table(results: list[ScenarioResult]) -> str:
    """A Markdown table of the results (for the README and the console)."""
    lines = ["| scenario | rows | rows in DE | lost | duplicated | rejected | passed | s |",
             "|---|---:|---:|---:|---:|---:|---|---:|"]  # fmt: skip
    for r in results:
        lines.append(f"| {r.name} | {r.rows:,} | {r.rows_in_de:,} | {r.lost} | {r.duplicated} | "
                     f"{r.rejected:,} | {'yes' if r.passed else 'NO'} | {r.seconds:g} |")  # fmt: skip
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `chaos` subcommand's options."""
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--rows", type=int, default=None, help="audience rows (default 20000, fast 600)"
    )
    parser.add_argument("--fast", action="store_true", help="small rows, short faults (< 1 min)")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite",
                        help="postgres: the multi-worker scenarios of bench/chaos_postgres.py")  # fmt: skip
    parser.add_argument(
        "--only", action="append", metavar="NAME", help="run only this scenario (repeatable)"
    )
    parser.add_argument(
        "--profile", choices=("ideal", "realistic"), default="ideal",
        help="the simulator's tenant; realistic adds its own scenarios (bench/chaos_realistic.py)",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Execute the `chaos` subcommand; exit status 1 when a scenario failed."""
    if args.database == "postgres":  # several worker processes on one pgserver store
        return importlib.import_module("bench.chaos_postgres").run(args)
    rows = args.rows or (600 if args.fast else 20_000)

    def show(result: ScenarioResult) -> None:
        if not args.json:
            mark = "ok  " if result.passed else "FAIL"
            extra = f", mismatched {result.mismatched}" if result.mismatched else ""
            print(f"{mark} {result.name}: {result.rows_in_de:,}/{result.rows:,} rows in DE, lost {result.lost}, "
                  f"duplicated {result.duplicated}{extra}, rejected {result.rejected} ({result.seconds:g} s) {result.note}",
                  flush=True)  # fmt: skip

    unknown = sorted(set(args.only or ()) - set(scenarios_for(args.profile)))
    if unknown:
        msg = f"Unknown scenario(s) {', '.join(unknown)}: use one of {', '.join(scenarios_for(args.profile))}."
        raise SystemExit(msg)
    results = run_suite(rows=rows, fast=args.fast, only=args.only, on_result=show,
                        profile=args.profile)  # fmt: skip
    line = summary(results)
    if args.json:
        print(json.dumps({"scenarios": [asdict(r) for r in results], "summary": line}, indent=2))
    else:
        print()
        print(table(results))
        print(f"\nsummary: {line['passed']}/{line['scenarios']} passed, lost {line['lost']}, "
              f"duplicated {line['duplicated']}, {line['seconds']:g} s"
              + (f", failed: {', '.join(line['failed'])}" if line["failed"] else ""))  # fmt: skip
    return 0 if not line["failed"] else 1


def register(subparsers: Any) -> None:
    """Add `chaos` to `python -m bench` (see bench/__main__.py)."""
    parser = subparsers.add_parser(
        "chaos",
        help=__doc__.splitlines()[0],
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(func=run)


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.chaos` (same as `python -m bench chaos`)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench chaos", description=__doc__.splitlines()[0]
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
