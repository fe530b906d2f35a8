"""Row revisions of data-set tables: `_rev` counts the changes of each row.

Every data-set table gets a `_rev` column (0 at import) and a trigger that adds 1 to it on
every UPDATE of the row, whoever runs the UPDATE (the app, a script, an admin in psql). The
sync ledger remembers the `(_row, _rev)` of each row SFMC accepted, so an incremental sync
reads only the rows that changed since (`store.ledger.UnsyncedRows`) instead of reading,
converting and hashing the whole audience.

The column and trigger are added lazily (`ensure_row_revisions`), so data sets imported by an
older version get them on their next sync; both are cheap schema changes (no row is rewritten).
"""

from __future__ import annotations

import threading

from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

REV_COLUMN = "_rev"
_PG_FUNCTION = "pathways_bump_rev"
_PG_LOCK = 7_277_301  # advisory lock key of this schema change
_lock = threading.Lock()


def _trigger_name(table_name: str) -> str:
    return f"{table_name}_rev"


def _sqlite_ddl(table: str, quote: object) -> list[str]:
    q = quote  # identifier quoting of the dialect
    return [
        f"CREATE TRIGGER IF NOT EXISTS {q(_trigger_name(table))} AFTER UPDATE ON {q(table)} "  # type: ignore[operator]
        f"FOR EACH ROW WHEN NEW.{REV_COLUMN} IS OLD.{REV_COLUMN} BEGIN "
        f"UPDATE {q(table)} SET {REV_COLUMN} = OLD.{REV_COLUMN} + 1 "  # type: ignore[operator]
        "WHERE _row = OLD._row; END"
    ]


def _postgres_ddl(table: str, quote: object) -> list[str]:
    q = quote
    return [
        f"CREATE OR REPLACE FUNCTION {_PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF NEW.{REV_COLUMN} IS NOT DISTINCT FROM OLD.{REV_COLUMN} THEN "
        f"NEW.{REV_COLUMN} := OLD.{REV_COLUMN} + 1; END IF; RETURN NEW; END $$",
        f"CREATE OR REPLACE TRIGGER {q(_trigger_name(table))} BEFORE UPDATE ON {q(table)} "  # type: ignore[operator]
        f"FOR EACH ROW EXECUTE FUNCTION {_PG_FUNCTION}()",
    ]


def _has_trigger(engine: Engine, table: str) -> bool:
    name = _trigger_name(table)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            sql = "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = ?"
        else:
            sql = "SELECT 1 FROM pg_trigger WHERE tgname = %s"
        return conn.exec_driver_sql(sql, (name,)).first() is not None


def ensure_row_revisions(engine: Engine, table_name: str) -> None:
    """Give a data-set table its `_rev` column and UPDATE trigger (idempotent, cheap).

    Raises:
        ValueError: the database is neither SQLite nor PostgreSQL (no trigger recipe).
    """
    dialect = engine.dialect.name
    if dialect not in ("sqlite", "postgresql"):
        msg = f"Row revisions need SQLite or PostgreSQL; {dialect!r} is not supported."
        raise ValueError(msg)
    quote = engine.dialect.identifier_preparer.quote
    with _lock:
        columns = {c["name"] for c in inspect(engine).get_columns(table_name)}
        if REV_COLUMN not in columns or not _has_trigger(engine, table_name):
            ddl = _sqlite_ddl if dialect == "sqlite" else _postgres_ddl
            try:
                with engine.begin() as conn:
                    if dialect == "postgresql":
                        # Workers in other processes may do this at the same moment: one at a
                        # time (CREATE OR REPLACE FUNCTION fails when run concurrently).
                        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK,))
                        columns = {
                            r[0]
                            for r in conn.exec_driver_sql(
                                "SELECT column_name FROM information_schema.columns "
                                "WHERE table_name = %s",
                                (table_name,),
                            )
                        }
                        if (
                            REV_COLUMN in columns
                            and conn.exec_driver_sql(
                                "SELECT 1 FROM pg_trigger WHERE tgname = %s",
                                (_trigger_name(table_name),),
                            ).first()
                        ):
                            return
                    if REV_COLUMN not in columns:
                        conn.exec_driver_sql(
                            f"ALTER TABLE {quote(table_name)} ADD COLUMN {REV_COLUMN} "
                            "INTEGER NOT NULL DEFAULT 0"
                        )
                    for statement in ddl(table_name, quote):
                        conn.exec_driver_sql(statement)
            except DBAPIError:
                # Another worker process did it at the same moment: fine if it is there now.
                if REV_COLUMN not in {c["name"] for c in inspect(engine).get_columns(table_name)}:
                    raise
                if not _has_trigger(engine, table_name):
                    raise
