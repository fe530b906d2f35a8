"""Run use cases: push an audience (dry run or real), queue, confirm and cancel syncs.

Queued runs are rows in the store; the worker (started by the glue, `ui.state.get_worker`)
claims and runs them. These functions only write the queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from store import pathways, queue
from ui.pathways import check_modeled_ids, create_pathway

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from store.models import SyncRun


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
    return queue.enqueue_run(
        engine,
        pathway_id,
        "manual",
        dry_run=dry_run,
        full_resend=full_resend,
        confirm_deletes=confirm_deletes,
        created_by=who,
    )


def cancel_sync(engine: Engine, pathway_id: int) -> str | None:
    """Stop the pathway's active sync: a queued one at once, a running one between batches.

    Returns:
        The run's state after the request, or None when no sync was active.
    """
    active = queue.active_run(engine, pathway_id)
    return queue.request_cancel(engine, active.id) if active is not None else None


def waiting_confirmation(engine: Engine, run_id: int | None) -> SyncRun | None:
    """The run if it stopped at the Mirror safety stop and waits for the user's confirmation."""
    run = queue.get_run(engine, run_id) if run_id else None
    return run if run is not None and run.state == "needs_confirm" else None
