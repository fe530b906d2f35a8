"""Fixtures: a real in-process simulator (demo seed: Contacts/Journey data); the temp SQLite
store (`engine`) is the shared fixture of tests/conftest.py."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
import requests
from sqlmodel import Session

from simulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, start_simulator
from store.audiences import create_audience
from store.connections import create_connection
from store.datasets import get_dataset_by_name
from store.importer import import_file
from store.pathways import create_pathway, set_mapping
from store.queue import enqueue_run, get_run
from sync.runner import run_pathway
from sync.types import PushOptions
from sync.worker import default_client_factory
from tests.engine.conftest import csv_bytes
from tests.fixtures import fast_sim_config

WELCOME = "APIEvent-3f2a9c1e-77d0-4b5e-9c1a-0d9e2b7c4a11"
SMALL = PushOptions(batch_rows=7, in_flight=2, max_requests_per_s=0)
LIMITED = "pathways-limited"


@pytest.fixture
def sim() -> Iterator[Any]:
    config = fast_sim_config(
        clients=[
            (DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, None),
            (
                LIMITED,
                "limited-secret",
                frozenset({"data_extensions_read", "data_extensions_write"}),
            ),
        ],
        async_not_found_ms=0,
        seed="demo",
    )
    with start_simulator(config) as running:
        yield running


def inspect(sim: Any, path: str) -> dict[str, Any]:
    resp = requests.get(f"{sim.base_url}/_sim/{path}", timeout=10)
    resp.raise_for_status()
    return resp.json()


def post_sim(sim: Any, path: str, body: dict[str, Any]) -> None:
    requests.post(f"{sim.base_url}/_sim/{path}", json=body, timeout=10).raise_for_status()


@pytest.fixture
def make_pathway(engine, sim) -> Callable[..., tuple[int, int]]:
    """Data set + audience + connection + pathway of a destination kind; returns (pathway, audience)."""

    def make(
        rows: Sequence[dict[str, Any]],
        *,
        kind: str,
        mapping: list[dict[str, Any]],
        options: dict[str, Any] | None = None,
        filters: list[dict[str, Any]] | None = None,
        de_key: str = "",
        client: tuple[str, str] = (DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
    ) -> tuple[int, int]:
        tag = uuid.uuid4().hex[:8]
        import_file(engine, csv_bytes(rows), name=f"ds_{tag}", filename=f"{tag}.csv")
        with Session(engine) as session:
            ds = get_dataset_by_name(f"ds_{tag}", session=session)
            assert ds is not None
            audience = create_audience(f"aud_{tag}", ds.id, session=session, filters=filters or [])
            conn = create_connection(f"conn_{tag}", sim.auth_uri, *client, session=session)
            pathway = create_pathway(
                audience.id,
                conn.id,
                f"dest {tag}",
                de_key,
                session=session,
                destination_kind=kind,
                options=options or {},
            )
            set_mapping(
                pathway.id,
                [{"ordinal": i, **m} for i, m in enumerate(mapping)],
                session=session,
            )
            return pathway.id, audience.id

    return make


def run(engine, pathway_id: int, **kwargs: Any):
    queued = enqueue_run(engine, pathway_id, "manual", **kwargs)
    result = run_pathway(
        engine, queued.id, client_factory=default_client_factory, options=SMALL, chunk_size=10
    )
    return get_run(engine, queued.id), result
