"""A run's timeline: its phases and batches as they happen (`RunEvent`), for Run details.

The engine reports progress and commits through `sync.run_store.Recorder`, which writes one
event when the phase changes (reading keys, sending, waiting on SFMC, deleting) and one per
committed batch. Queued, started and finished come from the run's own timestamps.

Convention: takes an engine, like the other run-time writers (`store.queue`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from store.models import RunEvent

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

# "SFMC is queueing this job (2 min)" changes every minute; its phase is one.
_WAIT_SUFFIX = re.compile(r"\s*\([^)]*\)\s*$")
MAX_EVENTS = 2_000  # per run: a huge run keeps its first phases and batches, then its phases


def phase_of(progress_phase: str) -> str:
    """The timeline's phase for an engine progress phase ("waiting on SFMC" for SFMC's notes)."""
    if progress_phase.startswith("SFMC is"):
        return "waiting on SFMC"
    return _WAIT_SUFFIX.sub("", progress_phase) or "sending"


def record_event(
    engine: Engine,
    run_id: int,
    phase: str,
    detail: str = "",
    *,
    rows: int | None = None,
    api_calls: int | None = None,
) -> None:
    """Add one step to the run's timeline (batches beyond `MAX_EVENTS` are not kept)."""
    with Session(engine) as session:
        if phase == "batch":
            count = session.exec(
                select(col(RunEvent.id)).where(RunEvent.run_id == run_id).offset(MAX_EVENTS)
            ).first()
            if count is not None:
                return
        session.add(
            RunEvent(run_id=run_id, phase=phase, detail=detail, rows=rows, api_calls=api_calls)
        )
        session.commit()


def list_events(engine: Engine, run_id: int) -> list[RunEvent]:
    """The run's timeline, oldest first."""
    with Session(engine) as session:
        stmt = select(RunEvent).where(RunEvent.run_id == run_id)
        return list(session.exec(stmt.order_by(col(RunEvent.at), col(RunEvent.id))))
