"""Schedules: when an hourly or daily pathway runs next, and queueing the runs that are due.

Convention: Core with an engine (see `store/__init__.py`), like the queue it feeds: the worker
calls `enqueue_due_runs` on every tick, off the script thread.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from store.models import Pathway, SyncRun, utcnow
from store.queue import RunConflictError, enqueue_run

SCHEDULES = {"hourly": timedelta(hours=1), "daily": timedelta(days=1)}
_RUN = SyncRun.__table__  # type: ignore[attr-defined]
_PATHWAY = Pathway.__table__  # type: ignore[attr-defined]


def naive_utc(value: datetime | None) -> datetime | None:
    """`value` as naive UTC: SQLite hands back naive datetimes, so all comparisons use those."""
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def next_run_at(schedule: str, last_started: datetime | None, now: datetime) -> datetime | None:
    """When a scheduled pathway runs next (None for manual)."""
    interval = SCHEDULES.get(schedule)
    if interval is None:
        return None
    if last_started is None:
        return now
    return naive_utc(last_started) + interval  # type: ignore[operator]


def enqueue_due_runs(engine: Engine, now: datetime | None = None) -> list[int]:
    """Queue a run for every hourly/daily pathway that is due; returns the new run ids."""
    now_naive = naive_utc(now or utcnow())
    assert now_naive is not None
    with engine.connect() as conn:
        pathways = conn.execute(
            select(_PATHWAY.c.id, _PATHWAY.c.schedule).where(
                _PATHWAY.c.schedule.in_(tuple(SCHEDULES)), _PATHWAY.c.paused.is_(False)
            )
        ).all()
        last = dict(
            conn.execute(
                select(_RUN.c.pathway_id, func.max(_RUN.c.created_at))
                .where(_RUN.c.dry_run.is_(False))
                .group_by(_RUN.c.pathway_id)
            ).all()
        )
    queued: list[int] = []
    for pathway_id, schedule in pathways:
        due = next_run_at(schedule, last.get(pathway_id), now_naive)
        if due is None or due > now_naive:
            continue
        try:
            queued.append(enqueue_run(engine, pathway_id, "schedule").id)  # type: ignore[arg-type]
        except RunConflictError:
            continue
    return queued
