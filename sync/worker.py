"""The worker: claims queued sync runs and executes them, one pathway at a time.

In the app it is a daemon thread started once (`start_background_worker`); standalone it is
`python -m sync.worker`. Several workers may share one PostgreSQL store: runs are claimed with
row locks (`store.queue.claim_next_run`), and a run whose worker died (stale heartbeat) is claimed
again and resumed from its checkpoint.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from sfmc.client import SfmcClient
from sfmc.config import SfmcCredentials
from store import queue, schedules, settings
from store.connections import connection_secret
from store.crypto import SecretKeyError
from store.db import create_db_and_tables, make_engine
from store.errors import DataSetError
from store.migrations.apply import StoreUpgradeError
from store.models import Audience, DataSet, Pathway
from sync.runner import run_pathway
from sync.types import PushOptions

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from store.models import Connection

log = logging.getLogger(__name__)
_LOCAL_PREFIXES = ("http://127.0.0.1", "http://localhost")
# `SyncRun.error_kind` of a scheduled run stopped because its database source could not be read.
SOURCE_UNAVAILABLE = "source_unavailable"


def refresh_source_before_scheduled_run(engine: Engine, run: Any) -> str | None:
    """Read the run's database source again before a scheduled run (issue 14: fresh data).

    Only a scheduled run that has not started sending (no checkpoint) refreshes: a run resumed
    from its checkpoint must read the version it began with. A data set uploaded from a file
    has nothing to read. Returns the reason when the source could not be read (the run then
    stops before anything is sent; the next slot tries again), else None.
    """
    if run.trigger != "schedule" or run.checkpoint:
        return None
    with Session(engine) as session:
        pathway = session.get(Pathway, run.pathway_id)
        audience = session.get(Audience, pathway.audience_id) if pathway else None
        dataset = session.get(DataSet, audience.dataset_id) if audience else None
    if dataset is None or dataset.id is None:
        return None  # the runner reports the incomplete pathway
    # Loaded here, not with the worker: the refresh brings the importer, pyarrow and sqlglot
    # (about 60 MB of a sync's resident memory), and only scheduled runs need it.
    from store.refresh import refresh_source
    from store.sql_source import SqlSourceError

    try:
        refresh_source(engine, dataset.id, who="schedule")
    except (SqlSourceError, DataSetError, SecretKeyError) as exc:
        return (
            f"The database source of data set {dataset.name!r} could not be read, so this "
            f"scheduled run sent nothing and Marketing Cloud was not touched: {exc} The next "
            "scheduled run tries again; fix the source (or run the pathway by hand) before then."
        )
    return None


def default_client_factory(connection: Connection) -> SfmcClient:
    """Build a client from a stored connection (secret decrypted; local URIs in demo mode only)."""
    credentials = SfmcCredentials(
        auth_base_uri=connection.auth_base_uri,
        client_id=connection.client_id,
        client_secret=connection_secret(connection),
        account_id=connection.account_id,
    )
    allow_local = settings.demo_mode() and connection.auth_base_uri.startswith(_LOCAL_PREFIXES)
    return SfmcClient(credentials=credentials, allow_local=allow_local, share_tokens=True)


@contextlib.contextmanager
def _older_objects_set_aside() -> Iterator[None]:
    """Keep the objects that exist before a run out of the garbage collector's passes during it.

    A run allocates millions of short-lived containers (rows, pages of keys), so the collector
    makes full passes often, and in the app each one also walks Streamlit's and pandas' objects
    (about 230,000): 16-17 full passes took 2 of the 5 s of a 100,000-row dry run (measured with
    `gc.callbacks`). `gc.freeze` sets them aside without copying anything; they are collected as
    before once the run ends.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class Worker:
    """Claims and runs sync runs from the store, and queues scheduled runs when due.

    Args:
        engine: the store.
        client_factory: `Connection` row -> `SfmcClient`.
        worker_id: a name unique among running workers (default: host-pid-random).
        poll_interval: seconds to wait when there is nothing to do (or until `wake()`).
        stale_after: a running run whose heartbeat is older than this is taken over.
        heartbeat_every: seconds between heartbeats of the run in progress.
        options: transport tuning passed to the engine.
    """

    def __init__(
        self,
        engine: Engine,
        client_factory: Callable[[Any], SfmcClient] = default_client_factory,
        *,
        worker_id: str | None = None,
        poll_interval: float = 1.0,
        stale_after: float = queue.DEFAULT_STALE_AFTER,
        heartbeat_every: float = 5.0,
        schedules: bool = True,
        options: PushOptions | None = None,
    ) -> None:
        self.engine = engine
        self.client_factory = client_factory
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.poll_interval = poll_interval
        self.stale_after = stale_after
        self.heartbeat_every = min(heartbeat_every, max(stale_after / 3, 0.1))
        self.schedules = schedules
        self.options = options
        self.stop_event = threading.Event()
        self.wake_event = threading.Event()
        self.runs_done: list[int] = []

    def run_once(self) -> int | None:
        """Queue due schedules, then claim and execute one run; returns its id (None if idle)."""
        if self.schedules:
            try:
                schedules.enqueue_due_runs(self.engine)
            except Exception:  # a schedule hiccup must not stop the worker
                log.exception("queueing scheduled runs failed")
        run = queue.claim_next_run(self.engine, self.worker_id, stale_after=self.stale_after)
        if run is None or run.id is None:
            return None
        log.info("worker %s runs sync run %s (pathway %s)", self.worker_id, run.id, run.pathway_id)
        with self._heartbeat(run.id):  # reading a big source takes a while: keep the run ours
            problem = refresh_source_before_scheduled_run(self.engine, run)
        if problem is not None:
            queue.finish_run(self.engine, run.id, "failed", error=problem,
                             error_kind=SOURCE_UNAVAILABLE, error_detail={"pathway_id": run.pathway_id})  # fmt: skip
            self.runs_done.append(run.id)
            return run.id
        with _older_objects_set_aside():
            run_pathway(
                self.engine,
                run.id,
                client_factory=self.client_factory,
                worker_id=self.worker_id,
                options=self.options,
                heartbeat_every=self.heartbeat_every,
            )
        self.runs_done.append(run.id)
        return run.id

    @contextlib.contextmanager
    def _heartbeat(self, run_id: int) -> Iterator[None]:
        """Beat the run's heartbeat from a thread while the block runs (before the runner's own)."""
        done = threading.Event()

        def beat() -> None:
            while not done.wait(self.heartbeat_every):
                queue.heartbeat(self.engine, run_id, self.worker_id)

        thread = threading.Thread(target=beat, name=f"heartbeat-{run_id}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()

    def run_forever(self, *, exit_when_idle: bool = False) -> None:
        """Loop until `stop()` (or, with `exit_when_idle`, until there is nothing to run)."""
        while not self.stop_event.is_set():
            try:
                ran = self.run_once()
            except Exception:  # keep serving other runs; the failed run is recorded
                log.exception("worker %s: run failed unexpectedly", self.worker_id)
                ran = None
            if ran is None:
                if exit_when_idle:
                    return
                self.wake_event.wait(self.poll_interval)
                self.wake_event.clear()

    def wake(self) -> None:
        """Look for queued runs now, not at the next poll (the app calls it after queueing one).

        Runs queued by other processes are still found by polling.
        """
        self.wake_event.set()

    def stop(self) -> None:
        """Ask the loop to end after the current run."""
        self.stop_event.set()
        self.wake_event.set()


_background: dict[int, tuple[Worker, threading.Thread]] = {}
_background_lock = threading.Lock()


def start_background_worker(
    engine: Engine,
    client_factory: Callable[[Any], SfmcClient] = default_client_factory,
    **kwargs: Any,
) -> Worker:
    """Start (once per engine) a daemon thread that runs queued syncs; returns its `Worker`."""
    with _background_lock:
        found = _background.get(id(engine))
        if found is not None and found[1].is_alive():
            return found[0]
        worker = Worker(engine, client_factory, **kwargs)
        thread = threading.Thread(
            target=worker.run_forever, name=f"pathways-worker-{worker.worker_id}", daemon=True
        )
        thread.start()
        _background[id(engine)] = (worker, thread)
        return worker


def main(argv: list[str] | None = None) -> int:
    """`python -m sync.worker`: run sync runs from the store given by DATABASE_URL."""
    parser = argparse.ArgumentParser(prog="python -m sync.worker", description=main.__doc__)
    parser.add_argument("--database-url", default=None, help="default: DATABASE_URL or ./data")
    parser.add_argument("--poll", type=float, default=1.0, help="idle wait in seconds")
    parser.add_argument(
        "--stale-after", type=float, default=queue.DEFAULT_STALE_AFTER, help="take over after N s"
    )
    parser.add_argument("--heartbeat", type=float, default=5.0, help="heartbeat every N s")
    parser.add_argument("--worker-id", default=None)
    parser.add_argument("--exit-when-idle", action="store_true", help="stop when nothing is queued")
    parser.add_argument("--no-schedules", action="store_true", help="do not fire schedules")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    engine = make_engine(args.database_url)
    try:
        create_db_and_tables(engine)  # upgrades the store first, under the migration lock
    except StoreUpgradeError as exc:
        log.error("worker not started: %s", exc)  # noqa: TRY400 (the message says it all)
        return 1
    worker = Worker(
        engine,
        worker_id=args.worker_id,
        poll_interval=args.poll,
        stale_after=args.stale_after,
        heartbeat_every=args.heartbeat,
        schedules=not args.no_schedules,
    )
    try:
        worker.run_forever(exit_when_idle=args.exit_when_idle)
    except KeyboardInterrupt:
        worker.stop()
    return 0


def _say(text: str) -> None:
    # CLI output (ruff T20 keeps print() out of library code).
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def run_push_command(args: Any) -> int:
    """`python -m sync push`: queue a run of one pathway and execute it in this process.

    Returns:
        0 succeeded, 1 failed or cancelled, 2 the pathway is busy or unknown, 3 needs confirm.
    """
    engine = make_engine(args.database_url)
    try:
        create_db_and_tables(engine)
    except StoreUpgradeError as exc:
        _say(f"error: {exc}")
        return 2
    try:
        run = queue.enqueue_run(
            engine,
            args.pathway,
            "cli",
            dry_run=args.dry_run,
            full_resend=args.full,
            confirm_deletes=args.confirm_deletes,
            created_by="cli",
        )
    except (queue.RunConflictError, LookupError) as exc:
        _say(f"error: {exc}")
        return 2
    assert run.id is not None
    _say(f"Run {run.id}: pathway {args.pathway}{' (dry run)' if args.dry_run else ''}")
    last = [0.0]

    def show(p: Any) -> None:
        now = time.monotonic()
        if now - last[0] < 1.0 and p.phase != "done":
            return
        last[0] = now
        eta = f", ETA {p.eta_s:.0f} s" if p.eta_s else ""
        _say(
            f"  {p.phase}: {p.rows_done:,}/{p.rows_total:,} rows, {p.rows_per_s:,.0f} rows/s"
            f"{eta}, {p.counters.api_calls} API calls"
        )

    run_pathway(
        engine, run.id, client_factory=default_client_factory, worker_id="cli", on_progress=show
    )
    done = queue.get_run(engine, run.id)
    assert done is not None
    _say(f"State: {done.state}")
    _say(done.message or done.error or "")
    if done.dry_run and done.plan:
        for item in done.plan.get("rejects", [])[:10]:
            _say(
                f"  reject row {item['row']} ({item['key']}): {item['error_type']} {item['error_details']}"
            )
    if done.rows_failed and not done.dry_run:
        _say(f"Rejected rows: {done.rows_failed:,} (download them from the Manage Pathways page).")
    return {"succeeded": 0, "needs_confirm": 3}.get(done.state, 1)


if __name__ == "__main__":
    raise SystemExit(main())
