"""The refresh tests of `test_refresh.py`, on a real PostgreSQL 16 started by `pgserver`."""

from __future__ import annotations

import pytest

# Re-run these test functions here with the PostgreSQL `engine` fixture.
from tests.store.test_postgres import engine, pg_uri  # noqa: F401
from tests.store.test_refresh import (  # noqa: F401
    test_changed_row_gets_new_revision_removed_rows_go,
    test_new_column_becomes_available_and_filters_follow,
    test_replace_by_key_updates_only_changed_rows_and_keeps_row_numbers,
    test_replace_without_key_swaps_all_rows,
    test_staging_data_set_is_never_listed_and_is_gone_after,
    test_type_change_recomputes_typed_companions,
    test_upsert_keeps_rows_missing_from_the_file_unless_asked,
)

pytestmark = pytest.mark.postgres
