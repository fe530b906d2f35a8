"""Smoke test of `python -m bench live` on a tiny data set (figures are the benchmark's job;
the JSON contract, the row-by-row check and the exact re-sync counts are asserted here)."""

from __future__ import annotations

import pytest

from bench.__main__ import main
from tests.test_bench_smoke import FAST_SIM, last_json

FIELDS = {
    "rows",
    "kinds",
    "first_seconds",
    "refresh_seconds",
    "resync_seconds",
    "resync_rows_sent",
    "expected_changes",
    "mismatched_rows",
    "sql_source_mismatched_rows",
    "peak_rss_mb",
}


@pytest.fixture
def bench_env(monkeypatch, tmp_path):
    # The bench points the store at its own temp dir; restore the environment afterwards.
    monkeypatch.setenv("PATHWAYS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PATHWAYS_SECRET_KEY", "x")
    monkeypatch.setenv("PATHWAYS_DEMO", "1")
    monkeypatch.delenv("DATABASE_URL", raising=False)


def test_bench_live_follows_both_sources_exactly(bench_env, capsys):
    status = main(["live", "--rows", "400", "--json", *FAST_SIM])
    result = last_json(capsys.readouterr().out)
    assert status == 0
    assert set(result) >= FIELDS
    assert result["kinds"] == ["data_extension_mirror", "membership_flag", "journey_event"]
    assert result["mismatched_rows"] == 0, result["mismatch_examples"]
    assert result["sql_source_mismatched_rows"] == 0, result["mismatch_examples"]
    # Exactly the changes are sent: joiners, changed members and leavers (journeys: joiners).
    assert result["resync_rows_sent"] == result["expected_changes"]
    assert result["sql_resync_rows_sent"] == result["expected_changes"]
    assert result["changes_by_kind"]["journey_event"][1:] == [0, 0]
