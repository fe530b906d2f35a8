"""Fixtures of the use-case tests: a fresh SQLite store per test (plain pytest, no AppTest)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlmodel import Session

from store import audiences, connections
from store.crypto import generate_key
from store.db import create_db_and_tables, make_engine
from store.importer import import_file

URI = "https://mc0123456789.auth.marketingcloudapis.com/"
CSV = b"email,first_name,amount\na@example.org,Ann,12.50\nb@example.org,Bob,3\n"


@dataclass(frozen=True)
class Workspace:
    """A store with one data set, audience and connection (ids and names as the pages pass them)."""

    engine: Any
    audience: dict[str, Any]
    connection: dict[str, Any]
    dataset_id: int


@pytest.fixture
def engine(tmp_path, monkeypatch) -> Iterator[Any]:
    """An empty store of its own (each test writes to it)."""
    monkeypatch.setenv("PATHWAYS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PATHWAYS_SECRET_KEY", generate_key())
    monkeypatch.delenv("DATABASE_URL", raising=False)
    eng = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    create_db_and_tables(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def workspace(engine) -> Workspace:
    """A fresh store holding the 'Donors' data set, the 'Everyone' audience and 'Main'."""
    report = import_file(engine, CSV, name="Donors", filename="donors.csv")
    with Session(engine) as session:
        aud = audiences.create_audience("Everyone", report.dataset_id, session=session)
        conn = connections.create_connection("Main", URI, "client-id", "secret", session=session)
        return Workspace(
            engine=engine,
            audience={"id": aud.id, "name": aud.name},
            connection={"id": conn.id, "name": conn.name},
            dataset_id=report.dataset_id,
        )
