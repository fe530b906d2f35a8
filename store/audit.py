"""The audit trail: who did what, when.

Convention: ORM with a keyword-only `session` (see `store/__init__.py`).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from store.models import AuditEvent, utcnow


def record_audit(
    who: str, action: str, detail: str = "", *, session: Session, at: datetime | None = None
) -> AuditEvent:
    """Record that `who` did `action` (`detail` must not contain secrets), now or `at`."""
    event = AuditEvent(who=who or "system", action=action, detail=detail, at=at or utcnow())
    session.add(event)
    session.commit()
    session.refresh(event)
    return event


def list_audit(
    *, session: Session, limit: int = 100, offset: int = 0, who: str | None = None
) -> list[AuditEvent]:
    """Audit events, newest first."""
    stmt = select(AuditEvent)
    if who is not None:
        stmt = stmt.where(AuditEvent.who == who)
    stmt = stmt.order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
    return list(session.exec(stmt.offset(offset).limit(limit)))
