"""Bring a store to the current schema, under a lock, all or nothing.

The kinds of store (`upgrade_store`, `UpgradeResult.kind`):

- **fresh** (none of the models' tables): `create_all` and stamp the head revision, Alembic's
  recipe for new databases, so the newest models never wait for a revision to be written;
- **baseline** (no `alembic_version`, exactly release 8613ea0's tables and columns): stamped
  with the baseline `r8613ea0` and upgraded through the revisions;
- **versioned**: upgraded from its revision to head (**current** when it is there already);
- **unversioned** (no or a draft `u...` revision, made by a build between two revisions):
  missing tables, nullable or defaulted columns and indexes are added, then stamped head. The
  same completion follows an upgrade while the models changed after the upgrade revision was
  generated (work in progress; `python -m store.migrations.autogen` ends it).

One process migrates at a time: PostgreSQL takes `pg_advisory_xact_lock`, SQLite `BEGIN
IMMEDIATE`; whoever waited finds the store current and does nothing. The whole upgrade is one
transaction (DDL is transactional on both), so a migration that fails leaves the store as it
was. After upgrading, the store's schema is compared with the models; any difference (a
forgotten regeneration of the upgrade revision) rolls everything back too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import SQLModel

from store.migrations.schema import schema_differences, schema_digest

BASELINE = "r8613ea0"
# pg_advisory_xact_lock key of store migrations (any constant shared by every process).
_PG_LOCK_KEY = 0x50415448  # "PATH"
# Diffs that mean a table or column is missing or left over (types are reported separately).
_SHAPE_DIFFS = ("add_table", "remove_table", "add_column", "remove_column")


class StoreUpgradeError(RuntimeError):
    """The store could not be brought to the current schema; it was left as it was."""


@dataclass(frozen=True)
class UpgradeResult:
    """What `upgrade_store` did: `kind` is fresh, unversioned, versioned or current."""

    kind: str
    before: str | None
    after: str


def alembic_config() -> Config:
    """A new Alembic config per use: `attributes` carries the connection of one migration."""
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).resolve().parent))
    return config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The revision of the current models (the last file in `versions/`)."""
    head = _scripts().get_current_head()
    assert head is not None
    return head


def store_revision(conn: Connection) -> str | None:
    """The store's revision (None: fresh or unversioned)."""
    return MigrationContext.configure(conn).get_current_revision()


@contextlib.contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction that only one process at a time can hold."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            # pysqlite opens transactions itself, too late for DDL: take over, then BEGIN
            # IMMEDIATE (the write lock, waiting up to the busy timeout for another migrator).
            dbapi = conn.connection.driver_connection
            saved = dbapi.isolation_level  # type: ignore[union-attr]
            dbapi.isolation_level = None  # type: ignore[union-attr]
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                yield conn
            finally:
                dbapi.isolation_level = saved  # type: ignore[union-attr]
        else:
            conn.begin()
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
            yield conn


def run_command(conn: Connection, action: str, revision: str) -> None:
    """Alembic's `command.<action>(revision)` (stamp, upgrade) on `conn`, in its transaction."""
    config = alembic_config()
    config.attributes["connection"] = conn
    getattr(command, action)(config, revision)


def _migrate(conn: Connection, head: str) -> UpgradeResult:
    """The upgrade itself, inside the caller's locked transaction."""
    before = store_revision(conn)
    tables = set(inspect(conn).get_table_names())
    if before is None and not tables & set(SQLModel.metadata.tables):
        SQLModel.metadata.create_all(conn)
        run_command(conn, "stamp", head)
        return UpgradeResult("fresh", None, head)
    known = {s.revision for s in _scripts().walk_revisions()}
    if before is None and _columns(conn) == _baseline_columns():
        run_command(conn, "stamp", BASELINE)
        run_command(conn, "upgrade", head)
        kind = "baseline"
    elif before in known:
        run_command(conn, "upgrade", head)
        kind = "current" if before == head else "versioned"
    elif before is None or before.startswith("u"):
        kind = "unversioned"  # a build between releases, or stamped by a draft of the revision
    else:
        msg = (
            f"The store is at schema revision {before!r}, which this version of Pathways does not "
            "know: it was upgraded by a newer version. Run that version (or restore the backup "
            "taken before the upgrade); nothing was changed."
        )
        raise StoreUpgradeError(msg)
    if kind == "unversioned" or _models_changed(head):
        _add_missing(conn)
        run_command(conn, "stamp", head)
    left = [d for d in schema_differences(conn) if _kind(d) in _SHAPE_DIFFS]
    if left:
        msg = (
            f"After upgrading, the store's schema still differs from this version's models "
            f"({'; '.join(_describe(d) for d in left[:5])}). The upgrade was rolled back, nothing "
            "changed. Regenerate the upgrade revision (python -m store.migrations.autogen) or, "
            "for a store older than release 8613ea0, upgrade it with that release first."
        )
        raise StoreUpgradeError(msg)
    return UpgradeResult(kind, before, head)


