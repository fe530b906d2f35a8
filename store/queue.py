"""The sync-run queue: enqueue, claim, heartbeat, progress, cancel and finish of `SyncRun` rows.

States: queued -> running -> succeeded | failed | needs_confirm | cancelled. A pathway has at most
one active (queued or running) run. Workers claim runs atomically (SQLite: a conditional UPDATE;
PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED`) and keep a heartbeat; a running run whose
heartbeat is older than `stale_after` seconds belongs to a dead worker and is claimed again and
resumed from its checkpoint.

Convention: Core with an engine (see `store/__init__.py`). Workers call these functions between
batches, each one short transaction of its own; the claim needs row locks and retries that a
caller's Session would hold open.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection as DbConnection
from sqlalchemy.engine import Engine

from store.models import Pathway, SyncRun, utcnow

ACTIVE_STATES = ("queued", "running")
FINAL_STATES = ("succeeded", "failed", "needs_confirm", "cancelled")
DEFAULT_STALE_AFTER = 60.0
_RUN = SyncRun.__table__  # type: ignore[attr-defined]
_PATHWAY = Pathway.__table__  # type: ignore[attr-defined]


class RunConflictError(ValueError):
    """The pathway already has a queued or running sync."""


def _is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def get_run(engine: Engine, run_id: int) -> SyncRun | None:
    """The run row (detached), or None."""
    with engine.connect() as conn:
        row = conn.execute(select(_RUN).where(_RUN.c.id == run_id)).mappings().first()
    return SyncRun(**dict(row)) if row else None


def list_runs(engine: Engine, pathway_id: int, *, limit: int = 50) -> list[SyncRun]:
    """Most recent runs of a pathway first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(_RUN)
            .where(_RUN.c.pathway_id == pathway_id)
            .order_by(_RUN.c.id.desc())
            .limit(limit)
        ).mappings()
        return [SyncRun(**dict(r)) for r in rows]


def active_run(engine: Engine, pathway_id: int) -> SyncRun | None:
    """The pathway's queued or running run, if any."""
    with engine.connect() as conn:
        row = (
            conn.execute(
                select(_RUN)
                .where(_RUN.c.pathway_id == pathway_id, _RUN.c.state.in_(ACTIVE_STATES))
                .order_by(_RUN.c.id)
            )
            .mappings()
            .first()
        )
    return SyncRun(**dict(row)) if row else None


def enqueue_run(
    engine: Engine,
    pathway_id: int,
    trigger: str = "manual",
    *,
    dry_run: bool = False,
    full_resend: bool = False,
    confirm_deletes: bool = False,
    created_by: str | None = None,
) -> SyncRun:
    """Queue a sync of a pathway.

    Raises:
        RunConflictError: the pathway already has a queued or running sync; wait for it or
            cancel it first.
        LookupError: no pathway with that id.
    """
    with engine.begin() as conn:
        run_id = enqueue_in(
            conn,
            pathway_id,
            trigger,
            dry_run=dry_run,
            full_resend=full_resend,
            confirm_deletes=confirm_deletes,
            created_by=created_by,
        )
    run = get_run(engine, run_id)
    assert run is not None
    return run


