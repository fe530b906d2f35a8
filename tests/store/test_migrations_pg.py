"""The release 8613ea0 store upgraded on a real PostgreSQL (pgserver): nothing lost, all or nothing."""

from __future__ import annotations

import itertools
import os
import threading

import pytest
from sqlalchemy import text

from store.db import create_db_and_tables, make_engine
from store.migrations.apply import StoreUpgradeError, head_revision
from tests.store.release_store import loader
from tests.store.test_migrations import (
    assert_left_as_it_was,
    assert_nothing_lost,
    assert_upgraded_like_fresh,
    break_mid_migration,
    release_env,  # noqa: F401  (fixture)
)

pytestmark = pytest.mark.postgres
_counter = itertools.count()


@pytest.fixture
def pg_release(release_env, pg_server):  # noqa: F811
    name = f"release{os.getpid()}_{next(_counter)}"
    admin = make_engine(pg_server.get_uri())
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    engine = make_engine(pg_server.get_uri(name))
    loader.load_into_postgres(engine)
    yield engine
    engine.dispose()


def test_release_store_upgrades_on_postgres_and_loses_nothing(pg_release):
    assert pg_release.dialect.name == "postgresql"
    before = loader.counts(pg_release, (*loader.MODEL_TABLES, *loader.dataset_tables()))
    result = create_db_and_tables(pg_release)
    assert (result.kind, result.after) == ("baseline", head_revision())
    assert_upgraded_like_fresh(pg_release)
    assert_nothing_lost(pg_release, before)


def test_failed_migration_on_postgres_leaves_the_store_as_it_was(pg_release):
    break_mid_migration(pg_release)
    before = loader.counts(pg_release)
    with pytest.raises(StoreUpgradeError, match="rolled back"):
        create_db_and_tables(pg_release)
    assert_left_as_it_was(pg_release, before)


def test_two_upgrades_at_once_on_postgres_migrate_once(pg_release):
    # Both wait on the advisory lock; the second finds the store current.
    results = []
    threads = [threading.Thread(target=lambda: results.append(create_db_and_tables(pg_release).kind))
               for _ in range(2)]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(results) == ["baseline", "current"]
    assert_upgraded_like_fresh(pg_release)
