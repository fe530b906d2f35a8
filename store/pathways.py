"""Pathways (audience -> connection -> destination) and their column mappings.

Convention: ORM with a keyword-only `session` (see `store/__init__.py`): each function commits at
most once and returns the row, or None when it does not exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from store.models import (
    AlertRule,
    ColumnMapping,
    Pathway,
    RejectedRow,
    RowLedger,
    RunEvent,
    SyncRun,
    utcnow,
)

_PATHWAY_FIELDS = frozenset(Pathway.model_fields) - {"id", "created_at", "updated_at"}


def create_pathway(
    audience_id: int,
    connection_id: int,
    de_name: str,
    de_customer_key: str,
    *,
    session: Session,
    **fields: Any,
) -> Pathway:
    """Create a pathway; extra keyword arguments set other `Pathway` fields.

    Raises:
        TypeError: an unknown field name was given.
    """
    unknown = set(fields) - _PATHWAY_FIELDS
    if unknown:
        msg = f"Unknown pathway field(s): {', '.join(sorted(unknown))}"
        raise TypeError(msg)
    pathway = Pathway(
        audience_id=audience_id,
        connection_id=connection_id,
        de_name=de_name,
        de_customer_key=de_customer_key,
        **fields,
    )
    session.add(pathway)
    session.commit()
    session.refresh(pathway)
    return pathway


def update_pathway(pathway_id: int, *, session: Session, **changes: Any) -> Pathway | None:
    """Set fields of a pathway (e.g. `paused=True`, `schedule="daily"`).

    Raises:
        TypeError: an unknown field name was given.
    """
    unknown = set(changes) - _PATHWAY_FIELDS
    if unknown:
        msg = f"Unknown pathway field(s): {', '.join(sorted(unknown))}"
        raise TypeError(msg)
    pathway = session.get(Pathway, pathway_id)
    if pathway is None:
        return None
    for key, value in changes.items():
        setattr(pathway, key, value)
    pathway.updated_at = utcnow()
    session.add(pathway)
    session.commit()
    session.refresh(pathway)
    return pathway


def get_pathway(pathway_id: int, *, session: Session) -> Pathway | None:
    """The pathway with this id."""
    return session.get(Pathway, pathway_id)


def find_pathway(
    audience_id: int, connection_id: int, destination_kind: str, *, session: Session
) -> Pathway | None:
    """The (first) pathway pushing this audience to this connection's destination kind, if any.

    An audience has one pathway per connection and destination kind: the wizard reuses it.
    """
    stmt = (
        select(Pathway)
        .where(
            Pathway.audience_id == audience_id,
            Pathway.connection_id == connection_id,
            Pathway.destination_kind == destination_kind,
        )
        .order_by(col(Pathway.id))
    )
    return session.exec(stmt).first()


def list_pathways(
    *,
    session: Session,
    audience_id: int | None = None,
    connection_id: int | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[Pathway]:
    """Pathways, oldest first, optionally filtered by audience and/or connection."""
    stmt = select(Pathway)
    if audience_id is not None:
        stmt = stmt.where(Pathway.audience_id == audience_id)
    if connection_id is not None:
        stmt = stmt.where(Pathway.connection_id == connection_id)
    return list(session.exec(stmt.order_by(col(Pathway.id)).offset(offset).limit(limit)))


def delete_pathway(pathway_id: int, *, session: Session) -> Pathway | None:
    """Delete a pathway with its mapping, ledger, runs and rejected rows (the DE stays in SFMC)."""
    pathway = session.get(Pathway, pathway_id)
    if pathway is None:
        return None
    run_ids = select(SyncRun.id).where(SyncRun.pathway_id == pathway_id)
    session.execute(delete(RejectedRow).where(col(RejectedRow.run_id).in_(run_ids)))
    session.execute(delete(RunEvent).where(col(RunEvent.run_id).in_(run_ids)))
    session.execute(delete(AlertRule).where(col(AlertRule.pathway_id) == pathway_id))
    session.execute(delete(SyncRun).where(col(SyncRun.pathway_id) == pathway_id))
    session.execute(delete(RowLedger).where(col(RowLedger.pathway_id) == pathway_id))
    session.execute(delete(ColumnMapping).where(col(ColumnMapping.pathway_id) == pathway_id))
    session.delete(pathway)
    session.commit()
    return pathway


_MAPPING_FIELDS = frozenset(ColumnMapping.model_fields) - {"id", "pathway_id", "ordinal"}


def set_mapping(
    pathway_id: int,
    rows: Iterable[Mapping[str, Any] | ColumnMapping],
    *,
    session: Session,
) -> list[ColumnMapping]:
    """Replace the column mapping of a pathway; the order of `rows` becomes `ordinal`.

    Each row is a `ColumnMapping` or a mapping with its field names (`source_column`,
    `destination_field`, `field_type`, `length`, `precision`, `scale`, `required`,
    `is_primary_key`).

    Raises:
        ValueError: the pathway does not exist, a row lacks source/destination, or two rows
            map to the same destination field.
    """
    if session.get(Pathway, pathway_id) is None:
        msg = f"Pathway {pathway_id} does not exist."
        raise ValueError(msg)
    new_rows: list[ColumnMapping] = []
    seen: set[str] = set()
    for ordinal, row in enumerate(rows):
        data = row.model_dump() if isinstance(row, ColumnMapping) else dict(row)
        values = {k: v for k, v in data.items() if k in _MAPPING_FIELDS}
        if not values.get("source_column") or not values.get("destination_field"):
            msg = f"Mapping row {ordinal + 1} needs both a source column and a destination field."
            raise ValueError(msg)
        dest = str(values["destination_field"]).lower()
        if dest in seen:
            msg = f"Destination field {values['destination_field']!r} is mapped twice; keep one."
            raise ValueError(msg)
        seen.add(dest)
        new_rows.append(ColumnMapping(pathway_id=pathway_id, ordinal=ordinal, **values))
    session.execute(delete(ColumnMapping).where(col(ColumnMapping.pathway_id) == pathway_id))
    session.add_all(new_rows)
    session.commit()
    for row in new_rows:
        session.refresh(row)
    return new_rows


def get_mapping(pathway_id: int, *, session: Session) -> list[ColumnMapping]:
    """The column mapping of a pathway, in order."""
    stmt = (
        select(ColumnMapping)
        .where(ColumnMapping.pathway_id == pathway_id)
        .order_by(col(ColumnMapping.ordinal), col(ColumnMapping.id))
    )
    return list(session.exec(stmt))
