"""Database sources on a real PostgreSQL (`pgserver`): the good path and the bad inputs.

The server's own rules do the refusing here: a read-only transaction, `statement_timeout`, and
password authentication (a `pg_hba.conf` line that asks a password for one database only).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from store.refresh import create_sql_dataset, refresh_source
from store.sql_source import SqlSourceError, preview
from tests.badinput.test_live_refresh import store_state

pytestmark = pytest.mark.postgres
_names = itertools.count()
_GUARDED = "pwcheck"


def _url(pg_server, database: str, user: str = "postgres", password: str | None = None) -> str:
    url = make_url(pg_server.get_uri()).set(database=database, username=user, password=password)
    return url.render_as_string(hide_password=False)


@pytest.fixture
def crm(pg_server) -> str:
    """A fresh source database with a donors table; its URL."""
    name = f"crm{next(_names)}"
    admin = create_engine(
        _url(pg_server, "postgres").replace("postgresql:", "postgresql+psycopg:"),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    url = _url(pg_server, name)
    source = create_engine(url.replace("postgresql:", "postgresql+psycopg:"))
    with source.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE donors (id int, email text, gift numeric(8,2))")
        conn.exec_driver_sql(
            "INSERT INTO donors SELECT g, 'd' || g || '@x.org', g * 1.5 FROM generate_series(1, 50) g"
        )
    source.dispose()
    return url


def _count(url: str) -> int:
    eng = create_engine(url.replace("postgresql:", "postgresql+psycopg:"))
    with eng.connect() as conn:
        n = conn.execute(text("SELECT COUNT(*) FROM donors")).scalar_one()
    eng.dispose()
    return n


def test_query_becomes_a_data_set_and_refreshes(engine, crm):
    got = preview(crm, "SELECT id, email, gift FROM donors ORDER BY id")
    assert got.types == {"id": "integer", "email": "email", "gift": "decimal"}
    assert got.rows[0] == ["1", "d1@x.org", "1.50"]
    rep = create_sql_dataset(engine, "crm", crm, "SELECT * FROM donors", who="admin", keys=["id"])
    assert rep.rows_imported == 50
    eng = create_engine(crm.replace("postgresql:", "postgresql+psycopg:"))
    with eng.begin() as conn:
        conn.exec_driver_sql("UPDATE donors SET gift = 0 WHERE id <= 3")
        conn.exec_driver_sql("DELETE FROM donors WHERE id = 50")
    eng.dispose()
    again = refresh_source(engine, "crm", who="schedule")
    assert (again.rows_added, again.rows_changed, again.rows_removed) == (0, 3, 1)


def test_writes_are_refused_by_the_parser_and_the_source_is_untouched(engine, crm):
    before = store_state(engine)
    for query in ("DELETE FROM donors", "SELECT 1; DROP TABLE donors", "DROP TABLE donors"):
        with pytest.raises(SqlSourceError, match="statement|contains"):
            create_sql_dataset(engine, "crm", crm, query, who="admin")
    assert _count(crm) == 50
    assert store_state(engine) == before


def test_a_writing_function_is_stopped_by_the_read_only_transaction(engine, crm):
    eng = create_engine(crm.replace("postgresql:", "postgresql+psycopg:"))
    with eng.begin() as conn:
        conn.exec_driver_sql(
            "CREATE FUNCTION wipe() RETURNS int LANGUAGE sql AS 'DELETE FROM donors RETURNING 1'"
        )
    eng.dispose()
    before = store_state(engine)
    with pytest.raises(SqlSourceError, match="read"):
        create_sql_dataset(engine, "crm", crm, "SELECT wipe() AS w", who="admin")
    assert _count(crm) == 50
    assert store_state(engine) == before


def test_statement_timeout_stops_a_slow_query(engine, crm):
    before = store_state(engine)
    with pytest.raises(SqlSourceError, match="longer than 1 seconds and was stopped"):
        create_sql_dataset(
            engine, "crm", crm, "SELECT pg_sleep(5) AS slept", who="admin", timeout_s=1
        )
    assert store_state(engine) == before


@pytest.fixture
def guarded(pg_server) -> str:
    """A database that asks a password (scram) of user `reader`, whose password is `right`."""
    hba = Path(pg_server.pgdata) / "pg_hba.conf"
    line = f"local {_GUARDED} reader scram-sha-256\n"
    if line not in hba.read_text():
        hba.write_text(line + hba.read_text())
    admin = create_engine(
        _url(pg_server, "postgres").replace("postgresql:", "postgresql+psycopg:"),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        if not conn.exec_driver_sql("SELECT 1 FROM pg_roles WHERE rolname = 'reader'").first():
            conn.exec_driver_sql("CREATE ROLE reader LOGIN PASSWORD 'right'")
        if not conn.exec_driver_sql(
            f"SELECT 1 FROM pg_database WHERE datname = '{_GUARDED}'"
        ).first():
            conn.exec_driver_sql(f"CREATE DATABASE {_GUARDED}")
        conn.exec_driver_sql("SELECT pg_reload_conf()")
    admin.dispose()
    return _GUARDED


def test_wrong_password_is_a_clear_error_without_the_password(engine, pg_server, guarded):
    before = store_state(engine)
    url = _url(pg_server, guarded, user="reader", password="wrong-pw-123")
    with pytest.raises(SqlSourceError) as caught:
        create_sql_dataset(engine, "crm", url, "SELECT 1 AS one", who="admin")
    message = str(caught.value)
    assert "Could not connect" in message
    assert "password" in message
    assert "wrong-pw-123" not in message
    assert store_state(engine) == before
    ok = preview(_url(pg_server, guarded, user="reader", password="right"), "SELECT 1 AS one")
    assert ok.rows == [["1"]]


def test_wrong_database_name_is_named(engine, pg_server):
    before = store_state(engine)
    with pytest.raises(SqlSourceError, match="Could not connect.*does not exist"):
        create_sql_dataset(engine, "crm", _url(pg_server, "no_such_db"), "SELECT 1", who="a")
    assert store_state(engine) == before
