"""Database sources: a data set defined by a SQL query against the organisation's own database.

The database is someone else's: we only read it. A query must be ONE SELECT (or WITH ... SELECT)
statement, checked by a SQL parser (`sqlglot`) before it is sent: no INSERT/UPDATE/DELETE/DROP,
no data-modifying CTE, no SELECT INTO, no second statement. It then runs in a read-only
transaction with a statement timeout (PostgreSQL: `SET TRANSACTION READ ONLY` and
`statement_timeout`; SQLite: `PRAGMA query_only` and an interrupt at the deadline), and its rows
stream through a server-side cursor (`stream_results`/`yield_per`), so a million-row source never
sits in memory: they are written to a temporary CSV file that the importer reads like an upload
(`store.refresh`).

The URL carries the credentials: it is stored encrypted (`store.crypto`, like SFMC secrets) and
only ever shown with its password masked (`masked_url`). Error messages never include it.

Convention: Core with a throw-away engine per use (NullPool): nothing of the source stays open.
"""

from __future__ import annotations

import csv
import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import sqlglot
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import NullPool
from sqlglot import exp

from store.db import data_dir, database_url
from store.inference import ColumnStats

DEFAULT_TIMEOUT_S = 300
PREVIEW_ROWS = 20
STREAM_ROWS = 5_000
_DIALECTS = {"postgresql": "postgres", "sqlite": "sqlite"}
_WRITES = (
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Merge,
    exp.Drop,
    exp.Create,
    exp.Alter,
    exp.Command,
    exp.Into,
    exp.Lock,
)


class SqlSourceError(ValueError):
    """The database source cannot be used; the message says what to fix (never the password)."""


@dataclass(frozen=True)
class Preview:
    """The first rows of a query and the column types inferred from them."""

    columns: list[str]
    rows: list[list[str | None]]
    types: dict[str, str]


def parse_url(url: str) -> URL:
    """The SQLAlchemy URL, if it is one of a database we can read read-only.

    Raises:
        SqlSourceError: not a URL, or not PostgreSQL or SQLite.
    """
    try:
        parsed = make_url(url.strip())
    except ArgumentError:
        msg = (
            "That is not a database URL. Write it like postgresql://user:password@host:5432/"
            "database or sqlite:////path/to/file.db."
        )
        raise SqlSourceError(msg) from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")  # the driver the app ships with
    if parsed.get_backend_name() not in _DIALECTS:
        msg = (
            f"Database sources read PostgreSQL and SQLite; {parsed.get_backend_name()!r} is not "
            "supported. Use a postgresql:// or sqlite:// URL."
        )
        raise SqlSourceError(msg)
    _refuse_own_store(parsed)
    return parsed


def _refuse_own_store(url: URL) -> None:
    """A source must be the organisation's database, never Pathways' own store.

    The store holds password hashes and encrypted secrets: a query on it would copy them into a
    data set. Refused: a SQLite file in the data directory, and the store's own URL.
    """
    own = make_url(database_url())
    same_server = url.get_backend_name() == own.get_backend_name() != "sqlite" and (
        url.host,
        url.port,
        url.database,
    ) == (own.host, own.port, own.database)
    inside = False
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = Path(str(url.database).removeprefix("file:").split("?")[0]).resolve()
        stores = {data_dir().resolve()}
        if own.get_backend_name() == "sqlite" and own.database:
            stores.add(Path(own.database).resolve().parent)
        inside = any(path == d or d in path.parents for d in stores)
    if same_server or inside:
        msg = (
            "That URL points at Pathways' own store, which holds passwords and secrets; a source "
            "must be your organisation's database."
        )
        raise SqlSourceError(msg)


