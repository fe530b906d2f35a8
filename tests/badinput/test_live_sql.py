"""Bad database sources (issue 14): each a clear error, the store and the source unchanged.

SQLite sources here; PostgreSQL ones (a real server from `pgserver`: statement timeout, wrong
password, wrong database) in `test_live_sql_postgres.py`.
"""

from __future__ import annotations

import sqlite3

import pytest

from store.refresh import create_sql_dataset, refresh_source
from store.sql_source import SqlSourceError, preview
from tests.badinput.test_live_refresh import store_state


def crm(path) -> str:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE donors (id INTEGER, email TEXT)")
        db.executemany("INSERT INTO donors VALUES (?, ?)", [(1, "a@x.org"), (2, "b@x.org")])
    return f"sqlite:///{path}"


@pytest.fixture
def src(tmp_path_factory):
    """A folder for the source database, outside the store's data directory."""
    return tmp_path_factory.mktemp("crm")


def source_rows(path) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT * FROM donors ORDER BY id").fetchall()


SLOW = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 500000000) "
    "SELECT MAX(x) AS n FROM c"
)

QUERIES = {
    "writes": ("DELETE FROM donors", "contains DELETE|DELETE statement"),
    "drops": ("DROP TABLE donors", "DROP statement"),
    "two statements": ("SELECT * FROM donors; DELETE FROM donors", "holds 2 statements"),
    "writes in a CTE": (
        "WITH gone AS (DELETE FROM donors RETURNING *) SELECT * FROM gone",
        "contains DELETE",
    ),
    "creates a table": ("SELECT * INTO copy FROM donors", "contains INTO"),
    "not SQL": ("SELEKT everything", "SELECT|could not be read"),
    "unknown table": ("SELECT * FROM supporters", "database answered with an error"),
}


@pytest.mark.parametrize("case", list(QUERIES))
def test_bad_query_is_refused_and_changes_nothing(engine, src, case):
    query, words = QUERIES[case]
    url = crm(src / "crm.db")
    before = store_state(engine)
    with pytest.raises(SqlSourceError, match=words):
        create_sql_dataset(engine, "crm", url, query, who="admin")
    with pytest.raises(SqlSourceError, match=words):
        preview(url, query)
    assert store_state(engine) == before
    assert source_rows(src / "crm.db") == [(1, "a@x.org"), (2, "b@x.org")]


def test_query_that_runs_too_long_is_stopped(engine, src):
    url = crm(src / "crm.db")
    before = store_state(engine)
    with pytest.raises(SqlSourceError, match=r"longer than 0.5 seconds and was stopped"):
        create_sql_dataset(engine, "crm", url, SLOW, who="admin", timeout_s=0.5)
    assert store_state(engine) == before


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("crm database please", "not a database URL"),
        ("mysql://u:p@db/crm", "'mysql' is not supported"),
        ("sqlite:////nowhere/crm.db", "Could not connect to sqlite:////nowhere/crm.db"),
    ],
)
def test_wrong_database_url_is_named_and_changes_nothing(engine, url, words):
    before = store_state(engine)
    with pytest.raises(SqlSourceError, match=words):
        create_sql_dataset(engine, "crm", url, "SELECT 1 AS one", who="admin")
    assert store_state(engine) == before


def test_source_gone_at_refresh_leaves_the_data_set_as_it_was(engine, src):
    path = src / "crm.db"
    create_sql_dataset(engine, "crm", crm(path), "SELECT * FROM donors", who="admin", keys=["id"])
    before = store_state(engine)
    path.rename(src / "moved.db")  # the database is down / moved
    with pytest.raises(SqlSourceError, match="Could not connect"):
        refresh_source(engine, "crm", who="schedule")
    assert store_state(engine) == before


def test_the_apps_own_store_is_not_a_source(engine, env):
    before = store_state(engine)
    own = f"sqlite:///{env / 'store.db'}"
    with pytest.raises(SqlSourceError, match="Pathways' own store"):
        create_sql_dataset(engine, "users", own, "SELECT * FROM appuser", who="staff")
    with pytest.raises(SqlSourceError, match="Pathways' own store"):
        preview(f"sqlite:///{env / 'sub' / '..' / 'store.db'}", "SELECT * FROM connection")
    assert store_state(engine) == before
