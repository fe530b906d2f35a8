"""Helpers for engine tests.

The `env`, `engine` and `sim` fixtures (a real temporary SQLite store, a real in-process
simulator) are the shared ones of `tests/conftest.py`.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pytest
import requests
from sqlmodel import Session

from simulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from store.audiences import create_audience
from store.connections import create_connection
from store.datasets import get_dataset_by_name
from store.importer import import_file
from store.pathways import create_pathway, set_mapping
from sync.mapping import FieldMap

ROOT_FOLDER = 1000


def sim_rows(sim: Any, key: str) -> list[dict[str, Any]]:
    resp = requests.get(f"{sim.base_url}/_sim/dataextensions/{key}/rows?limit=100000", timeout=10)
    resp.raise_for_status()
    return resp.json()["items"]


def point_pathway_at(engine: Any, pathway_id: int, auth_uri: str) -> str:
    """Send a pathway's connection to another simulator; returns the pathway's DE key."""
    from store.models import Connection, Pathway

    with Session(engine) as session:
        pathway = session.get(Pathway, pathway_id)
        conn = session.get(Connection, pathway.connection_id)
        conn.auth_base_uri = auth_uri
        session.add(conn)
        session.commit()
        return pathway.de_customer_key


def set_faults(sim: Any, **knobs: Any) -> None:
    requests.post(f"{sim.base_url}/_sim/faults", json=knobs, timeout=10).raise_for_status()


def csv_bytes(rows: Sequence[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def text_mapping(columns: Sequence[str], pk: str = "email", **types: str) -> list[dict[str, Any]]:
    mapping = []
    for i, col in enumerate(columns):
        ftype = types.get(col, "EmailAddress" if col == pk else "Text")
        mapping.append(
            {
                "ordinal": i,
                "source_column": col,
                "destination_field": col.title(),
                "field_type": ftype,
                "length": 254 if ftype == "EmailAddress" else (20 if ftype == "Text" else None),
                "precision": 10 if ftype == "Decimal" else None,
                "scale": 2 if ftype == "Decimal" else None,
                "required": col == pk,
                "is_primary_key": col == pk,
            }
        )
    return mapping


@pytest.fixture
def make_pathway(engine, sim) -> Callable[..., int]:
    """Create data set + audience + connection + pathway (+ mapping); returns the pathway id."""

    def make(
        rows: Sequence[dict[str, Any]],
        *,
        method: str = "upsert",
        mapping: list[dict[str, Any]] | None = None,
        types: dict[str, str] | None = None,
        guard: float = 0.5,
        key: str | None = None,
    ) -> int:
        tag = uuid.uuid4().hex[:8]
        report = import_file(engine, csv_bytes(rows), name=f"ds_{tag}", filename=f"{tag}.csv")
        with Session(engine) as session:
            ds = get_dataset_by_name(f"ds_{tag}", session=session)
            assert ds is not None, report
            audience = create_audience(f"aud_{tag}", ds.id, session=session)
            conn = create_connection(
                f"conn_{tag}", sim.auth_uri, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, session=session
            )
            pathway = create_pathway(
                audience.id,
                conn.id,
                f"AVID - {tag}",
                key or f"avid_test_{tag}",
                session=session,
                method=method,
                category_id=ROOT_FOLDER,
                primary_keys=["Email"],
                delete_guard_share=guard,
            )
            columns = [c["name"] for c in ds.columns]
            set_mapping(
                pathway.id, mapping or text_mapping(columns, **(types or {})), session=session
            )
            return pathway.id

    return make


def fieldmaps(mapping: Sequence[dict[str, Any]]) -> list[FieldMap]:
    return [
        FieldMap(**{k: v for k, v in m.items() if k != "ordinal"})  # type: ignore[arg-type]
        for m in mapping
    ]
