"""Login outside demo mode: cookie key and users come from secrets, never from code or the demo."""

from __future__ import annotations

from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from store.db import create_db_and_tables, make_engine
from store.demo import DEMO_PASSWORD, DEMO_USERS, hash_password
from store.models import AppUser
from tests.pages.conftest import ROOT


def test_app_without_secrets_outside_demo_refuses_to_start_with_the_fix(store_env):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert not at.exception
    message = " ".join(e.value for e in at.error)
    assert "Login is not configured" in message
    assert "cookie_key" in message
    assert "secrets.toml" in message
    assert not at.text_input  # no login form, no demo users
    assert DEMO_PASSWORD not in str([m.value for m in at.markdown])


def _store_with_demo_users(tmp_path) -> None:
    # A store first opened in demo mode keeps its demo users when the app goes live.
    engine = make_engine(f"sqlite:///{tmp_path / 'test.db'}")
    create_db_and_tables(engine)
    with Session(engine) as session:
        for user in DEMO_USERS:
            session.add(
                AppUser(
                    username=user.username,
                    name=user.name,
                    roles=[user.role],
                    password_hash=hash_password(DEMO_PASSWORD),
                )
            )
        session.commit()
    engine.dispose()


def test_public_demo_password_does_not_log_in_outside_demo_mode(store_env):
    _store_with_demo_users(store_env)
    admin = next(u for u in DEMO_USERS if u.role == "admin")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.secrets["auth"] = {"cookie_key": "a-long-random-cookie-key-from-secrets-0123456789"}
    at.run()
    assert not at.exception
    assert DEMO_PASSWORD not in " ".join(m.value for m in at.markdown)  # not advertised
    at.text_input[0].input(admin.username)
    at.text_input[1].input(DEMO_PASSWORD)
    at.button[0].click().run()
    assert not at.exception
    assert not at.session_state["authentication_status"]
    assert [t.value for t in at.title] == ["Pathways"]  # still the sign-in page
    assert any("incorrect" in e.value for e in at.error)