def enqueue_in(
    conn: DbConnection, pathway_id: int, trigger: str = "manual", **flags: bool | str | None
) -> int:
    """`enqueue_run` inside the caller's transaction (the scheduler claims a slot in the same one).

    `flags` are `enqueue_run`'s keywords (typed there); any other name is refused by the insert.

    Returns:
        The new run's id.
    """
    if conn.dialect.name == "postgresql":
        # Serialise enqueues of one pathway (the pathway row lock) so two clicks make one run.
        found = conn.execute(
            select(_PATHWAY.c.id, _PATHWAY.c.method)
            .where(_PATHWAY.c.id == pathway_id)
            .with_for_update()
        ).first()
    else:
        found = conn.execute(
            select(_PATHWAY.c.id, _PATHWAY.c.method).where(_PATHWAY.c.id == pathway_id)
        ).first()
    if found is None:
        msg = f"Pathway {pathway_id} does not exist; pick an existing pathway."
        raise LookupError(msg)
    busy = conn.execute(
        select(_RUN.c.id, _RUN.c.state).where(
            _RUN.c.pathway_id == pathway_id, _RUN.c.state.in_(ACTIVE_STATES)
        )
    ).first()
    if busy is not None:
        msg = (
            f"Pathway {pathway_id} already has a {busy.state} sync (run {busy.id}); wait for "
            "it to finish or cancel it before starting another."
        )
        raise RunConflictError(msg)
    now = utcnow()
    run_id = conn.execute(
        insert(_RUN)
        .values(
            pathway_id=pathway_id,
            trigger=trigger,
            state="queued",
            method=found.method,
            cancel_requested=False,
            checkpoint={},
            plan={},
            created_at=now,
            rows_total=0,
            rows_read=0,
            rows_sent=0,
            rows_succeeded=0,
            rows_failed=0,
            rows_skipped=0,
            rows_deleted=0,
            rows_per_s=0.0,
            api_calls=0,
            **flags,  # unset ones take the model's defaults
        )
        .returning(_RUN.c.id)
    ).scalar_one()
    return int(run_id)


def _claim_stale(conn: DbConnection, worker_id: str, cutoff: datetime, pg: bool) -> int | None:
    query = (
        select(_RUN.c.id)
        .where(_RUN.c.state == "running", _RUN.c.heartbeat_at < cutoff)
        .order_by(_RUN.c.id)
        .limit(1)
    )
    if pg:
        query = query.with_for_update(skip_locked=True)
    run_id = conn.execute(query).scalar()
    if run_id is None:
        return None
    done = conn.execute(
        update(_RUN)
        .where(_RUN.c.id == run_id, _RUN.c.state == "running", _RUN.c.heartbeat_at < cutoff)
        .values(worker_id=worker_id, heartbeat_at=utcnow())
    )
    return run_id if done.rowcount == 1 else None


def _claim_queued(conn: DbConnection, worker_id: str, pg: bool) -> int | None:
    other = _RUN.alias("other")
    running_same = (
        select(other.c.id)
        .where(other.c.pathway_id == _RUN.c.pathway_id, other.c.state == "running")
        .exists()
    )
    query = (
        select(_RUN.c.id)
        .where(_RUN.c.state == "queued", ~running_same)
        .order_by(_RUN.c.id)
        .limit(1)
    )
    if pg:
        query = query.with_for_update(skip_locked=True, of=_RUN)
    run_id = conn.execute(query).scalar()
    if run_id is None:
        return None
    now = utcnow()
    done = conn.execute(
        update(_RUN)
        .where(_RUN.c.id == run_id, _RUN.c.state == "queued")
        .values(state="running", worker_id=worker_id, heartbeat_at=now, started_at=now)
    )
    return run_id if done.rowcount == 1 else None


def claim_next_run(
    engine: Engine, worker_id: str, *, stale_after: float = DEFAULT_STALE_AFTER
) -> SyncRun | None:
    """Claim one run for `worker_id`: a stale running run first (resume), else the oldest queued.

    A queued run is not claimed while another run of the same pathway is running, so a pathway
    never has two runs executing at once.
    """
    pg = _is_postgres(engine)
    cutoff = utcnow() - timedelta(seconds=stale_after)
    for attempt in (_claim_stale, _claim_queued):
        for _ in range(5):  # lost races (another worker got it) are retried on the next candidate
            with engine.begin() as conn:
                if attempt is _claim_stale:
                    run_id = _claim_stale(conn, worker_id, cutoff, pg)
                else:
                    run_id = _claim_queued(conn, worker_id, pg)
                if run_id is None:
                    exists = conn.execute(
                        select(func.count())
                        .select_from(_RUN)
                        .where(
                            _RUN.c.state == "queued"
                            if attempt is _claim_queued
                            else (_RUN.c.state == "running") & (_RUN.c.heartbeat_at < cutoff)
                        )
                    ).scalar_one()
            if run_id is not None:
                return get_run(engine, run_id)
            if not exists:
                break
    return None


