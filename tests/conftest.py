"""Fixtures shared by several test layers (a conftest in a folder may still override them).

- `env`, `engine`, `sim`: a demo-mode data dir with a secret key, a real SQLite store in it and
  a real in-process simulator with the fast settings (engine, bad-input, destination tests).
- `store_env`: a fresh store OUTSIDE demo mode, as a real deployment runs, with Streamlit's
  caches cleared around the test (page and security tests).
- `pg_server`: one real PostgreSQL per test session (per xdist worker), started by `pgserver`
  (PostgreSQL tests of the store and the engine; each makes its own schema or database in it).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from simulator import start_simulator
from store.db import create_db_and_tables, make_engine
from tests.fixtures import ROOT, fast_sim_config


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Demo mode, the data dir in `tmp_path` and a fresh secret key."""
    monkeypatch.setenv("PATHWAYS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PATHWAYS_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("PATHWAYS_DEMO", "1")
    return tmp_path


@pytest.fixture
def engine(env: Path) -> Iterator[Any]:
    """A real SQLite store (`store.db` in the data dir) with its tables."""
    eng = make_engine(f"sqlite:///{env / 'store.db'}")
    create_db_and_tables(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def sim() -> Iterator[Any]:
    """A real simulator over HTTP on a free port, without latency or rate limit."""
    with start_simulator(fast_sim_config()) as running:
        yield running


@pytest.fixture
def store_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh, empty store outside demo mode; Streamlit caches cleared before and after."""
    import streamlit as st  # here, not at the top: most layers never load Streamlit

    monkeypatch.setenv("PATHWAYS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'test.db'}")
    monkeypatch.setenv("PATHWAYS_DEMO", "0")
    monkeypatch.setenv("PATHWAYS_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.chdir(ROOT)
    st.cache_resource.clear()
    yield tmp_path
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """A PostgreSQL server for the whole session, stopped and its data dir removed at the end."""
    import pgserver  # here, not at the top: only the PostgreSQL tests need it

    # Not under tmp_path_factory: as root, pgserver runs initdb as an unprivileged user, who
    # cannot traverse pytest's 0700 /tmp/pytest-of-root; a directory of its own works.
    pgdata = tempfile.mkdtemp(prefix="pathways-pg-")
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    yield server
    server.cleanup()
    shutil.rmtree(pgdata, ignore_errors=True)
