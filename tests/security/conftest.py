"""Fixtures for the security tests: temporary stores, live (non-demo) and demo environments."""

from __future__ import annotations

import pytest
import streamlit as st
from cryptography.fernet import Fernet

from tests.pages.conftest import ROOT


@pytest.fixture
def store_env(tmp_path, monkeypatch):
    """A fresh store outside demo mode (what a real deployment looks like)."""
    monkeypatch.setenv("PATHWAYS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'test.db'}")
    monkeypatch.setenv("PATHWAYS_DEMO", "0")
    monkeypatch.setenv("PATHWAYS_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.chdir(ROOT)
    st.cache_resource.clear()
    yield tmp_path
    st.cache_resource.clear()
    st.cache_data.clear()
