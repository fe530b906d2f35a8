"""Helpers for AppTest page tests: logged-in session state (`store_env` is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.fixtures import ROOT

__all__ = ["PAGES", "ROLES", "ROOT", "page_app"]  # ROOT re-exported: tests import it from here

PAGES = {
    "Connections": ("pages/connections.py", ("admin",)),
    "Audiences": ("pages/audiences.py", ("admin", "staff")),
    "Push Audiences": ("pages/push_audiences.py", ("admin", "staff")),
    "Column Mapping": ("pages/column_mapping.py", ("admin", "staff")),
    "Manage Pathways": ("pages/manage_pathways.py", ("admin", "staff", "analyst")),
}
ROLES = ("admin", "staff", "analyst")

# The demo workspace's in-process simulator without latency or rate limit, and a small demo set.
FAST_SIM_ENV = {
    "PATHWAYS_DEMO": "1",
    "PATHWAYS_DEMO_ROWS": "400",
    "PATHWAYS_SIM_PORT": "0",
    "PATHWAYS_SIM_LATENCY_MS": "0",
    "PATHWAYS_SIM_SOAP_LATENCY_MS": "0",
    "PATHWAYS_SIM_ROWSET_MS": "0",
    "PATHWAYS_SIM_ASYNC_ROWS_PER_S": "1000000",
    "PATHWAYS_SIM_RATE_LIMIT": "0",
}


@pytest.fixture
def demo_env(demo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Demo mode with its store in `demo_dir` (each test module defines it, one per test).

    Caches are cleared before and after, so each test starts its own simulator and worker.
    """
    for key, value in FAST_SIM_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PATHWAYS_DATA_DIR", str(demo_dir))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("PATHWAYS_SECRET_KEY", raising=False)
    monkeypatch.chdir(ROOT)
    st.cache_resource.clear()
    yield demo_dir
    st.cache_resource.clear()  # stops the simulator and the worker (on_release)
    st.cache_data.clear()


def page_app(path: str, role: str, *, timeout: float = 20) -> AppTest:
    """An AppTest of one page with a logged-in user of `role`."""
    at = AppTest.from_file(str(ROOT / path), default_timeout=timeout)
    at.session_state["authentication_status"] = True
    at.session_state["username"] = f"test-{role}"
    at.session_state["name"] = f"Test {role.title()}"
    at.session_state["roles"] = [role]
    return at


def sim_state(path: str) -> dict:
    """The demo simulator's inspection API (`/_sim/<path>`), as JSON."""
    from ui import state

    resp = requests.get(f"{state.get_simulator().base_url}/_sim/{path}", timeout=10)
    resp.raise_for_status()
    return resp.json()
