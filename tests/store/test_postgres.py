"""The same repo, import and audience tests, on a real PostgreSQL 16 started by `pgserver`.

pgserver runs PostgreSQL from a wheel (no system install). As root it runs the server as its
own unprivileged user, so nothing special is needed here. One server per test session (per
xdist worker); each test gets a fresh database, so tests stay independent and fast.
"""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import event, text

from store.db import create_db_and_tables, make_engine

# Re-run these test functions here with the PostgreSQL `engine` fixture below.
from tests.store.test_audiences import (  # noqa: F401
    ds,
    test_audience_count_preview_and_iteration,
    test_bad_filters_are_clear_errors,
    test_filters_combine_with_and,
    test_injection_in_values_matches_nothing_and_drops_nothing,
    test_iteration_is_stable_across_many_chunks,
    test_operators,
)
from tests.store.test_datasets import (  # noqa: F401
    test_bom_types_and_safe_names,
    test_cp1252_file,
    test_ragged_rows_refused_with_line_numbers,
    test_semicolon_delimiter_and_quoted_newlines,
    test_stray_bytes_in_utf8_file_are_refused_with_line,
    test_ten_megabyte_cell,
    test_types_change_after_first_batch,
    test_unusable_files_raise_dataset_error_and_leave_nothing,
    test_xlsx_import,
)
from tests.store.test_repositories import (  # noqa: F401
    test_audiences_and_datasets,
    test_audit_pagination,
    test_connection_secret_is_write_only,
    test_pathway_crud_mapping_and_find,
    test_users_and_authenticator_credentials,
)

pytestmark = pytest.mark.postgres
_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_uri(pg_server):
    return pg_server.get_uri()


@pytest.fixture
def engine(pg_uri):
    """A fresh schema per test (much faster than a database per test)."""
    schema = f"t{next(_counter)}"
    engine = make_engine(pg_uri)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))

    @event.listens_for(engine, "connect")
    def _use_schema(dbapi_connection, _record):
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET search_path TO {schema}")
        dbapi_connection.commit()

    engine.dispose()  # drop the pooled connection made before the listener
    create_db_and_tables(engine)
    yield engine
    engine.dispose()


def test_engine_is_really_postgres(engine):
    assert engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        assert "PostgreSQL 16" in conn.execute(text("select version()")).scalar_one()
        assert conn.execute(text("select current_schema()")).scalar_one().startswith("t")
