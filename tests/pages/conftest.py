"""Helpers for AppTest page tests: logged-in session state (`store_env` is in tests/conftest.py)."""

from __future__ import annotations

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


def page_app(path: str, role: str, *, timeout: float = 20) -> AppTest:
    """An AppTest of one page with a logged-in user of `role`."""
    at = AppTest.from_file(str(ROOT / path), default_timeout=timeout)
    at.session_state["authentication_status"] = True
    at.session_state["username"] = f"test-{role}"
    at.session_state["name"] = f"Test {role.title()}"
    at.session_state["roles"] = [role]
    return at
