"""Shared test settings: the repository root and a simulator configuration fast enough for tests.

Imported by `tests/conftest.py` (the shared fixtures) and by conftests or tests that need the
same values, so that one piece of code serves every layer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sfmc.simulator import SimulatorConfig

ROOT = Path(__file__).resolve().parents[1]

# No latency, no rate limit, an async queue that never waits: tests stay fast (contract rule).
FAST_SIM: dict[str, Any] = {
    "latency_ms": 0,
    "soap_latency_ms": 0,
    "async_rows_per_s": 1e7,
    "rate_limit": 0,
    "random_seed": 7,
}


def fast_sim_config(**overrides: Any) -> SimulatorConfig:
    """A `SimulatorConfig` with the `FAST_SIM` settings, changed by `overrides`."""
    return SimulatorConfig(**{**FAST_SIM, **overrides})
