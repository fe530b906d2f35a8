"""The router: login, role-filtered menu, sidebar (AppTest of app.py)."""

from __future__ import annotations

import pytest
import streamlit_authenticator as stauth
from streamlit.testing.v1 import AppTest

from tests.pages.conftest import ROOT

PASSWORD = "correct horse"
MENUS = {
    "admin": [
        "Connections",
        "Audiences",
        "Push Audiences",
        "Column Mapping",
        "Manage Pathways",
        "Audit log",
    ],
    "staff": ["Audiences", "Push Audiences", "Column Mapping", "Manage Pathways"],
    "analyst": ["Manage Pathways"],
}


@pytest.fixture(scope="module")
def hashed():
    return stauth.Hasher.hash(PASSWORD)


def _app(hashed: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.secrets["auth"] = {
        "cookie_key": "k" * 40,
        "credentials": {
            "usernames": {
                role: {
                    "name": f"{role.title()} User",
                    "password": hashed,
                    "roles": [role],
                    "email": f"{role}@example.org",
                }
                for role in MENUS
            }
        },
    }
    return at


def _menu(at: AppTest) -> list[str]:
    # AppTest has no public view of st.navigation's pages; the registered pages are its record.
    # Pages reached only by URL (sign-in aliases, other roles' pages) are hidden from the menu.
    names = [info["page_name"] for info in at._registered_pages.values()]
    return [n for n in dict.fromkeys(names) if not n.endswith("(no access)")]


@pytest.mark.parametrize("role", list(MENUS))
def test_menu_is_filtered_by_role(store_env, hashed, role):
    at = _app(hashed)
    at.session_state["authentication_status"] = True
    at.session_state["username"] = role
    at.session_state["name"] = f"{role.title()} User"
    at.session_state["roles"] = [role]
    at.run()
    assert not at.exception
    assert _menu(at) == MENUS[role]
    assert [t.value for t in at.title] == [MENUS[role][0]]
    sidebar = " ".join(m.value for m in at.sidebar.markdown)
    assert f"{role.title()} User" in sidebar
    assert role.title() in sidebar
    assert any(b.label == "Log out" for b in at.sidebar.button)


def test_login_form_then_menu(store_env, hashed):
    at = _app(hashed).run()
    assert not at.exception
    assert _menu(at) == ["Sign in"]
    at.text_input[0].input("staff")
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception
    assert at.session_state["username"] == "staff"
    assert _menu(at) == MENUS["staff"]


def test_wrong_password_is_refused(store_env, hashed):
    at = _app(hashed).run()
    at.text_input[0].input("staff")
    at.text_input[1].input("wrong")
    at.button[0].click().run()
    assert not at.exception
    assert _menu(at) == ["Sign in"]
    assert any("incorrect" in e.value for e in at.error)


def test_outside_demo_mode_login_needs_secrets(store_env):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert not at.exception
    assert any("cookie_key" in e.value for e in at.error)
    assert not at.text_input


def test_first_start_declares_a_menu_before_opening_the_store(store_env, hashed):
    """The store opens under a one-page "Starting Pathways…" menu, then the sign-in menu shows.

    Until `st.navigation` runs, Streamlit lists every file of pages/ in the sidebar, so nothing
    slow may come before it (the first demo start takes many seconds).
    """
    from ui import state

    assert not state.store_ready()  # a fresh store in this test's temp dir
    at = _app(hashed).run()
    assert not at.exception
    assert state.store_ready()
    assert _menu(at) == ["Sign in"]
