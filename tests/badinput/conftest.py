"""Helpers for the bad-input corpus.

The `env`, `engine` and `sim` fixtures (a temporary store, a real in-process simulator) are the
shared ones of `tests/conftest.py`.
"""

from __future__ import annotations

from typing import Any

import requests
from sqlalchemy import inspect
from sqlmodel import Session, func, select

from store.models import Connection, DataSet


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