def _columns(conn: Connection) -> dict[str, set[str]]:
    """The store's columns of the models' tables (by table name)."""
    inspector = inspect(conn)
    names = set(inspector.get_table_names()) & set(SQLModel.metadata.tables)
    return {t: {c["name"] for c in inspector.get_columns(t)} for t in names}


@cache
def _baseline_columns() -> dict[str, set[str]]:
    """The columns of release 8613ea0's tables (the baseline revision run on a scratch SQLite)."""
    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        run_command(conn, "upgrade", BASELINE)
        found = _columns(conn)
    engine.dispose()
    return found


def _models_changed(head: str) -> bool:
    """Whether the models changed after the upgrade revision was generated (work in progress)."""
    return head.startswith("u") and head != f"u{schema_digest()}"


def _add_missing(conn: Connection) -> None:
    """Create missing tables and add missing nullable or defaulted columns and indexes.

    Only additions, which is all a store made between two revisions can lack (new columns must
    be nullable or have a server default); anything else is left to the check that follows.
    """
    SQLModel.metadata.create_all(conn)
    inspector = inspect(conn)
    operations = Operations(MigrationContext.configure(conn))
    for t in SQLModel.metadata.sorted_tables:
        present = {c["name"] for c in inspector.get_columns(t.name)}
        for column in t.columns:
            if column.name not in present and (column.nullable or column.server_default):
                operations.add_column(t.name, column._copy())
        indexes = {i["name"] for i in inspector.get_indexes(t.name)}
        for index in t.indexes:
            if index.name not in indexes:
                index.create(conn, checkfirst=True)


def _kind(diff: object) -> str:
    """A diff's kind: compare_metadata gives a tuple, or a list of tuples for column changes."""
    item = diff[0] if isinstance(diff, list) else diff
    return str(item[0])  # type: ignore[index]


def _describe(diff: object) -> str:
    item = diff[0] if isinstance(diff, list) else diff
    if not isinstance(item, tuple):
        return str(item)
    kind = item[0]
    if kind in ("add_table", "remove_table"):
        return f"{kind.replace('_', ' ')} {item[1].name}"
    if kind in ("add_column", "remove_column"):
        return f"{kind.replace('_', ' ')} {item[2]}.{item[3].name}"
    return str(kind)


def upgrade_store(engine: Engine) -> UpgradeResult:
    """Bring the store behind `engine` to the current schema (see the module docstring).

    Raises:
        StoreUpgradeError: the upgrade failed; the store is as it was, the message says why
            and what to do.
    """
    head = head_revision()
    try:
        with engine.connect() as conn:
            if store_revision(conn) == head and not _models_changed(head):  # the common case
                return UpgradeResult("current", head, head)
    except SQLAlchemyError as exc:
        msg = (
            f"The store at {engine.url.render_as_string(hide_password=True)} cannot be read as a "
            f"database ({str(getattr(exc, 'orig', None) or exc).splitlines()[0][:200]}). Check DATABASE_URL (or "
            "PATHWAYS_DATA_DIR) points at the Pathways store; nothing was changed."
        )
        raise StoreUpgradeError(msg) from None
    with _locked(engine) as conn:
        try:
            result = _migrate(conn, head)
        except StoreUpgradeError:
            conn.rollback()
            raise
        except Exception as exc:
            conn.rollback()
            msg = (
                f"Upgrading the store to schema revision {head} failed ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0][:300]}). The upgrade was rolled back and the store "
                "is as it was; fix the cause and run `python -m store upgrade` again."
            )
            raise StoreUpgradeError(msg) from exc
        conn.commit()
    return result
