"""The status of a pathway as the Manage Pathways table shows it, derived from its runs.

Convention: Core with an engine (see `store/__init__.py`), like the queue whose runs it reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine

from store.models import Pathway, SyncRun, utcnow
from store.queue import ACTIVE_STATES, FINAL_STATES
from store.schedules import naive_utc, next_run_at

_RUN = SyncRun.__table__  # type: ignore[attr-defined]
_PATHWAY = Pathway.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class PathwayStatus:
    """What the Manage Pathways table shows for one pathway."""

    status: str  # Syncing | Active | Error | Inactive
    last_successes: int | None
    last_failures: int | None
    last_synced: datetime | None
    next_run: datetime | None
    last_run_id: int | None
    message: str | None


def pathway_status(
    engine: Engine, pathway_id: int, *, now: datetime | None = None
) -> PathwayStatus:
    """Syncing / Active / Error / Inactive, derived from the pathway's runs."""
    now_naive = naive_utc(now or utcnow())
    assert now_naive is not None
    with engine.connect() as conn:
        pathway = (
            conn.execute(select(_PATHWAY).where(_PATHWAY.c.id == pathway_id)).mappings().first()
        )
        if pathway is None:
            msg = f"Pathway {pathway_id} does not exist."
            raise LookupError(msg)
        runs = (
            conn.execute(
                select(_RUN)
                .where(_RUN.c.pathway_id == pathway_id, _RUN.c.dry_run.is_(False))
                .order_by(_RUN.c.id.desc())
                .limit(20)
            )
            .mappings()
            .all()
        )
    active = next((r for r in runs if r["state"] in ACTIVE_STATES), None)
    finished = next(
        (r for r in runs if r["state"] in FINAL_STATES and r["state"] != "cancelled"), None
    )
    last_ok = next((r for r in runs if r["state"] == "succeeded"), None)
    last_started = runs[0]["created_at"] if runs else None
    next_run = (
        None if pathway["paused"] else next_run_at(pathway["schedule"], last_started, now_naive)
    )
    if active is not None:
        status, shown, message = "Syncing", active, active["message"]
    elif pathway["paused"]:
        status, shown, message = "Inactive", finished, "Paused."
    elif finished is None:
        status, shown, message = "Inactive", None, "Never synced."
    elif finished["state"] in ("failed", "needs_confirm"):
        status, shown, message = "Error", finished, finished["error"] or finished["message"]
    else:
        status, shown, message = "Active", finished, finished["message"]
    ref = finished or shown
    return PathwayStatus(
        status=status,
        last_successes=ref["rows_succeeded"] if ref else None,
        last_failures=ref["rows_failed"] if ref else None,
        last_synced=last_ok["finished_at"] if last_ok else None,
        next_run=next_run,
        last_run_id=shown["id"] if shown else (runs[0]["id"] if runs else None),
        message=message,
    )
