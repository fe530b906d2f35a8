"""The sign-in page (AppTest of app.py): guessing is slowed down, idle sessions end."""

from __future__ import annotations

import time

import pytest
import streamlit_authenticator as stauth
from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from store.audit import list_audit
from tests.pages.conftest import ROOT
from tests.security.test_sessions import router_runs_every_time  # noqa: F401 - autouse fixture

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def hashed():
    return stauth.Hasher.hash(PASSWORD)


def _app(hashed: str, **auth) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.secrets["auth"] = {
        "cookie_key": "k" * 40,
        "credentials": {
            "usernames": {"staff": {"name": "Sam Staff", "password": hashed, "roles": ["staff"]}}
        },
        **auth,
    }
    return at


def _submit(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    return at.button[0].click().run()


def test_sixth_try_waits_and_says_until_when(store_env, hashed):
    at = _app(hashed).run()
    for _ in range(5):
        _submit(at, "staff", "wrong")
    assert not at.exception
    message = " ".join(e.value for e in at.error)
    assert "Too many failed sign-ins" in message
    assert "UTC" in message
    _submit(at, "staff", PASSWORD)  # even the right password waits
    assert "Too many failed sign-ins" in " ".join(e.value for e in at.error)
    assert not at.session_state["authentication_status"]
    from ui import state

    with Session(state.get_engine()) as s:
        actions = [e.action for e in list_audit(session=s, who="staff")]
    assert actions.count("sign-in failed") == 5
    assert "sign-in refused: wait" in actions


def test_session_ends_after_the_idle_limit(store_env, hashed):
    at = _app(hashed, idle_minutes=5).run()
    _submit(at, "staff", PASSWORD)
    assert at.session_state["authentication_status"]
    at.session_state["last_active"] = time.time() - 6 * 60
    at.run()
    assert not at.exception
    assert not at.session_state["authentication_status"]
    assert any("5 minutes without activity" in i.value for i in at.info)
    from ui import state

    with Session(state.get_engine()) as s:
        events = [(e.action, e.detail) for e in reversed(list_audit(session=s, who="staff"))]
    assert [a for a, _d in events] == ["sign in", "sign out"]
    assert "without activity" in events[1][1]


def test_log_out_is_audited(store_env, hashed):
    at = _app(hashed).run()
    _submit(at, "staff", PASSWORD)
    next(b for b in at.sidebar.button if b.label == "Log out").click().run()
    assert not at.session_state["authentication_status"]
    from ui import state

    with Session(state.get_engine()) as s:
        assert [(e.action, e.detail) for e in list_audit(session=s, who="staff")][0] == (
            "sign out",
            "Log out",
        )
