"""Demo mode cannot be reached by accident on a configured deployment (issue 21, item 1).

The demo creates users whose password is printed on the sign-in page. An audit signed in as
`admin` / `pathways-demo` on a deployment with a production secrets.toml (cookie key and secret
key, no credentials) started without `PATHWAYS_DEMO`, saw configured users listed under the
demo password, and could save a connection to any loopback port.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from cryptography.fernet import Fernet
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from sfmc.config import check_local_address
from sfmc.errors import SfmcConfigError
from store.db import create_db_and_tables, make_engine
from store.demo import DEMO_USERS, NotADemoStoreError, ensure_demo_workspace
from store.models import Connection
from store.settings import configured_by, demo_mode, demo_refusal, is_demo_store
from store.users import DEMO_PASSWORD, authenticator_credentials, hash_password, upsert_user
from tests.pages.conftest import FAST_SIM_ENV, ROOT, page_app

HOWTO = "PATHWAYS_DEMO=1 make run"
COOKIE_KEY = "a-long-random-cookie-key-from-secrets-0123456789"
SECRETS = f"""
[auth]
cookie_key = "{COOKIE_KEY}"

[pathways]
secret_key = "{Fernet.generate_key().decode()}"
"""
JDOE = {
    "name": "Jane Doe",
    "email": "jdoe@example.org",
    "password": hash_password("a real password"),
    "roles": ["admin"],
}


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh clone: no secrets file anywhere, no PATHWAYS_* settings, an empty data folder."""
    for name in ("PATHWAYS_DEMO", "PATHWAYS_SECRET_KEY", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for key, value in FAST_SIM_ENV.items():
        if key != "PATHWAYS_DEMO":
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("PATHWAYS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr("store.settings.PROJECT_DIR", tmp_path / "project")
    monkeypatch.chdir(tmp_path)
    st.cache_resource.clear()
    yield tmp_path
    st.cache_resource.clear()  # stops a simulator and worker the app started
    st.cache_data.clear()


def _write_secrets(where: Path, text: str = SECRETS) -> str:
    (where / ".streamlit").mkdir(exist_ok=True)
    (where / ".streamlit" / "secrets.toml").write_text(text)
    return text


def _app(secrets: dict[str, Any]) -> AppTest:
    """The router with the secrets Streamlit would read (AppTest does not read the file)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    for section, values in secrets.items():
        at.secrets[section] = values
    return at


def _page_text(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "info", "warning", "error")
             for e in getattr(at, kind)]  # fmt: skip
    parts += [str(t.proto) for t in at.table]
    return "\n".join(str(p) for p in parts)


def _store_users(tmp_path: Path) -> list[str]:
    from store.users import list_users

    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'pathways.db'}")
    create_db_and_tables(engine)
    with Session(engine) as session:
        names = [u.username for u in list_users(session=session)]
    engine.dispose()
    return names


# --- the rule ---------------------------------------------------------------------------------


def test_a_fresh_clone_is_a_demo(fresh):
    assert demo_mode()
    assert configured_by() == []
    assert demo_refusal() is None


@pytest.mark.parametrize(
    "secrets",
    [
        f'[auth]\ncookie_key = "{COOKIE_KEY}"\n',
        "[auth.credentials.usernames.jdoe]\nname = 'Jane'\npassword = 'x'\nroles = ['admin']\n",
        f'[pathways]\nsecret_key = "{Fernet.generate_key().decode()}"\n',
        "this is not TOML [",
    ],
    ids=["cookie_key", "credentials", "secret_key", "unreadable"],
)
def test_any_configuration_turns_the_default_demo_off(fresh, secrets):
    _write_secrets(fresh, secrets)
    assert configured_by()
    assert not demo_mode()
    assert demo_refusal() is None  # nothing asked for the demo: the app simply runs for real


def test_a_secret_key_in_the_environment_turns_the_default_demo_off(fresh, monkeypatch):
    monkeypatch.setenv("PATHWAYS_SECRET_KEY", Fernet.generate_key().decode())
    assert not demo_mode()


def test_asking_for_the_demo_on_a_configured_deployment_is_refused_with_the_way_to_run_it(
    fresh, monkeypatch
):
    monkeypatch.setenv("PATHWAYS_DEMO", "1")
    assert demo_refusal() is None  # a fresh clone: the demo is welcome
    _write_secrets(fresh)
    refusal = demo_refusal()
    assert refusal is not None
    assert "Demo mode is refused" in refusal
    assert "secrets.toml" in refusal
    assert HOWTO in refusal
    assert demo_refusal({"cookie_key": COOKIE_KEY})  # Streamlit's own [auth] secrets count too


# --- the app ----------------------------------------------------------------------------------


def test_production_secrets_without_credentials_refuse_the_demo_login(fresh):
    """The audit's case: cookie key and secret key, no users, started as `make run` does."""
    at = _app(tomllib.loads(_write_secrets(fresh))).run()
    assert not at.exception, at.exception
    text = _page_text(at)
    assert "Demo mode" not in text
    assert DEMO_PASSWORD not in text
    assert HOWTO in text  # the page says how to run the demo instead
    assert len(at.text_input) == 2  # the real sign-in form
    at.text_input[0].input("admin")
    at.text_input[1].input(DEMO_PASSWORD)
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert not at.session_state["authentication_status"]
    assert any("incorrect" in e.value for e in at.error)
    assert _store_users(fresh) == []  # no demo users were created


def test_demo_asked_for_on_a_configured_deployment_shows_why_and_how_and_creates_nothing(
    fresh, monkeypatch
):
    monkeypatch.setenv("PATHWAYS_DEMO", "1")
    at = _app({"auth": {"cookie_key": COOKIE_KEY}}).run()
    assert not at.exception, at.exception
    message = " ".join(e.value for e in at.error)
    assert "Demo mode is refused" in message
    assert HOWTO in message
    assert not at.text_input  # no sign-in form
    assert DEMO_PASSWORD not in _page_text(at)
    assert _store_users(fresh) == []


def test_configured_users_are_never_listed_on_the_sign_in_page(fresh):
    at = _app({"auth": {"cookie_key": COOKIE_KEY, "credentials": {"usernames": {"jdoe": JDOE}}}})
    at.run()
    assert not at.exception, at.exception
    text = _page_text(at)
    assert "jdoe" not in text
    assert "Jane Doe" not in text
    assert DEMO_PASSWORD not in text
    assert not at.table


def test_the_demo_lists_only_its_own_users(fresh):
    at = _app({}).run()  # a fresh clone: the demo, with nothing configured
    assert not at.exception, at.exception
    engine = make_engine(f"sqlite:///{fresh / 'data' / 'pathways.db'}")
    with Session(engine) as session:
        upsert_user("carol", "Carol Extra", ["admin"], hash_password("pw"), session=session)
    engine.dispose()
    at.run()
    text = _page_text(at)
    assert DEMO_PASSWORD in text
    for user in DEMO_USERS:
        assert user.username in text
    assert "carol" not in text


# --- the demo store ---------------------------------------------------------------------------


def test_the_demo_refuses_a_store_it_did_not_make(fresh, monkeypatch):
    monkeypatch.setenv("PATHWAYS_DEMO", "1")
    engine = make_engine(f"sqlite:///{fresh / 'real.db'}")
    create_db_and_tables(engine)
    with Session(engine) as session:
        upsert_user("jdoe", "Jane Doe", ["admin"], hash_password("pw"), session=session)
    with pytest.raises(NotADemoStoreError, match="did not make") as info:
        ensure_demo_workspace(engine, simulator_auth_uri="http://127.0.0.1:1/", rows=20)
    assert HOWTO in str(info.value)
    with Session(engine) as session:
        assert not is_demo_store(session=session)
        assert list(session.exec(select(Connection))) == []
    engine.dispose()


def test_real_mode_accepts_no_user_of_a_demo_store(fresh, monkeypatch):
    monkeypatch.setenv("PATHWAYS_DEMO", "1")
    engine = make_engine(f"sqlite:///{fresh / 'demo.db'}")
    ensure_demo_workspace(engine, simulator_auth_uri="http://127.0.0.1:1/", rows=20)
    with Session(engine) as session:
        assert is_demo_store(session=session)
        # Even a user given a new password stays a demo store's user.
        upsert_user("admin", "Ada Admin", ["admin"], hash_password("changed"), session=session)
        assert set(authenticator_credentials(session=session)["usernames"]) >= {"admin"}
        monkeypatch.setenv("PATHWAYS_DEMO", "0")
        assert authenticator_credentials(session=session) == {"usernames": {}}
    engine.dispose()


# --- local addresses --------------------------------------------------------------------------

SIMULATOR = "http://127.0.0.1:8765/"


@pytest.mark.parametrize(
    "typed",
    ["http://127.0.0.1:8766/", "http://localhost:22/", "https://127.0.0.1:8765/",
     "http://127.0.0.2:8765/", "http://[::1]:8765/"],
)  # fmt: skip
def test_only_the_simulators_own_address_is_a_local_address(typed):
    with pytest.raises(SfmcConfigError):
        check_local_address(typed, SIMULATOR)


@pytest.mark.parametrize(
    "typed",
    ["http://127.0.0.1:8765/", "http://localhost:8765", " http://127.0.0.1:8765 ",
     "https://mc1.auth.marketingcloudapis.com/"],
)  # fmt: skip
def test_the_simulator_and_real_tenants_pass_the_local_address_rule(typed):
    check_local_address(typed, SIMULATOR)


@pytest.fixture
def demo_app(fresh, monkeypatch) -> Path:
    monkeypatch.setenv("PATHWAYS_DEMO", "1")
    monkeypatch.chdir(ROOT)
    return fresh


def _save_connection(at: AppTest, name: str, uri: str) -> AppTest:
    inputs = {t.label: t for t in at.text_input}
    inputs["Name"].input(name)
    inputs["Auth Base URI"].input(uri)
    inputs["Client ID"].input("pathways-demo")
    inputs["Client Secret"].input("pathways-demo-secret")
    return next(b for b in at.button if b.label == "Save connection").click().run()


def test_demo_connections_refuse_another_local_port(demo_app):
    from ui import state

    at = page_app("pages/connections.py", "admin", timeout=60).run()
    assert not at.exception, at.exception
    own = state.get_simulator().auth_uri
    port = int(own.rstrip("/").rsplit(":", 1)[1])
    other = f"http://127.0.0.1:{port + 1 if port < 65535 else port - 1}/"
    at = _save_connection(at, "Other local service", other)
    assert not at.exception, at.exception
    assert any("other than the built-in simulator" in e.value for e in at.error)
    assert any(f"127.0.0.1:{port}/" in e.value for e in at.error)  # names the one allowed
    at = _save_connection(at, "Second simulator connection", own)
    assert not at.exception, at.exception
    with state.session() as session:
        names = {c.name: c.auth_base_uri for c in session.exec(select(Connection))}
    assert "Other local service" not in names
    assert names["Second simulator connection"] == own
