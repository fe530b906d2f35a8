"""The PostgreSQL chaos scenarios, small: three worker processes on one real server (pgserver).

A worker killed mid-run (another resumes from the checkpoint), a worker killed holding a
scheduled slot's run, and a schedule falling due under three polling workers (one run). The
full-size run is `python -m bench chaos --database postgres`.
"""

from __future__ import annotations

from dataclasses import asdict

import pytest

from bench.chaos_postgres import SCENARIOS, run_suite

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_postgres_scenario_loses_and_duplicates_nothing(pg_server, name):
    (result,) = run_suite(pg_server, rows=1500, fast=True, only=[name])
    assert (result.lost, result.duplicated, result.mismatched) == (0, 0, 0), asdict(result)
    assert result.passed, asdict(result)
    assert result.rows_in_de + result.rejected == result.rows, asdict(result)
