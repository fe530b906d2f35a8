"""Upgrades of a store made by release 8613ea0 (a real SQLite file it made) lose nothing.

The same checks run on PostgreSQL in `test_migrations_pg.py` (shared as `assert_*` helpers).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from store.cli_check import check_store
from store.connections import connection_secret
from store.db import create_db_and_tables, make_engine
from store.migrations.apply import (
    BASELINE,
    StoreUpgradeError,
    head_revision,
    run_command,
    store_revision,
)
from store.migrations.schema import schema_differences, schema_digest
from store.queue import enqueue_run, list_runs
from tests.store.release_store import loader

ROOT = Path(__file__).resolve().parents[2]
# What release 8613ea0 made (make_release_store.py): 3 users, 1 connection, 1 data set of 300
# donors, 4 audiences, 2 pathways, 3 runs (upsert, mirror, dry run).
EXPECTED = {"appuser": 3, "connection": 1, "dataset": 1, "audience": 4, "pathway": 2,
            "syncrun": 3, "rowledger": 379, "rejectedrow": 32}  # fmt: skip


@pytest.fixture
def release_env(tmp_path, monkeypatch):
    monkeypatch.setenv("PATHWAYS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PATHWAYS_SECRET_KEY", loader.release_key())
    monkeypatch.delenv("PATHWAYS_OLD_SECRET_KEYS", raising=False)
    monkeypatch.setenv("PATHWAYS_DEMO", "1")
    return tmp_path


@pytest.fixture
def release_engine(release_env):
    engine = make_engine(f"sqlite:///{loader.sqlite_copy(release_env)}")
    yield engine
    engine.dispose()


def assert_nothing_lost(engine: Engine, before: dict[str, int]) -> None:
    """Counts of every table (data set tables too) and a few values survive the upgrade."""
    after = loader.counts(engine, tuple(before))
    assert after == before
    for table, n in EXPECTED.items():
        assert after[table] == n, table
    with engine.connect() as conn:
        runs = conn.execute(text("SELECT state, rows_succeeded, rows_failed, dry_run, error_kind "
                                 "FROM syncrun ORDER BY id")).all()  # fmt: skip
        names = conn.execute(text("SELECT de_name, method FROM pathway ORDER BY id")).all()
        donor = conn.execute(
            text(f"SELECT email FROM {loader.dataset_tables()[0]} WHERE _row = 1")
        ).scalar()
    assert [(r[0], r[1], r[2], bool(r[3]), r[4]) for r in runs] == [
        ("succeeded", 276, 24, False, None),
        ("succeeded", 103, 8, False, None),
        ("succeeded", 0, 24, True, None),
    ]
    assert [tuple(n) for n in names] == [("All donors", "upsert"), ("Monthly givers", "mirror")]
    assert donor
    assert "@" in donor
    from sqlmodel import Session

    from store.models import Connection

    with Session(engine) as session:
        (connection,) = session.query(Connection).all()
        assert connection_secret(connection) == "pathways-demo-secret"


def assert_upgraded_like_fresh(engine: Engine) -> None:
    """The upgraded store has exactly the models' schema (alembic's compare_metadata is empty)."""
    with engine.connect() as conn:
        assert schema_differences(conn) == []
        assert store_revision(conn) == head_revision()


def test_upgrade_revision_is_regenerated_for_the_current_models():
    # Fails when store/models.py changed after the upgrade revision was generated.
    assert head_revision() == f"u{schema_digest()}", (
        "store/models.py changed: run `python -m store.migrations.autogen` and commit the revision"
    )


def test_release_store_upgrades_through_the_revisions_alone(release_engine):
    # Alembic only (no completion step): the revisions themselves bring it to the models.
    with release_engine.begin() as conn:
        run_command(conn, "stamp", BASELINE)
        run_command(conn, "upgrade", "head")
    assert_upgraded_like_fresh(release_engine)


def test_release_store_upgrades_on_start_and_loses_nothing(release_engine):
    before = loader.counts(release_engine, (*loader.MODEL_TABLES, *loader.dataset_tables()))
    result = create_db_and_tables(release_engine)
    assert (result.kind, result.before, result.after) == ("baseline", None, head_revision())
    assert_upgraded_like_fresh(release_engine)
    assert_nothing_lost(release_engine, before)
    assert create_db_and_tables(release_engine).kind == "current"
    # The upgraded store works: a new run of an old pathway is queued next to the old runs.
    enqueue_run(release_engine, 1, "manual")
    assert [r.state for r in list_runs(release_engine, 1)] == ["queued", "succeeded", "succeeded"]


def test_check_reports_the_upgraded_release_store(release_engine):
    create_db_and_tables(release_engine)
    with release_engine.connect() as conn:
        report = check_store(conn)
    assert report["problems"] == []
    assert {k: report[k] for k in ("users", "connections", "datasets", "dataset_rows", "audiences",
                                   "pathways", "runs", "secrets_ok")} == {
        "users": 3, "connections": 1, "datasets": 1, "dataset_rows": 300, "audiences": 4,
        "pathways": 2, "runs": 3, "secrets_ok": True}  # fmt: skip


def break_mid_migration(engine: Engine) -> None:
    """Take a name the upgrade creates late (an index of a new table), so it fails half-way."""
    with engine.begin() as conn:
        conn.execute(text("CREATE INDEX ix_runevent_run_id ON auditevent (at)"))


def assert_left_as_it_was(engine: Engine, before: dict[str, int]) -> None:
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        assert "alembic_version" not in tables
        assert not {"datasetversion", "runevent", "alertrule"} & tables  # created, rolled back
        assert "error_kind" not in {c["name"] for c in inspect(conn).get_columns("syncrun")}
    assert loader.counts(engine, tuple(before)) == before


def test_failed_migration_leaves_the_store_as_it_was(release_engine):
    break_mid_migration(release_engine)
    before = loader.counts(release_engine)
    with pytest.raises(StoreUpgradeError, match="rolled back and the store is as it was"):
        create_db_and_tables(release_engine)
    assert_left_as_it_was(release_engine, before)


def test_two_processes_upgrading_at_once_migrate_once(release_env):
    path = loader.sqlite_copy(release_env)
    env = {"PATH": "/usr/bin:/bin", "PATHWAYS_DATA_DIR": str(release_env), "PYTHONPATH": str(ROOT),
           "DATABASE_URL": f"sqlite:///{path}"}  # fmt: skip
    procs = [subprocess.Popen([sys.executable, "-m", "store", "upgrade"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]  # fmt: skip
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    said = sorted(out.split(" ")[0] for out, _ in outputs)
    assert said == ["The", "Upgraded"], outputs  # one upgraded, the other found it current
    engine = make_engine(f"sqlite:///{path}")
    assert_upgraded_like_fresh(engine)
    engine.dispose()


def test_check_json_exits_non_zero_on_an_old_store(release_env):
    path = loader.sqlite_copy(release_env)
    done = subprocess.run([sys.executable, "-m", "store", "check", "--json", "--database-url",
                           f"sqlite:///{path}"], cwd=ROOT, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "PATHWAYS_DATA_DIR": str(release_env),
                               "PYTHONPATH": str(ROOT), "PATHWAYS_SECRET_KEY": loader.release_key()},
                          timeout=120)  # fmt: skip
    assert done.returncode == 1
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["schema_ok"] is False
    assert report["secrets_ok"] is True
    assert "python -m store upgrade" in report["problems"][0]
