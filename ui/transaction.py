"""One database transaction for a use case that writes several rows.

The store's repository functions commit once each. A use case such as "create a pathway with its
mapping and audit entry" must write all or nothing, so it runs them on a Session joined to an
outer transaction: their commits then only flush (SQLAlchemy's default join mode for a Session
bound to a Connection already in a transaction), and the outer transaction commits at the end
or rolls everything back on an exception.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlmodel import Session

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """A Session whose writes commit together when the block ends, or not at all."""
    with engine.begin() as conn, Session(bind=conn) as session:
        yield session
