"""Copies of the release 8613ea0 store for the upgrade tests: a SQLite file, or PostgreSQL.

The fixture is a SQLite file made by the release itself (`make_release_store.py`). For
PostgreSQL the release's schema is made by the baseline revision (then unstamped, as the
release left it) and every row of the file is copied in, data set tables included.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, Table, create_engine, insert, select, text
from sqlalchemy.engine import Engine

from store.migrations.apply import BASELINE, run_command
from tests.store.release_store.make_release_store import FIXTURE, KEY_FILE

MODEL_TABLES = ("appuser", "auditevent", "connection", "dataset", "audience", "pathway",
                "columnmapping", "syncrun", "rejectedrow", "rowledger", "preflightrefusal")  # fmt: skip


def release_key() -> str:
    """The secret key the release encrypted the demo connection's client secret with."""
    return KEY_FILE.read_text().strip()


def sqlite_copy(folder: Path) -> Path:
    """A private copy of the fixture file in `folder`."""
    target = folder / "release.db"
    shutil.copyfile(FIXTURE, target)
    return target


def counts(engine: Engine, tables: tuple[str, ...] = MODEL_TABLES) -> dict[str, int]:
    """Rows per table (data set tables included by name)."""
    with engine.connect() as conn:
        return {t: conn.execute(text(f'SELECT COUNT(*) FROM "{t}"')).scalar_one() for t in tables}


def dataset_tables() -> tuple[str, ...]:
    with sqlite3.connect(FIXTURE) as db:
        return tuple(r[0] for r in db.execute("SELECT table_name FROM dataset ORDER BY id"))


def load_into_postgres(engine: Engine) -> None:
    """Make `engine`'s (empty) database look like the release made it, with the fixture's rows."""
    source = create_engine(f"sqlite:///{FIXTURE}")
    with engine.begin() as conn:
        run_command(conn, "upgrade", BASELINE)
        conn.execute(text("DROP TABLE alembic_version"))  # the release had no version table
    old = MetaData()
    old.reflect(source)
    with engine.begin() as conn, source.connect() as src:
        for name in dataset_tables():
            columns = [c._copy() for c in old.tables[name].columns]
            for column in columns:
                column.type = column.type.as_generic()
            Table(name, MetaData(), *columns).create(conn)
        target = MetaData()
        target.reflect(conn)
        for name in (*MODEL_TABLES, *dataset_tables()):
            rows: list[dict[str, Any]] = [
                dict(r) for r in src.execute(select(old.tables[name])).mappings()
            ]
            if rows:
                conn.execute(insert(target.tables[name]), rows)
            if "id" in target.tables[name].c:
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                  f"(SELECT COALESCE(MAX(id), 1) FROM \"{name}\"))"))  # fmt: skip
    source.dispose()
