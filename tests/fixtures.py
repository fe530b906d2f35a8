"""Shared test settings: the repository root, a fast simulator configuration and a manual clock.

Imported by `tests/conftest.py` (the shared fixtures) and by conftests or tests that need the
same values, so that one piece of code serves every layer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simulator import SimulatorConfig

ROOT = Path(__file__).resolve().parents[1]

# No latency, no rate limit, an async queue that never waits: tests stay fast (contract rule).
FAST_SIM: dict[str, Any] = {
    "latency_ms": 0,
    "soap_latency_ms": 0,
    "rowset_ms_per_row": 0,
    "async_rows_per_s": 1e7,
    "rate_limit": 0,
    "random_seed": 7,
}


class ManualClock:
    """A `SimulatorConfig.clock` that moves only when a test advances it (no real sleeps)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def fast_sim_config(**overrides: Any) -> SimulatorConfig:
    """A `SimulatorConfig` with the `FAST_SIM` settings, changed by `overrides`."""
    return SimulatorConfig(**{**FAST_SIM, **overrides})


def push_csv(
    engine: Any,
    data: bytes,
    *,
    auth_uri: str,
    client_id: str,
    client_secret: str,
    text_column: str,
    text_length: int,
) -> Any:
    """Import `data` (columns email + `text_column`), push it to a new DE, return the run.

    The pathway keys on Email (EmailAddress, PK) and maps `text_column` to a Text field of
    `text_length` named after it in Title Case; the run goes through the real engine.
    """
    from sqlmodel import Session

    from store.audiences import create_audience
    from store.connections import create_connection
    from store.datasets import get_dataset_by_name
    from store.importer import import_file
    from store.pathways import create_pathway, set_mapping
    from store.queue import enqueue_run, get_run
    from sync.runner import run_pathway
    from sync.worker import default_client_factory

    import_file(engine, data, name="d", filename="d.csv")
    with Session(engine) as session:
        ds = get_dataset_by_name("d", session=session)
        audience = create_audience("a", ds.id, session=session)
        conn = create_connection("Main", auth_uri, client_id, client_secret, session=session)
        pathway = create_pathway(
            audience.id, conn.id, "Pushed", "pushed_key", session=session, category_id=1000
        )
        set_mapping(
            pathway.id,
            [
                {"source_column": "email", "destination_field": "Email",
                 "field_type": "EmailAddress", "length": 254, "is_primary_key": True,
                 "required": True},
                {"source_column": text_column, "destination_field": text_column.title(),
                 "length": text_length},
            ],
            session=session,
        )  # fmt: skip
        pathway_id = pathway.id
    queued = enqueue_run(engine, pathway_id, "manual")
    run_pathway(engine, queued.id, client_factory=default_client_factory)
    return get_run(engine, queued.id)
