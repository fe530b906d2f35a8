"""Engine and schema of the pathway store. `DATABASE_URL` selects the database."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

from store import models  # noqa: F401  (registers the tables)
from store.datasets import remove_unfinished
from store.import_limits import ImportLimits
from store.migrations.apply import UpgradeResult, upgrade_store

PROJECT_DIR = Path(__file__).resolve().parent.parent
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
# SQLite's companions of a database file (WAL mode, and the rollback journal while migrating).
_SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def data_dir() -> Path:
    """Where local state lives (SQLite file, demo secret key): `PATHWAYS_DATA_DIR` or ./data.

    The folder holds supporter data, password hashes and keys: it is created 0700, and an
    existing one of ours that others can enter is closed (`_make_private`).
    """
    path = Path(os.environ.get("PATHWAYS_DATA_DIR", PROJECT_DIR / "data"))
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    _make_private(path, PRIVATE_DIR)
    return path


def _make_private(path: Path, mode: int) -> None:
    """Take group and other access away from a file or folder this user owns.

    A shared sticky folder (like /tmp, if someone points `PATHWAYS_DATA_DIR` there) is left
    alone: closing it would break every other user of it.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if info.st_uid != os.getuid() or info.st_mode & stat.S_ISVTX:
        return
    if stat.S_IMODE(info.st_mode) & 0o077:
        path.chmod(mode)


def _private_sqlite_file(url: str) -> None:
    """Create the SQLite file 0600 before SQLite does (it would make it 0644), tighten old ones.

    SQLite gives the -wal and -shm files the database file's own mode, so a 0600 database keeps
    its companions private too; those left by an older version are tightened here as well.
    """
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        pass
    except OSError:
        return  # no such folder, read-only...: SQLite reports it on connect, as before
    else:
        os.close(fd)
    for file in (path, *(path.with_name(path.name + s) for s in _SQLITE_COMPANIONS)):
        _make_private(file, PRIVATE_FILE)


def database_url() -> str:
    """`DATABASE_URL` or a SQLite file under the data directory."""
    return os.environ.get("DATABASE_URL") or f"sqlite:///{data_dir() / 'pathways.db'}"


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class JsonText(str):
    """A value for a JSON column that is JSON text already: stored as it is, not encoded again.

    The engine holds rejected rows as text (`sync.types.original_json`) to use less memory.
    """


def _json_serializer(value: object) -> str:
    return value if isinstance(value, JsonText) else json.dumps(value)


def make_engine(url: str | None = None) -> Engine:
    """Create an engine for `url` (default: `database_url()`), WAL mode for SQLite."""
    url = url or database_url()
    if url.startswith("sqlite"):
        _private_sqlite_file(url)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            json_serializer=_json_serializer,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, json_serializer=_json_serializer)


def create_db_and_tables(engine: Engine) -> UpgradeResult:
    """Bring the store to the current schema, then tidy what killed imports left behind.

    The app, the worker and every command call this on start: a new store is created, an older
    one upgraded by its migrations under a lock, all or nothing (`store.migrations.apply`).
    What imports killed half-way left behind is removed (`store.datasets.remove_unfinished`; one
    still running elsewhere is left alone).

    Raises:
        StoreUpgradeError: the store could not be upgraded; it was left as it was.
    """
    result = upgrade_store(engine)
    with Session(engine) as session:
        remove_unfinished(session=session, older_than=ImportLimits.from_env().max_seconds + 60)
    return result
