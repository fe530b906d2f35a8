"""Fixtures for AppTest page tests: a temp store per test, logged-in session state."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from cryptography.fernet import Fernet
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
PAGES = {
    "Connections": ("pages/connections.py", ("admin",)),
    "Audiences": ("pages/audiences.py", ("admin", "staff")),
    "Push Audiences": ("pages/push_audiences.py", ("admin", "staff")),
    "Column Mapping": ("pages/column_mapping.py", ("admin", "staff")),
    "Manage Pathways": ("pages/manage_pathways.py", ("admin", "staff", "analyst")),
}
ROLES = ("admin", "staff", "analyst")


@pytest.fixture
def store_env(tmp_path, monkeypatch):
    """A fresh, empty store outside demo mode; caches cleared afterwards."""
    monkeypatch.setenv("PATHWAYS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'test.db'}")
    monkeypatch.setenv("PATHWAYS_DEMO", "0")
    monkeypatch.setenv("PATHWAYS_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.chdir(ROOT)
    st.cache_resource.clear()
    yield tmp_path
    st.cache_resource.clear()
    st.cache_data.clear()


def page_app(path: str, role: str, *, timeout: float = 20) -> AppTest:
    """An AppTest of one page with a logged-in user of `role`."""
    at = AppTest.from_file(str(ROOT / path), default_timeout=timeout)
    at.session_state["authentication_status"] = True
    at.session_state["username"] = f"test-{role}"
    at.session_state["name"] = f"Test {role.title()}"
    at.session_state["roles"] = [role]
    return at
