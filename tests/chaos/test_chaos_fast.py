"""The chaos suite's fast subset: every scenario, small audiences and short faults.

Each scenario runs end to end against a real simulator (a subprocess with `python -m
sync.worker` subprocesses for the SIGKILL one) and compares the final Data Extension row by row
with the audience; see `bench/chaos.py`. The full-size run is `python -m bench chaos`.
"""

from __future__ import annotations

from dataclasses import asdict

import pytest

from bench.chaos import SCENARIOS, run_scenario

FAST_ROWS = 600


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_loses_and_duplicates_nothing(name):
    result = run_scenario(name, rows=FAST_ROWS, fast=True)
    assert (result.lost, result.duplicated, result.mismatched) == (0, 0, 0), asdict(result)
    assert result.passed, asdict(result)
    # Every valid row landed; only the invalid ones (4% of the audience) were rejected.
    assert result.rows_in_de + result.rejected == result.rows, asdict(result)