def masked_url(url: str) -> str:
    """The URL with its password replaced by ***, for display."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not a valid URL)"


def check_query(query: str, backend: str = "postgresql") -> str:
    """The query, if it is exactly one read-only SELECT (or WITH ... SELECT) statement.

    Raises:
        SqlSourceError: empty, unparsable, several statements, or a statement that writes.
    """
    sql = query.strip().rstrip(";").strip()
    if not sql:
        msg = "Write a SELECT query that returns the rows of the data set."
        raise SqlSourceError(msg)
    try:
        statements = [s for s in sqlglot.parse(sql, read=_DIALECTS.get(backend)) if s is not None]
    except sqlglot.errors.ParseError as exc:
        msg = f"The query could not be read as SQL ({str(exc).splitlines()[0]}). Check its syntax."
        raise SqlSourceError(msg) from None
    if len(statements) != 1:
        msg = (
            f"The query holds {len(statements)} statements; a database source runs exactly one "
            "SELECT. Remove the others (and any ';' between them)."
        )
        raise SqlSourceError(msg)
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        msg = (
            f"Only a SELECT (or WITH ... SELECT) query can be a source; this is a "
            f"{tree.key.upper()} statement. Pathways never changes your database."
        )
        raise SqlSourceError(msg)
    writes = [node for node in tree.walk() if isinstance(node, _WRITES)]
    if writes or tree.args.get("into") is not None:
        kind = writes[0].key.upper() if writes else "INTO"
        msg = (
            f"The query contains {kind}, which changes the database; a source must only read. "
            "Write a plain SELECT."
        )
        raise SqlSourceError(msg)
    return sql


@contextmanager
def _read_only(url: str, timeout_s: float) -> Iterator[Connection]:
    """A connection in a read-only transaction that ends statements after `timeout_s`."""
    parsed = parse_url(url)
    backend = parsed.get_backend_name()
    try:
        engine = create_engine(parsed, poolclass=NullPool, **_connect_args(backend, timeout_s))
    except (NoSuchModuleError, ArgumentError, ImportError) as exc:
        msg = f"The database URL cannot be used ({exc}). Check its driver part."
        raise SqlSourceError(msg) from None
    try:
        with engine.connect() as conn:
            if backend == "postgresql":
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout_s * 1000)}")
            else:
                conn.exec_driver_sql("PRAGMA query_only = ON")
                deadline = time.monotonic() + timeout_s
                raw = conn.connection.driver_connection
                raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
            try:
                yield conn
            finally:
                conn.rollback()
    finally:
        engine.dispose()


def _connect_args(backend: str, timeout_s: float) -> dict[str, Any]:
    if backend == "postgresql":
        return {"connect_args": {"connect_timeout": int(min(max(timeout_s, 1), 30))}}
    return {}


def _sqlite_uri(url: URL) -> URL:
    """`sqlite:///path` opened read-only through SQLite's URI form.

    A missing file is then an error, not a new empty database.
    """
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return url
    database = url.database if url.database.startswith("file:") else f"file:{url.database}"
    return url.set(database=database, query={**url.query, "mode": "ro", "uri": "true"})


def _value(value: Any) -> str | None:
    """A database value as the text a file would hold."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    return str(value)


def _friendly(exc: Exception, url: str, timeout_s: float) -> SqlSourceError:
    """A database error as what to fix, without the URL's password."""
    orig = getattr(exc, "orig", None) or exc
    first = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    password = make_url(url).password if "://" in url else None
    if password:
        first = first.replace(str(password), "***")
    lowered = first.lower()
    if "timeout" in lowered or "interrupted" in lowered or "canceling statement" in lowered:
        return SqlSourceError(
            f"The query took longer than {timeout_s:g} seconds and was stopped. Make it faster "
            "(filter or index), or raise the time limit."
        )
    if "read-only" in lowered or "readonly" in lowered:
        return SqlSourceError(f"The database refused a write ({first}); a source must only read.")
    where = masked_url(url)
    if isinstance(exc, DBAPIError) and getattr(exc, "statement", None) is None:
        return SqlSourceError(
            f"Could not connect to {where}: {first}. Check the host, port, database name, user "
            "and password in the URL, and that the database is running."
        )
    return SqlSourceError(f"The database answered with an error: {first}. Check the query.")


def stream_rows(
    url: str, query: str, *, timeout_s: float = DEFAULT_TIMEOUT_S
) -> Iterator[list[Any]]:
    """The column names, then each row as text values, streamed from a server-side cursor.

    Raises:
        SqlSourceError: the query is not a single SELECT, the database cannot be reached, the
            query fails or runs out of time.
    """
    sql = check_query(query, parse_url(url).get_backend_name())
    source = _sqlite_uri(parse_url(url)).render_as_string(hide_password=False)
    try:
        with _read_only(source, timeout_s) as conn:
            result = conn.execution_options(stream_results=True, yield_per=STREAM_ROWS).execute(
                text(sql)
            )
            yield list(result.keys())
            for part in result.partitions():
                for row in part:
                    yield [_value(v) for v in row]
    except SqlSourceError:
        raise
    except (SQLAlchemyError, OSError) as exc:
        raise _friendly(exc, url, timeout_s) from None


def preview(url: str, query: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> Preview:
    """The first `PREVIEW_ROWS` rows and the column types the importer would infer.

    Raises:
        SqlSourceError: as `stream_rows`; also when the query returns no columns.
    """
    rows = stream_rows(url, query, timeout_s=timeout_s)
    try:
        columns = [str(c) for c in next(rows)]
        first = [row for _, row in zip(range(PREVIEW_ROWS), rows, strict=False)]
    finally:
        rows.close()
    stats = [ColumnStats() for _ in columns]
    for row in first:
        for stat, value in zip(stats, row, strict=True):
            if value not in (None, ""):
                stat.add(value)
            else:
                stat.empty += 1
    types = {c: s.describe(c, c)["type"] for c, s in zip(columns, stats, strict=True)}
    return Preview(columns, first, types)


def write_csv(url: str, query: str, out: IO[str], *, timeout_s: float = DEFAULT_TIMEOUT_S) -> int:
    """Stream the query's rows into a CSV file for the importer; returns the rows written.

    Raises:
        SqlSourceError: as `stream_rows`.
    """
    writer = csv.writer(out)
    count = -1
    for row in stream_rows(url, query, timeout_s=timeout_s):
        writer.writerow(["" if v is None else v for v in row])
        count += 1
    out.flush()
    return max(count, 0)
