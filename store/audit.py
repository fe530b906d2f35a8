"""The audit trail: who did what, when.

Convention: ORM with a keyword-only `session` (see `store/__init__.py`).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select

from store.models import AuditEvent, utcnow
from store.reports import spreadsheet_cell


def record_audit(
    who: str, action: str, detail: str = "", *, session: Session, at: datetime | None = None
) -> AuditEvent:
    """Record that `who` did `action` (`detail` must not contain secrets), now or `at`."""
    event = AuditEvent(who=who or "system", action=action, detail=detail, at=at or utcnow())
    session.add(event)
    session.commit()
    session.refresh(event)
    return event


@dataclass(frozen=True)
class AuditFilter:
    """Which events the Audit log page shows; empty fields do not filter."""

    who: str = ""
    actions: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None  # exclusive
    text: str = ""  # found in the detail, case-insensitive


def _where(stmt: Any, f: AuditFilter) -> Any:
    if f.who:
        stmt = stmt.where(AuditEvent.who == f.who)
    if f.actions:
        stmt = stmt.where(col(AuditEvent.action).in_(f.actions))
    if f.since is not None:
        stmt = stmt.where(AuditEvent.at >= f.since)
    if f.until is not None:
        stmt = stmt.where(AuditEvent.at < f.until)
    if f.text:
        escaped = f.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(col(AuditEvent.detail).ilike(f"%{escaped}%", escape="\\"))
    return stmt


def find_audit(
    f: AuditFilter, *, session: Session, limit: int = 50, offset: int = 0
) -> tuple[list[AuditEvent], int]:
    """One page of the events `f` selects, newest first, and how many it selects in all."""
    total = session.exec(_where(select(func.count()).select_from(AuditEvent), f)).one()
    stmt = _where(select(AuditEvent), f)
    stmt = stmt.order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
    return list(session.exec(stmt.offset(offset).limit(limit))), int(total)


def audit_people_and_actions(*, session: Session) -> tuple[list[str], list[str]]:
    """Everyone and every action the log names, for the page's filters."""
    who = session.exec(select(AuditEvent.who).distinct().order_by(AuditEvent.who))
    actions = session.exec(select(AuditEvent.action).distinct().order_by(AuditEvent.action))
    return list(who), list(actions)


def audit_csv(f: AuditFilter, *, session: Session, limit: int = 100_000) -> str:
    """The events `f` selects as CSV (UTC times), newest first, spreadsheet-safe cells."""
    rows, _total = find_audit(f, session=session, limit=limit)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["when (UTC)", "who", "action", "detail"])
    for e in rows:
        cells = (e.who, e.action, e.detail)
        writer.writerow([f"{e.at:%Y-%m-%d %H:%M:%S}", *map(spreadsheet_cell, cells)])
    return out.getvalue()


def list_audit(
    *, session: Session, limit: int = 100, offset: int = 0, who: str | None = None
) -> list[AuditEvent]:
    """Audit events, newest first."""
    stmt = select(AuditEvent)
    if who is not None:
        stmt = stmt.where(AuditEvent.who == who)
    stmt = stmt.order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
    return list(session.exec(stmt.offset(offset).limit(limit)))
