"""Fixtures of the store tests: a real SQLite file per test, a key and data dir in tmp_path."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from store.crypto import generate_key
from store.db import create_db_and_tables, make_engine


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    """Each test gets its own data dir and secret key, and no secrets.toml from the repo."""
    monkeypatch.setenv("PATHWAYS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PATHWAYS_SECRET_KEY", generate_key())
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("store.settings.PROJECT_DIR", tmp_path)


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    create_db_and_tables(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine):
    with Session(engine) as session:
        yield session
