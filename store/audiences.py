"""Audiences: a data set plus filters (all of its rows when there are none).

Convention: ORM with a keyword-only `session` (see `store/__init__.py`): each function commits at
most once and returns the row, or None when it does not exist. Reading an audience's rows is
`store.audience_rows`; the filters themselves are `store.filters`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlmodel import Session, col, select

from store.errors import InUseError
from store.filters import normalize_filters
from store.models import Audience, DataSet, Pathway


def create_audience(
    name: str,
    dataset_id: int,
    filters: Sequence[Mapping[str, Any]] = (),
    modeled: bool = False,
    *,
    session: Session,
) -> Audience:
    """Create an audience; filters are checked against the data set's columns first.

    Raises:
        AudienceFilterError: a filter names an unknown column or operator, or a bad value.
        ValueError: the data set does not exist.
    """
    ds = session.get(DataSet, dataset_id)
    if ds is None:
        msg = f"Data set {dataset_id} does not exist; upload or pick another data set."
        raise ValueError(msg)
    audience = Audience(
        name=name.strip(),
        dataset_id=dataset_id,
        filters=normalize_filters(ds, filters),
        modeled=modeled,
    )
    session.add(audience)
    session.commit()
    session.refresh(audience)
    return audience


def update_audience(
    audience_id: int,
    *,
    session: Session,
    name: str | None = None,
    filters: Sequence[Mapping[str, Any]] | None = None,
    modeled: bool | None = None,
) -> Audience | None:
    """Rename an audience, replace its filters, or change its modeled flag."""
    audience = session.get(Audience, audience_id)
    if audience is None:
        return None
    if name is not None:
        audience.name = name.strip()
    if filters is not None:
        ds = session.get(DataSet, audience.dataset_id)
        assert ds is not None  # foreign key
        audience.filters = normalize_filters(ds, filters)
    if modeled is not None:
        audience.modeled = modeled
    session.add(audience)
    session.commit()
    session.refresh(audience)
    return audience


def get_audience_by_name(name: str, *, session: Session) -> Audience | None:
    """The audience with this name."""
    return session.exec(select(Audience).where(Audience.name == name)).first()


def list_audiences(
    *, session: Session, dataset_id: int | None = None, limit: int = 100, offset: int = 0
) -> list[Audience]:
    """Audiences by name, optionally those of one data set."""
    stmt = select(Audience)
    if dataset_id is not None:
        stmt = stmt.where(Audience.dataset_id == dataset_id)
    stmt = stmt.order_by(col(Audience.name)).offset(offset).limit(limit)
    return list(session.exec(stmt))


def delete_audience(audience_id: int, *, session: Session) -> Audience | None:
    """Delete an audience that no pathway uses.

    Raises:
        InUseError: pathways still push it (delete them first).
    """
    audience = session.get(Audience, audience_id)
    if audience is None:
        return None
    used = pathways_using(audience_id, session=session)
    if used:
        names = ", ".join(repr(n) for n in used)
        msg = (
            f"Audience {audience.name!r} is pushed by {len(used)} pathway(s): {names}. Delete "
            "those pathways on Manage Pathways first."
        )
        raise InUseError(msg)
    session.delete(audience)
    session.commit()
    return audience


def pathways_using(audience_id: int, *, session: Session) -> list[str]:
    """The Data Extension names of the pathways that push this audience, in name order."""
    stmt = select(Pathway.de_name).where(Pathway.audience_id == audience_id)
    return sorted(session.exec(stmt))
