"""Engine and schema of the pathway store. `DATABASE_URL` selects the database."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel, create_engine

from store import models  # noqa: F401  (registers the tables)

PROJECT_DIR = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """Where local state lives (SQLite file, demo secret key): `PATHWAYS_DATA_DIR` or ./data."""
    path = Path(os.environ.get("PATHWAYS_DATA_DIR", PROJECT_DIR / "data"))
    path.mkdir(parents=True, exist_ok=True)
    return path


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


def make_engine(url: str | None = None) -> Engine:
    """Create an engine for `url` (default: `database_url()`), WAL mode for SQLite."""
    url = url or database_url()
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True)


def create_db_and_tables(engine: Engine) -> None:
    """Create every table that does not exist yet, and add columns/indexes added since.

    Stores created by an older version keep working: nullable columns and indexes the models
    gained are added in place (no data is rewritten).
    """
    SQLModel.metadata.create_all(engine)
    _add_missing(engine)


def _add_missing(engine: Engine) -> None:
    inspector = inspect(engine)
    quote = engine.dialect.identifier_preparer.quote
    for table in SQLModel.metadata.sorted_tables:
        if not inspector.has_table(table.name):
            continue
        present = {c["name"] for c in inspector.get_columns(table.name)}
        missing = [c for c in table.columns if c.name not in present and c.nullable]
        indexes = {i["name"] for i in inspector.get_indexes(table.name)}
        if not missing and all(i.name in indexes for i in table.indexes):
            continue
        with engine.begin() as conn:
            for column in missing:
                kind = column.type.compile(dialect=engine.dialect)
                conn.exec_driver_sql(
                    f"ALTER TABLE {quote(table.name)} ADD COLUMN {quote(column.name)} {kind}"
                )
        for index in table.indexes:
            if index.name not in indexes:
                index.create(engine, checkfirst=True)
