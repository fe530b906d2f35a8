"""The status of a pathway as the Manage Pathways table shows it, derived from its runs.

`run_outcome` is the one place that puts a run into words (Failed, Partly failed, Up to date,
Waiting for confirmation...) with its counts: the wizard, Manage Pathways and the run history
all show what it says, so a run with 0 written and 13 rejected never reads as a success.

Convention: Core with an engine (see `store/__init__.py`), like the queue whose runs it reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from store.models import Pathway, SyncRun, utcnow
from store.queue import ACTIVE_STATES, FINAL_STATES
from store.schedules import naive_utc, next_run_at

# tone -> how the pages colour an outcome (Streamlit's colour names).
TONES = ("green", "orange", "red", "gray", "blue")


@dataclass(frozen=True)
class Outcome:
    """A run (or pathway) in words: `word` says what happened, `counts` by how much."""

    word: str
    tone: str  # one of TONES
    counts: str


def _get(run: Any, name: str) -> Any:
    return run.get(name) if isinstance(run, Mapping) else getattr(run, name, None)


NOTHING_SENT = "nothing to send"


def run_counts(run: Any) -> str:
    """The counts of a run in words: "12 written, 3 rejected, 40 unchanged, 2 deleted"."""
    parts = [
        (_get(run, "rows_succeeded") or 0, "written"),
        (_get(run, "rows_failed") or 0, "rejected"),
        (_get(run, "rows_skipped") or 0, "unchanged or skipped"),
        (_get(run, "rows_deleted") or 0, "deleted"),
    ]
    shown = [f"{n:,} {what}" for n, what in parts if n] or [NOTHING_SENT]
    return ", ".join(shown)


def run_outcome(run: Any) -> Outcome:
    """What a run (a `SyncRun` or its row mapping) did, as the pages say it.

    A finished run whose every row was refused is Failed; some refused is Partly failed;
    nothing to write or delete is Up to date; Mirror's safety stop is Waiting for confirmation.
    """
    state = _get(run, "state")
    counts = run_counts(run)
    written = (_get(run, "rows_succeeded") or 0) + (_get(run, "rows_deleted") or 0)
    rejected = _get(run, "rows_failed") or 0
    if state == "queued":
        return Outcome("Queued", "blue", "waiting for the worker")
    if state == "running":  # no figures yet: it has only started
        return Outcome("Syncing", "blue", "started" if counts == NOTHING_SENT else counts)
    if state == "needs_confirm":
        return Outcome("Waiting for confirmation", "orange", "Mirror safety stop: nothing changed")
    if state == "cancelled":
        return Outcome("Cancelled", "gray", counts)
    if state == "failed":
        return Outcome("Failed", "red", counts)
    if _get(run, "dry_run"):
        return Outcome("Dry run done", "green", "nothing was written")
    if rejected and not written:
        return Outcome("Failed", "red", counts)
    if rejected:
        return Outcome("Partly failed", "orange", counts)
    if not written:
        return Outcome("Up to date", "green", counts)
    return Outcome("Synced", "green", counts)


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
    outcome: Outcome  # the status in words (`run_outcome` of the run shown; Paused, Never synced)


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
        None
        if pathway["paused"]
        else next_run_at(pathway["schedule"], pathway["schedule_slot"] or last_started, now_naive)
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
    if active is not None:
        outcome = run_outcome(active)
    elif pathway["paused"]:
        outcome = Outcome("Paused", "gray", "no syncs until resumed")
    elif finished is None:
        outcome = Outcome("Never synced", "gray", "no sync has run yet")
    else:
        outcome = run_outcome(finished)
    return PathwayStatus(
        status=status,
        last_successes=ref["rows_succeeded"] if ref else None,
        last_failures=ref["rows_failed"] if ref else None,
        last_synced=last_ok["finished_at"] if last_ok else None,
        next_run=next_run,
        last_run_id=shown["id"] if shown else (runs[0]["id"] if runs else None),
        message=message,
        outcome=outcome,
    )
