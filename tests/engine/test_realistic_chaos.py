"""The realistic tenant's own chaos scenarios, fast (issue 15; `bench/chaos_realistic.py`).

Each runs pathways end to end against the simulator with one real-tenant behaviour turned up
(deadlocks with landed rows, transient Error, long queue waits, documented paging, a throttled
token endpoint, a shared folder of the parent unit, a key that needs encoding, CST dates,
journey members processed later) and compares the result row by row.
"""

from dataclasses import asdict

import pytest

from bench.chaos import run_scenario
from bench.chaos_realistic import SCENARIOS

FAST_ROWS = 600


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_realistic_scenario_loses_and_duplicates_nothing(name):
    result = run_scenario(name, rows=FAST_ROWS, fast=True, profile="realistic")
    assert (result.lost, result.duplicated, result.mismatched) == (0, 0, 0), asdict(result)
    assert result.passed, asdict(result)
