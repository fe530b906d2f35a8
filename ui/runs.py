"""Run use cases: push an audience (dry run or real), queue, confirm and cancel syncs.

Queued runs are rows in the store; the worker (started by the glue, `ui.state.get_worker`)
claims and runs them. These functions only write the queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from store import audit, pathways, queue
from ui.pathways import check_modeled_ids, create_pathway

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from store.models import SyncRun

# A run's live progress re-reads it every FAST_REFRESH_S for its first FAST_FOR_S seconds (a dry
# run or a small push is over by then, and its result shows at most that long after), then
# every SLOW_REFRESH_S (a long push: each re-read is a round trip to the browser).
FAST_REFRESH_S = 0.3
FAST_FOR_S = 15.0
SLOW_REFRESH_S = 2.0


def push(
    engine: Engine,
    audience: Mapping[str, Any],
    connection: Mapping[str, Any],
    settings: Mapping[str, Any],
    who: str,
    *,
    dry_run: bool = False,
) -> tuple[int, SyncRun]:
    """Create the pathway on first push (see `create_pathway`), then queue its run.

    Returns:
        The pathway id and the queued run.

    Raises:
        RunConflictError: the pathway already has a queued or running sync.
        ValueError: the mapping cannot be stored.
    """
    pathway_id = create_pathway(engine, audience, connection, settings, who)
    return pathway_id, queue_sync(engine, pathway_id, who, dry_run=dry_run)


def queue_sync(
    engine: Engine,
    pathway_id: int,
    who: str,
    *,
    dry_run: bool = False,
    full_resend: bool = False,
    confirm_deletes: bool = False,
) -> SyncRun:
    """Queue a manual sync of a pathway.

    Args:
        engine: the store.
        pathway_id: the pathway to sync.
        who: the user who asked, kept on the run.
        dry_run: plan only, write nothing to Marketing Cloud.
        full_resend: send every row again, not only new and changed ones.
        confirm_deletes: the user confirmed a Mirror sync's deletes beyond the safety stop.

    Raises:
        RunConflictError: the pathway already has a queued or running sync.
        LookupError: the pathway (or its audience or connection) no longer exists.
        SetupError: kind "modeled_refused": a modeled audience on a connection that refuses
            them (`sync.run_store.check_modeled`; the run checks it again); nothing is queued.
    """
    with Session(engine) as session:
        pathway = pathways.get_pathway(pathway_id, session=session)
        if pathway is not None:  # a missing one is refused by `enqueue_run`
            check_modeled_ids(session, pathway.audience_id, pathway.connection_id)
    run = queue.enqueue_run(
        engine,
        pathway_id,
        "manual",
        dry_run=dry_run,
        full_resend=full_resend,
        confirm_deletes=confirm_deletes,
        created_by=who,
    )
    what = "confirm deletes" if confirm_deletes else "queue dry run" if dry_run else "queue sync"
    with Session(engine) as session:
        audit.record_audit(who, what, f"pathway {pathway_id}, run {run.id}", session=session)
    return run


def cancel_sync(engine: Engine, pathway_id: int, who: str) -> str | None:
    """Stop the pathway's active sync: a queued one at once, a running one between batches.

    Returns:
        The run's state after the request, or None when no sync was active.
    """
    active = queue.active_run(engine, pathway_id)
    if active is None:
        return None
    with Session(engine) as session:
        detail = f"pathway {pathway_id}, run {active.id}"
        audit.record_audit(who, "cancel sync", detail, session=session)
    return queue.request_cancel(engine, active.id)


def waiting_confirmation(engine: Engine, run_id: int | None) -> SyncRun | None:
    """The run if it stopped at the Mirror safety stop and waits for the user's confirmation."""
    run = queue.get_run(engine, run_id) if run_id else None
    return run if run is not None and run.state == "needs_confirm" else None


def progress_text(run: SyncRun) -> str:
    """The progress bar's line of a running sync; no "0 / 0 rows" before the first figures."""
    done = max(
        (run.rows_succeeded or 0) + (run.rows_failed or 0) + (run.rows_skipped or 0),
        run.rows_sent or 0,
    )
    what = "Dry run" if run.dry_run else "Sync"
    if not run.rows_total:
        return f"{what} started: reading the audience and the Data Extension…"
    if not done:
        return f"{what} started: {run.rows_total:,} rows to check, sending the first batch…"
    eta = f" · about {fmt_duration(run.eta_s)} left" if run.eta_s else ""
    rate = f" · {run.rows_per_s:,.0f} rows/s" if run.rows_per_s else ""
    return f"Processing: {done:,} of {run.rows_total:,} rows{rate}{eta}"


def refresh_every(run: SyncRun, now: datetime | None = None) -> float | None:
    """Seconds between re-reads of a run's live progress; None once the run is over."""
    if run.state not in queue.ACTIVE_STATES:
        return None
    created = run.created_at if run.created_at.tzinfo else run.created_at.replace(tzinfo=UTC)
    age = ((now or datetime.now(UTC)) - created).total_seconds()
    return FAST_REFRESH_S if age < FAST_FOR_S else SLOW_REFRESH_S


def fmt_duration(seconds: float | None) -> str:
    """A duration in a few characters: "42s", "3m 05s", "2h 10m" ("—" when unknown)."""
    if seconds is None:
        return "—"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def mirror_stop_note(plan: Mapping[str, Any], method: str, guard_share: float) -> str | None:
    """A dry run's warning that the real Mirror sync will stop at the safety stop, and why.

    The dry run itself never stops (`sync.plan.delete_guard` skips it), so without this note its
    "To delete" figure reads as what the sync will do.
    """
    to_delete = int(plan.get("delete") or 0)
    de_rows = int(plan.get("de_rows") or 0)
    if method != "mirror" or not to_delete or not de_rows:
        return None
    share = to_delete / de_rows
    if share <= guard_share:
        return None
    return (
        f"The sync will stop before deleting: Mirror would delete {to_delete:,} of the "
        f"{de_rows:,} rows in the Data Extension ({share:.0%}), above this pathway's "
        f"{guard_share:.0%} safety stop. Nothing is changed until someone confirms the deletes "
        "(the sync then shows a confirm button). If the number looks wrong, check the "
        "audience's filters first."
    )


def dry_run_note(engine: Engine, run: SyncRun) -> str | None:
    """What the real sync of a dry run will do differently (`mirror_stop_note`), or None."""
    with Session(engine) as session:
        pathway = pathways.get_pathway(run.pathway_id, session=session)
    if pathway is None:
        return None
    return mirror_stop_note(run.plan or {}, pathway.method, pathway.delete_guard_share)


def confirm_deletes(engine: Engine, run: SyncRun, who: str) -> SyncRun:
    """Queue the sync again with the deletes of a run stopped at Mirror's safety stop confirmed.

    Raises:
        ValueError: the run is not waiting for confirmation (already confirmed or superseded).
        RunConflictError: the pathway already has a queued or running sync.
    """
    fresh = waiting_confirmation(engine, run.id)
    if fresh is None:
        msg = "This sync is no longer waiting for confirmation: reload the page to see its state."
        raise ValueError(msg)
    return queue_sync(engine, fresh.pathway_id, who, confirm_deletes=True)
