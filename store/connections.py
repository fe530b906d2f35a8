"""Connections: the SFMC installed packages pathways push to, with their encrypted secrets.

Convention: ORM with a keyword-only `session` (see `store/__init__.py`): each function commits at
most once and returns the row, or None when it does not exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from store.crypto import decrypt_secret, encrypt_secret
from store.errors import InUseError
from store.models import AlertRule, Connection, Pathway, utcnow


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


# "Not given" for arguments where None means "clear it".
UNSET: Any = _Unset()


def create_connection(
    name: str,
    auth_base_uri: str,
    client_id: str,
    client_secret: str,
    account_id: str | None = None,
    allow_modeled: bool = False,
    *,
    session: Session,
) -> Connection:
    """Store a connection; the client secret is encrypted before it reaches the database.

    Raises:
        SecretKeyError: no usable secret key (nothing is stored then).
    """
    conn = Connection(
        name=name.strip(),
        auth_base_uri=auth_base_uri.strip(),
        client_id=client_id.strip(),
        client_secret_encrypted=encrypt_secret(client_secret),
        account_id=(account_id or "").strip() or None,
        allow_modeled=allow_modeled,
    )
    session.add(conn)
    session.commit()
    session.refresh(conn)
    return conn


def update_connection(
    connection_id: int,
    *,
    session: Session,
    name: str | None = None,
    auth_base_uri: str | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    account_id: str | None = UNSET,
    allow_modeled: bool | None = None,
) -> Connection | None:
    """Change a connection. The secret is write-only: `None` or "" keeps the stored one.

    `account_id` is left alone unless given; pass `None` or "" to clear it. Changing the
    credentials or URI forgets the last test result, which no longer describes them.
    """
    conn = session.get(Connection, connection_id)
    if conn is None:
        return None
    credentials_changed = False
    if name is not None:
        conn.name = name.strip()
    if auth_base_uri is not None and auth_base_uri.strip() != conn.auth_base_uri:
        conn.auth_base_uri = auth_base_uri.strip()
        credentials_changed = True
    if client_id is not None and client_id.strip() != conn.client_id:
        conn.client_id = client_id.strip()
        credentials_changed = True
    if client_secret:
        conn.client_secret_encrypted = encrypt_secret(client_secret)
        credentials_changed = True
    if account_id is not UNSET:
        conn.account_id = (account_id or "").strip() or None
        credentials_changed = True
    if allow_modeled is not None:
        conn.allow_modeled = allow_modeled
    if credentials_changed:
        conn.last_test_ok = None
        conn.last_test_at = None
        conn.last_test_report = {}
    conn.updated_at = utcnow()
    session.add(conn)
    session.commit()
    session.refresh(conn)
    return conn


def record_connection_test(
    connection_id: int, ok: bool, report: Mapping[str, Any], *, session: Session
) -> Connection | None:
    """Remember the outcome of *Test connection* (`report` must be JSON-serialisable)."""
    conn = session.get(Connection, connection_id)
    if conn is None:
        return None
    conn.last_test_ok = ok
    conn.last_test_at = utcnow()
    conn.last_test_report = dict(report)
    session.add(conn)
    session.commit()
    session.refresh(conn)
    return conn


def get_connection(connection_id: int, *, session: Session) -> Connection | None:
    """The connection with this id."""
    return session.get(Connection, connection_id)


def get_connection_by_name(name: str, *, session: Session) -> Connection | None:
    """The connection with this name."""
    return session.exec(select(Connection).where(Connection.name == name)).first()


def list_connections(*, session: Session) -> list[Connection]:
    """All connections, by name."""
    return list(session.exec(select(Connection).order_by(col(Connection.name))))


def delete_connection(connection_id: int, *, session: Session) -> Connection | None:
    """Delete a connection that no pathway uses.

    Raises:
        InUseError: pathways still push to it (delete them first).
    """
    conn = session.get(Connection, connection_id)
    if conn is None:
        return None
    used = session.exec(
        select(func.count()).select_from(Pathway).where(Pathway.connection_id == connection_id)
    ).one()
    if used:
        msg = f"Connection {conn.name!r} is used by {used} pathway(s); delete those pathways first."
        raise InUseError(msg)
    session.execute(delete(AlertRule).where(col(AlertRule.connection_id) == connection_id))
    session.delete(conn)
    session.commit()
    return conn


def connection_secret(conn: Connection) -> str:
    """The decrypted client secret of `conn` (keep it out of logs and messages).

    Raises:
        SecretKeyError: the key is missing or is not the one used when the secret was saved.
    """
    return decrypt_secret(conn.client_secret_encrypted)
