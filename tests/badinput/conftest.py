"""Fixtures for the bad-input corpus: a temporary store and a real in-process simulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from cryptography.fernet import Fernet
from sqlalchemy import inspect
from sqlmodel import Session, func, select

from sfmc.simulator import SimulatorConfig, start_simulator
from store.db import create_db_and_tables, make_engine
from store.models import Connection, DataSet


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("PATHWAYS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PATHWAYS_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("PATHWAYS_DEMO", "1")
    return tmp_path


@pytest.fixture
def engine(env):
    eng = make_engine(f"sqlite:///{env / 'store.db'}")
    create_db_and_tables(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def sim() -> Iterator[Any]:
    config = SimulatorConfig(latency_ms=0, soap_latency_ms=0, async_rows_per_s=1e7, rate_limit=0)
    with start_simulator(config) as running:
        yield running


def snapshot(engine) -> dict[str, Any]:
    """What a refused input must not change: data sets, their tables, connections."""
    with Session(engine) as session:
        datasets = session.exec(select(func.count()).select_from(DataSet)).one()
        connections = session.exec(select(func.count()).select_from(Connection)).one()
    tables = sorted(t for t in inspect(engine).get_table_names() if t.startswith("ds_"))
    return {"datasets": datasets, "connections": connections, "tables": tables}


def sim_des(sim: Any) -> list[dict[str, Any]]:
    resp = requests.get(f"{sim.base_url}/_sim/dataextensions", timeout=10)
    resp.raise_for_status()
    return resp.json()["items"]
