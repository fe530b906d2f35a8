"""Deleting a user or logging out ends access (issue 21, item 5).

The audit found that a deleted user's open tab kept its menu and "Sync now", and that after
staff logged out, admin signing in on the same tab saw staff's unsaved audience filter.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from store.db import create_db_and_tables, make_engine
from store.models import AppUser
from store.users import get_user, hash_password, upsert_user
from tests.pages.conftest import ROOT

PASSWORD = "a real password"
COOKIE_KEY = "k" * 40
STAFF_MENU = ["Audiences", "Push Audiences", "Column Mapping", "Manage Pathways"]
ADMIN_MENU = ["Connections", *STAFF_MENU, "Audit log"]


@pytest.fixture(scope="module")
def hashed() -> str:
    return hash_password(PASSWORD)


class _NoPagesFolder(type(Path())):
    """A Path whose `pages/` folder next to app.py does not exist, for PagesManager only."""

    def exists(self, **kwargs: object) -> bool:
        return self != ROOT / "pages" and super().exists(**kwargs)


@pytest.fixture(autouse=True)
def router_runs_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every rerun goes through app.py, as on the server.

    The server stops treating pages/ as old-style pages once `st.navigation` has run. AppTest
    forgets that before each run, so a rerun on a page would run the page file alone and skip
    the router, whose checks are what these tests are about.
    """
    monkeypatch.setattr("streamlit.runtime.pages_manager.Path", _NoPagesFolder)


def _engine(store_env: Path):
    engine = make_engine(f"sqlite:///{store_env / 'test.db'}")
    create_db_and_tables(engine)
    return engine


def _app(credentials: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.secrets["auth"] = {"cookie_key": COOKIE_KEY}
    if credentials:
        at.secrets["auth"]["credentials"] = {"usernames": credentials}
    return at


def _menu(at: AppTest) -> list[str]:
    # AppTest has no public view of st.navigation's pages; the registered pages are its record.
    # Pages reached only by URL (sign-in aliases, other roles' pages) are hidden from the menu.
    names = [info["page_name"] for info in at._registered_pages.values()]
    return [n for n in dict.fromkeys(names) if not n.endswith("(no access)")]


def _sign_in(at: AppTest, username: str) -> AppTest:
    at.text_input[0].input(username)
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert at.session_state["username"] == username
    return at


def _signed_out(at: AppTest) -> bool:
    return (
        _menu(at) == ["Sign in"]
        and not at.session_state["authentication_status"]
        and not any(b.label == "Log out" for b in at.sidebar.button)
    )


def _store_user(store_env: Path, username: str, roles: list[str], hashed: str) -> None:
    engine = _engine(store_env)
    with Session(engine) as session:
        upsert_user(username, username.title(), roles, hashed, session=session)
    engine.dispose()


def test_a_deleted_users_open_tab_loses_the_menu_at_the_next_rerun(store_env, hashed):
    _store_user(store_env, "sam", ["staff"], hashed)
    at = _sign_in(_app().run(), "sam")
    assert _menu(at) == STAFF_MENU
    engine = _engine(store_env)
    with Session(engine) as session:
        session.delete(get_user("sam", session=session))
        session.commit()
    engine.dispose()
    at.run()  # any click reruns the script
    assert not at.exception, at.exception
    assert _signed_out(at)
    assert any("can no longer sign in" in i.value for i in at.info)
    at.run()  # the cookie component's own rerun must not hide why the session ended
    assert _signed_out(at)
    assert any("can no longer sign in" in i.value for i in at.info)


@pytest.mark.parametrize("roles", [[], ["no-such-role"]], ids=["no role", "unknown role"])
def test_a_user_without_a_role_is_signed_out(store_env, hashed, roles):
    _store_user(store_env, "sam", ["staff"], hashed)
    at = _sign_in(_app().run(), "sam")
    engine = _engine(store_env)
    with Session(engine) as session:
        user = get_user("sam", session=session)
        user.roles = roles
        session.add(user)
        session.commit()
    engine.dispose()
    at.run()
    assert not at.exception, at.exception
    assert _signed_out(at)


def test_a_changed_role_applies_at_the_next_rerun(store_env, hashed):
    _store_user(store_env, "sam", ["admin"], hashed)
    at = _sign_in(_app().run(), "sam")
    assert _menu(at) == ADMIN_MENU
    _store_user(store_env, "sam", ["analyst"], hashed)  # demoted
    at.run()
    assert not at.exception, at.exception
    assert _menu(at) == ["Manage Pathways"]
    assert at.session_state["roles"] == ["analyst"]  # what the pages' role checks read


def test_a_user_removed_from_the_secrets_is_signed_out(store_env, hashed):
    staff = {"name": "Sam Staff", "password": hashed, "roles": ["staff"]}
    at = _sign_in(_app({"sam": staff}).run(), "sam")
    at.secrets["auth"]["credentials"] = {"usernames": {}}
    at.run()
    assert not at.exception, at.exception
    assert _signed_out(at)


def test_logging_out_clears_the_session_for_the_next_user_of_the_tab(store_env, hashed):
    users = {
        "sam": {"name": "Sam Staff", "password": hashed, "roles": ["staff"]},
        "ada": {"name": "Ada Admin", "password": hashed, "roles": ["admin"]},
    }
    at = _sign_in(_app(users).run(), "sam")
    draft = [{"column": "email", "op": "contains", "value": "sam's unsaved filter"}]
    at.session_state["aud_filters"] = draft
    at.session_state["push_step"] = 3
    at.session_state["some_widget_of_sam"] = "typed by sam"
    at.run()
    assert at.session_state["aud_filters"] == draft  # kept while sam is signed in
    at = next(b for b in at.sidebar.button if b.label == "Log out").click().run()
    assert not at.exception, at.exception
    assert _signed_out(at)
    for key in ("aud_filters", "push_step", "some_widget_of_sam"):
        assert key not in at.session_state, key
    at = _sign_in(at, "ada")
    assert _menu(at) == ADMIN_MENU
    assert at.session_state["aud_filters"] == []
    assert at.session_state["push_step"] == 1
    assert "some_widget_of_sam" not in at.session_state


def test_the_store_keeps_no_trace_of_a_deleted_login(store_env, hashed):
    """Positive control for the deletion tests: the user really is gone from the store."""
    _store_user(store_env, "sam", ["staff"], hashed)
    engine = _engine(store_env)
    with Session(engine) as session:
        session.delete(session.get(AppUser, get_user("sam", session=session).id))
        session.commit()
        assert get_user("sam", session=session) is None
    engine.dispose()
