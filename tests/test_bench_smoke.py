"""Smoke test of `python -m bench`: the benchmark code still runs end to end on a tiny size.

Figures are not asserted (timing belongs in the benchmark, not in tests); the JSON contract
and the row-by-row read-back are. The simulator runs with no latency and no rate limit.
"""

from __future__ import annotations

import json

import pytest

from bench.__main__ import main

FAST_SIM = [
    "--sim-latency-ms=0",
    "--sim-soap-latency-ms=0",
    "--sim-rowset-ms-per-row=0",
    "--sim-async-rows-per-s=1000000",
    "--sim-rate-limit=0",
]
PUSH_FIELDS = {
    "rows",
    "method",
    "seconds",
    "floor_seconds",
    "ratio_to_floor",
    "rows_in_de",
    "rejected_rows",
    "mismatched_rows",
    "api_calls",
    "peak_rss_mb",
}


@pytest.fixture
def isolated_env(monkeypatch, tmp_path):
    # The bench points the store at its own temp dir; restore the environment afterwards.
    for name in ("PATHWAYS_DATA_DIR", "PATHWAYS_SECRET_KEY", "PATHWAYS_DEMO"):
        monkeypatch.setenv(name, str(tmp_path) if name == "PATHWAYS_DATA_DIR" else "x")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("PATHWAYS_BENCH_PROFILE", raising=False)
    monkeypatch.delenv("PATHWAYS_BENCH_TRACE", raising=False)


def last_json(out: str) -> dict:
    lines = [line for line in out.strip().splitlines() if line.strip()]
    return json.loads(lines[-1])


def test_bench_push_and_resync_run_on_a_tiny_audience(isolated_env, capsys):
    status = main(
        ["push", "--rows", "300", "--method", "mirror", "--baseline", "naive", "--json", *FAST_SIM]
    )
    push = last_json(capsys.readouterr().out)
    assert status == 0
    assert PUSH_FIELDS | {"naive_seconds", "speedup_vs_naive", "naive_extrapolated"} <= set(push)
    assert (push["rows"], push["method"]) == (300, "mirror")
    assert push["mismatched_rows"] == 0, push.get("mismatch_examples")
    # 288 valid rows end in the DE; the seeded stale rows (5%) were deleted; 12 rows rejected.
    assert (push["rows_in_de"], push["rejected_rows"], push["rows_deleted"]) == (288, 12, 15)
    assert push["peak_rss_mb"] > 0
    assert push["naive_rows_sent"] == 300

    status = main(["resync", "--rows", "300", "--changed", "0.05", "--json", *FAST_SIM])
    resync = last_json(capsys.readouterr().out)
    assert status == 0
    assert {"first_seconds", "resync_seconds", "resync_speedup"} <= set(resync)
    assert resync["mismatched_rows"] == 0, resync.get("mismatch_examples")
    assert resync["changed_rows"] == 15
    # Only the changed valid rows are sent again; the rest is skipped by the ledger.
    assert resync["rows_sent"] == resync["changed_rows"] - 1  # one changed row is invalid


def test_bench_push_engine_only_runs_push_rows_on_a_tiny_audience(isolated_env, capsys):
    """`--engine-only` replaced tests/engine/bench_push.py: push_rows alone, tunable batches."""
    status = main(
        ["push", "--engine-only", "--rows", "300", "--batch", "100", "--in-flight", "2", "--json"]
        + FAST_SIM
    )
    push = last_json(capsys.readouterr().out)
    assert status == 0
    assert (push["mode"], push["state"], push["batch_rows"], push["in_flight"]) == (
        "engine_only",
        "succeeded",
        100,
        2,
    )
    # The same audience as the full push: 288 valid rows land, the 12 invalid ones fail.
    assert (push["rows_in_de"], push["expected_rows_in_de"], push["rows_failed"]) == (288, 288, 12)


@pytest.mark.browser
def test_bench_ui_signs_in_and_opens_every_page_of_a_small_demo(isolated_env, capsys):
    """`bench ui` at the demo's size, with fewer donors: the browser run works end to end."""
    status = main(["ui", "--demo-rows", "400", "--json"])
    result = last_json(capsys.readouterr().out)
    assert status == 0
    assert set(result["page_seconds"]) == {
        "Connections", "Audiences", "Push Audiences", "Column Mapping", "Manage Pathways",
        "Audit log",
    }  # fmt: skip
    assert result["first_start_seconds"] > 0
    assert result["peak_rss_mb"] > 0


@pytest.mark.browser
def test_bench_ui_at_scale_counts_live_and_dry_runs_a_seeded_mirror_de(isolated_env, capsys):
    """`bench ui` with a generated store: the live count and the Mirror dry run through the
    wizard, whose plan must be the one the DE was seeded for (300 donors: all in the audience).
    """
    status = main(["ui", "--rows", "300", "--pathways", "3", "--runs", "30", "--json"])
    result = last_json(capsys.readouterr().out)
    assert status == 0
    assert result["live_count_seconds"] > 0
    assert result["dry_run_seconds"] > 0
    assert result["dry_run_expected"] == {"create": 30, "update": 270, "delete": 30}
    plan = {k: result["dry_run_plan"][k] for k in ("create", "update", "delete")}
    assert plan == result["dry_run_expected"]
    assert result["dry_run_plan"]["reject"] == 0
