"""CRUD for the pathway store, tiangolo style.

Every function takes a keyword-only `session`, commits at most once, and returns the row (or
`None` when it does not exist). Domain arguments may be given by position or by name.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import delete, func, text
from sqlmodel import Session, col, select

from store.crypto import decrypt_secret, encrypt_secret
from store.models import (
    AppUser,
    Audience,
    AuditEvent,
    ColumnMapping,
    Connection,
    DataSet,
    Pathway,
    RejectedRow,
    RowLedger,
    SyncRun,
    utcnow,
)

log = logging.getLogger(__name__)


class InUseError(ValueError):
    """A row cannot be deleted because other rows still depend on it."""


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


# --- connections -----------------------------------------------------------------------------


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
    session.delete(conn)
    session.commit()
    return conn


def connection_secret(conn: Connection) -> str:
    """The decrypted client secret of `conn` (keep it out of logs and messages).

    Raises:
        SecretKeyError: the key is missing or is not the one used when the secret was saved.
    """
    return decrypt_secret(conn.client_secret_encrypted)


# --- data sets -------------------------------------------------------------------------------


def get_dataset(dataset_id: int, *, session: Session) -> DataSet | None:
    """The data set with this id."""
    return session.get(DataSet, dataset_id)


def get_dataset_by_name(name: str, *, session: Session) -> DataSet | None:
    """The data set with this name."""
    return session.exec(select(DataSet).where(DataSet.name == name)).first()


def list_datasets(*, session: Session, limit: int = 100, offset: int = 0) -> list[DataSet]:
    """Data sets, newest first."""
    stmt = select(DataSet).order_by(col(DataSet.id).desc()).offset(offset).limit(limit)
    return list(session.exec(stmt))


def delete_dataset(dataset_id: int, *, session: Session) -> DataSet | None:
    """Delete a data set and its rows table.

    Raises:
        InUseError: audiences are still built on it (delete them first).
    """
    ds = session.get(DataSet, dataset_id)
    if ds is None:
        return None
    used = session.exec(
        select(func.count()).select_from(Audience).where(Audience.dataset_id == dataset_id)
    ).one()
    if used:
        msg = f"Data set {ds.name!r} has {used} audience(s); delete those audiences first."
        raise InUseError(msg)
    # The table name was generated by us (ds_<id>), never typed by a user.
    quoted = session.get_bind().dialect.identifier_preparer.quote(ds.table_name)
    session.execute(text(f"DROP TABLE IF EXISTS {quoted}"))
    session.delete(ds)
    session.commit()
    return ds


# --- audiences -------------------------------------------------------------------------------


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
    from store.audiences import normalize_filters

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
    from store.audiences import normalize_filters

    audience = session.get(Audience, audience_id)
    if audience is None:
        return None
    if name is not None:
        audience.name = name.strip()
    if filters is not None:
        ds = session.get(DataSet, audience.dataset_id)
        assert ds is not None  # noqa: S101  (foreign key)
        audience.filters = normalize_filters(ds, filters)
    if modeled is not None:
        audience.modeled = modeled
    session.add(audience)
    session.commit()
    session.refresh(audience)
    return audience


def get_audience(audience_id: int, *, session: Session) -> Audience | None:
    """The audience with this id."""
    return session.get(Audience, audience_id)


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
    used = session.exec(
        select(func.count()).select_from(Pathway).where(Pathway.audience_id == audience_id)
    ).one()
    if used:
        msg = f"Audience {audience.name!r} is pushed by {used} pathway(s); delete those first."
        raise InUseError(msg)
    session.delete(audience)
    session.commit()
    return audience


# --- pathways --------------------------------------------------------------------------------

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


def find_pathway(audience_id: int, connection_id: int, *, session: Session) -> Pathway | None:
    """The (first) pathway pushing this audience to this connection, if any."""
    stmt = (
        select(Pathway)
        .where(Pathway.audience_id == audience_id, Pathway.connection_id == connection_id)
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


# --- audit -----------------------------------------------------------------------------------


def record_audit(who: str, action: str, detail: str = "", *, session: Session) -> AuditEvent:
    """Record that `who` did `action` (`detail` must not contain secrets)."""
    event = AuditEvent(who=who or "system", action=action, detail=detail)
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


# --- users -----------------------------------------------------------------------------------


def upsert_user(
    username: str,
    name: str,
    roles: Sequence[str],
    password_hash: str,
    email: str = "",
    *,
    session: Session,
) -> AppUser:
    """Create or replace a login (the password must already be hashed with bcrypt)."""
    user = session.exec(select(AppUser).where(AppUser.username == username)).first()
    if user is None:
        user = AppUser(username=username, name=name, password_hash=password_hash)
    user.name = name
    user.email = email
    user.roles = list(roles)
    user.password_hash = password_hash
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


def get_user(username: str, *, session: Session) -> AppUser | None:
    """The login with this username."""
    return session.exec(select(AppUser).where(AppUser.username == username)).first()


def list_users(*, session: Session) -> list[AppUser]:
    """All logins, by username."""
    return list(session.exec(select(AppUser).order_by(col(AppUser.username))))


@functools.lru_cache(maxsize=256)
def _has_demo_password(password_hash: str) -> bool:
    # bcrypt is slow on purpose and the login page reruns often: remember the verdict per hash.
    import bcrypt

    from store.demo import DEMO_PASSWORD

    try:
        return bcrypt.checkpw(DEMO_PASSWORD.encode("utf-8"), password_hash.encode("utf-8"))
    except ValueError:  # not a bcrypt hash; the authenticator refuses it anyway
        return False


def authenticator_credentials(*, session: Session) -> dict[str, Any]:
    """Logins in the shape `streamlit_authenticator.Authenticate(credentials=...)` expects.

    Passwords are bcrypt hashes, so pass `auto_hash=False`. Outside demo mode, users whose
    password is still the public demo password (printed on the demo login page) are left out:
    a store first opened as a demo must not let its demo users into a live deployment.
    """
    from store.settings import demo_mode

    live = not demo_mode()
    usernames: dict[str, Any] = {}
    for user in list_users(session=session):
        if live and _has_demo_password(user.password_hash):
            log.warning(
                "user %r still has the public demo password: refused outside demo mode",
                user.username,
            )
            continue
        first, _, last = user.name.partition(" ")
        usernames[user.username] = {
            "name": user.name,
            "first_name": first,
            "last_name": last,
            "email": user.email,
            "password": user.password_hash,
            "roles": list(user.roles),
        }
    return {"usernames": usernames}
