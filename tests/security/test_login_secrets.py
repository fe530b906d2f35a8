"""Login outside demo mode: cookie key and users come from secrets, never from code or the demo."""

from __future__ import annotations

import os
import stat
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from store.db import create_db_and_tables, make_engine
from store.demo import DEMO_USERS
from store.models import AppUser
from store.users import DEMO_PASSWORD, hash_password
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


def _example_cookie_key() -> str:
    with (ROOT / ".streamlit" / "secrets.toml.example").open("rb") as fh:
        return tomllib.load(fh)["auth"]["cookie_key"]


WEAK_COOKIE_KEYS = {
    "placeholder from secrets.toml.example": (_example_cookie_key(), "placeholder"),
    "31 characters": ("x" * 31, "at least 32"),
    "placeholder with spaces": (f"  {_example_cookie_key()} ", "placeholder"),
}


@pytest.mark.parametrize("case", list(WEAK_COOKIE_KEYS))
def test_app_outside_demo_refuses_a_weak_cookie_key_and_says_how_to_make_one(store_env, case):
    """Bug: the example's `cookie_key = "change-me"` (or any short key) was accepted live.

    Anyone who has read the example file could then sign a login cookie for any user.
    """
    key, reason = WEAK_COOKIE_KEYS[case]
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.secrets["auth"] = {"cookie_key": key}
    at.run()
    assert not at.exception
    message = " ".join(e.value for e in at.error)
    assert reason in message
    assert "cookie_key" in message
    assert 'python -c "import secrets; print(secrets.token_urlsafe(32))"' in message
    assert not at.text_input  # no login form with a forgeable cookie


def test_a_32_character_cookie_key_is_accepted_outside_demo(store_env):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.secrets["auth"] = {"cookie_key": "k" * 32}
    at.run()
    assert not at.exception
    assert not at.error
    assert len(at.text_input) == 2  # the sign-in form


@pytest.fixture
def demo_data_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("PATHWAYS_DATA_DIR", str(tmp_path))
    old_umask = os.umask(0)  # the most permissive umask: only the mode we ask for protects it
    yield tmp_path
    os.umask(old_umask)


def test_demo_cookie_key_file_is_created_private_without_a_later_chmod(demo_data_dir, monkeypatch):
    """Bug: the key was written with the umask's mode and chmod-ed to 0600 afterwards.

    Between the two calls other local users could read it; now the file is born 0600.
    """
    from ui.auth import demo_cookie_key

    def no_chmod(self: Path, mode: int, **kwargs: object) -> None:
        msg = f"chmod({self}, {oct(mode)}): the key file must be created 0600, not fixed later"
        raise AssertionError(msg)

    monkeypatch.setattr(Path, "chmod", no_chmod)
    key = demo_cookie_key(demo_data_dir)
    path = demo_data_dir / "cookie_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) >= 32
    assert demo_cookie_key(demo_data_dir) == key  # kept, not regenerated


def test_demo_cookie_key_is_the_same_for_sessions_starting_at_once(demo_data_dir):
    from ui.auth import demo_cookie_key

    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = set(pool.map(lambda _: demo_cookie_key(demo_data_dir), range(8)))
    assert len(keys) == 1
    assert [p.name for p in demo_data_dir.iterdir()] == ["cookie_key"]  # no temp files left
    assert stat.S_IMODE((demo_data_dir / "cookie_key").stat().st_mode) == 0o600
