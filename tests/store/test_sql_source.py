"""Database sources (`store.sql_source`, `store.refresh`): the read-only check, the preview,
creating a data set from a query and refreshing it, on SQLite (PostgreSQL: the `_postgres`
twin of this file)."""

from __future__ import annotations

import sqlite3

import pytest
from sqlmodel import Session

from store.crypto import SecretKeyError, generate_key
from store.dataset_versions import list_versions
from store.datasets import get_dataset
from store.refresh import create_sql_dataset, refresh_source
from store.sql_source import SqlSourceError, check_query, masked_url, preview


def make_source(path, rows):
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS donors (id INTEGER, email TEXT, gift REAL)")
        db.execute("DELETE FROM donors")
        db.executemany("INSERT INTO donors VALUES (?, ?, ?)", rows)
    return f"sqlite:///{path}"


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM donors",
        "select id from donors where gift > 1;",
        "WITH big AS (SELECT * FROM donors WHERE gift > 5) SELECT id FROM big",
        "SELECT id FROM donors UNION SELECT id FROM donors",
    ],
)
def test_read_only_queries_pass(query):
    assert check_query(query).lower().startswith(("select", "with"))


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("DELETE FROM donors", "DELETE"),
        ("DROP TABLE donors", "DROP"),
        ("SELECT 1; DROP TABLE donors", "2 statements"),
        ("SELECT * INTO copy FROM donors", "INTO"),
        ("WITH gone AS (DELETE FROM donors RETURNING *) SELECT * FROM gone", "DELETE"),
        ("UPDATE donors SET gift = 0", "UPDATE"),
        ("", "Write a SELECT"),
    ],
)
def test_writing_queries_are_refused_before_running(query, words):
    with pytest.raises(SqlSourceError, match=words):
        check_query(query)


def test_masked_url_hides_the_password():
    assert masked_url("postgresql://ann:s3cret@db:5432/crm") == "postgresql://ann:***@db:5432/crm"


def test_preview_infers_types(tmp_path):
    url = make_source(tmp_path / "crm.db", [(1, "a@x.org", 5.5), (2, "b@x.org", None)])
    got = preview(url, "SELECT id, email, gift FROM donors ORDER BY id")
    assert got.columns == ["id", "email", "gift"]
    assert got.rows == [["1", "a@x.org", "5.5"], ["2", "b@x.org", None]]
    assert got.types == {"id": "integer", "email": "email", "gift": "decimal"}


def test_create_and_refresh_from_a_query(engine, tmp_path):
    url = make_source(tmp_path / "crm.db", [(1, "a@x.org", 5), (2, "b@x.org", 7)])
    rep = create_sql_dataset(engine, "crm", url, "SELECT * FROM donors", who="admin", keys=["id"])
    assert rep.rows_imported == 2
    with Session(engine) as s:
        ds = get_dataset(rep.dataset_id, session=s)
    assert ds.sql_query == "SELECT * FROM donors"
    assert str(tmp_path) not in ds.sql_url_encrypted  # stored encrypted
    make_source(tmp_path / "crm.db", [(1, "a@x.org", 6), (3, "c@x.org", 9)])
    again = refresh_source(engine, "crm", who="schedule")
    assert (again.rows_added, again.rows_changed, again.rows_removed) == (1, 1, 1)
    with Session(engine) as s:
        versions = list_versions(rep.dataset_id, session=s)
    assert [(v.version, v.who, v.source) for v in versions] == [
        (2, "schedule", "database query"),
        (1, "admin", "database query"),
    ]


def test_a_changed_key_names_the_database_url_not_a_client_secret(engine, tmp_path, monkeypatch):
    url = make_source(tmp_path / "crm.db", [(1, "a@x.org", 5)])
    create_sql_dataset(engine, "crm", url, "SELECT * FROM donors", who="admin", keys=["id"])
    monkeypatch.setenv("PATHWAYS_SECRET_KEY", generate_key())
    with pytest.raises(SecretKeyError, match="A stored database URL cannot be decrypted"):
        refresh_source(engine, "crm", who="schedule")


def test_missing_sqlite_file_is_an_error_not_a_new_database(engine, tmp_path):
    url = f"sqlite:///{tmp_path / 'nope.db'}"
    with pytest.raises(SqlSourceError, match="Could not connect"):
        preview(url, "SELECT 1")
    assert not (tmp_path / "nope.db").exists()