def heartbeat(engine: Engine, run_id: int, worker_id: str) -> bool:
    """Refresh the run's heartbeat; False when the run is no longer this worker's."""
    with engine.begin() as conn:
        done = conn.execute(
            update(_RUN)
            .where(_RUN.c.id == run_id, _RUN.c.worker_id == worker_id, _RUN.c.state == "running")
            .values(heartbeat_at=utcnow())
        )
    return done.rowcount == 1


def write_progress(engine: Engine, run_id: int, **values: Any) -> None:
    """Write progress columns (rows_total, rows_per_s, eta_s, api_calls, message...) + heartbeat."""
    values.setdefault("heartbeat_at", utcnow())
    with engine.begin() as conn:
        conn.execute(update(_RUN).where(_RUN.c.id == run_id).values(**values))


def cancel_requested(engine: Engine, run_id: int) -> bool:
    """Whether someone asked this run to stop."""
    with engine.connect() as conn:
        return bool(
            conn.execute(select(_RUN.c.cancel_requested).where(_RUN.c.id == run_id)).scalar()
        )


def request_cancel(engine: Engine, run_id: int) -> str | None:
    """Ask a run to stop. A queued run is cancelled at once; a running one between batches.

    Returns:
        The run's state after the request, or None when there is no such run.
    """
    with engine.begin() as conn:
        conn.execute(
            update(_RUN)
            .where(_RUN.c.id == run_id, _RUN.c.state == "queued")
            .values(state="cancelled", cancel_requested=True, finished_at=utcnow())
        )
        conn.execute(
            update(_RUN)
            .where(_RUN.c.id == run_id, _RUN.c.state == "running")
            .values(cancel_requested=True)
        )
        return conn.execute(select(_RUN.c.state).where(_RUN.c.id == run_id)).scalar()


def finish_run(
    engine: Engine,
    run_id: int,
    state: str,
    *,
    message: str | None = None,
    error: str | None = None,
    error_kind: str | None = None,
    error_detail: Mapping[str, Any] | None = None,
    plan: Mapping[str, Any] | None = None,
    counters: Mapping[str, int] | None = None,
) -> None:
    """Move a run to a final state with its closing figures, in one statement.

    A failed run passes its error with its kind and facts (`sync.types.RunError`; the detail
    must be JSON-ready), so no reader ever sees a failed run without its kind.
    """
    if state not in FINAL_STATES:
        msg = f"{state!r} is not a final run state; use one of {', '.join(FINAL_STATES)}."
        raise ValueError(msg)
    values: dict[str, Any] = {"state": state, "finished_at": utcnow(), "eta_s": 0.0}
    if message is not None:
        values["message"] = message
    if error is not None:
        values["error"] = error
    if error_kind is not None:
        values["error_kind"] = error_kind
    if error_detail is not None:
        values["error_detail"] = dict(error_detail)
    if plan is not None:
        values["plan"] = dict(plan)
    values.update({k: v for k, v in (counters or {}).items() if k in _RUN.c})
    with engine.begin() as conn:
        conn.execute(update(_RUN).where(_RUN.c.id == run_id).values(**values))


def mark_running(engine: Engine, run_id: int, worker_id: str) -> None:
    """Take a queued run directly (CLI, tests) or confirm ownership of a claimed one."""
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            update(_RUN)
            .where(_RUN.c.id == run_id, _RUN.c.state == "queued")
            .values(state="running", started_at=now)
        )
        conn.execute(
            update(_RUN)
            .where(_RUN.c.id == run_id, _RUN.c.state == "running")
            .values(worker_id=worker_id, heartbeat_at=now)
        )
