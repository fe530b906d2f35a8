"""Bad credentials: the Connections page refuses what can never work, the test says what to fix."""

from __future__ import annotations

import socket

import pytest
from sqlmodel import Session, func, select

from sfmc.client import SfmcClient
from sfmc.config import SfmcCredentials
from simulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SimulatorConfig, start_simulator
from store.db import make_engine
from store.models import Connection
from tests.pages.conftest import page_app

URI_CASES = {
    "path after the host": (
        "https://mc123.auth.marketingcloudapis.com/some/path",
        "must not contain a path",
    ),
    "query string": (
        "https://mc123.auth.marketingcloudapis.com/?next=x",
        "must not contain '?' or '#'",
    ),
    "non-SFMC host": ("https://example.com/", "is not a Marketing Cloud API host"),
    "look-alike host": (
        "https://mc123.auth.marketingcloudapis.com.evil.example/",
        "is not a Marketing Cloud API host",
    ),
    "http:// host": ("http://mc123.auth.marketingcloudapis.com/", "must start with https://"),
    "private IP": ("https://10.1.2.3/", "private network address"),
    "localhost outside demo mode": ("http://127.0.0.1:8765/", "allowed only in demo/dev mode"),
    "user name before @": (
        "https://mc123.auth.marketingcloudapis.com@evil.example/",
        "must not contain a user name or password",
    ),
    "no scheme, not a subdomain": ("mc123 auth", "contains spaces"),
}


def _saved_connections(tmp_path) -> int:
    engine = make_engine(f"sqlite:///{tmp_path / 'test.db'}")
    try:
        with Session(engine) as session:
            return session.exec(select(func.count()).select_from(Connection)).one()
    finally:
        engine.dispose()


@pytest.mark.parametrize("case", list(URI_CASES))
def test_connections_page_refuses_bad_auth_uri_and_saves_nothing(store_env, case):
    uri, fix = URI_CASES[case]
    at = page_app("pages/connections.py", "admin").run()
    inputs = {t.label: t for t in at.text_input}
    inputs["Name"].input("Main")
    inputs["Auth Base URI"].input(uri)
    inputs["Client ID"].input("abc")
    inputs["Client Secret"].input("s3cret-value")
    submit = next(b for b in at.button if b.label == "Save connection")
    at = submit.click().run()
    assert not at.exception, at.exception
    errors = " ".join(e.value for e in at.error)
    assert fix in errors, errors
    assert _saved_connections(store_env) == 0


def _client(auth_uri: str, client_id: str, secret: str) -> SfmcClient:
    creds = SfmcCredentials(auth_base_uri=auth_uri, client_id=client_id, client_secret=secret)
    return SfmcClient(credentials=creds, allow_local=True, max_retries=0, timeout=5)


@pytest.fixture
def scoped_sim():
    config = SimulatorConfig(
        latency_ms=0,
        soap_latency_ms=0,
        rate_limit=0,
        clients=[
            (DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, None),
            ("read-only", "ro-secret", frozenset({"data_extensions_read"})),
        ],
    )
    with start_simulator(config) as sim:
        yield sim


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


REPORT_CASES = {
    "wrong secret": (DEMO_CLIENT_ID, "not-the-secret", "Bad Client Secret", "without spaces"),
    "wrong client id": (
        "no-such-client",
        "some-secret-9f3",
        "Bad Client ID",
        "Copy the Client ID exactly",
    ),
}


@pytest.mark.parametrize("case", list(REPORT_CASES))
def test_connection_test_names_the_bad_credential(scoped_sim, case):
    client_id, secret, reason, fix = REPORT_CASES[case]
    report = _client(scoped_sim.auth_uri, client_id, secret).test_connection()
    assert not report.ok
    assert reason in report.reason
    assert fix in (report.fix or "")
    assert secret not in repr(report)


def test_connection_test_lists_missing_scopes_and_how_to_grant_them(scoped_sim):
    report = _client(scoped_sim.auth_uri, "read-only", "ro-secret").test_connection()
    missing = {s.scope for s in report.missing_scopes}
    assert "data_extensions_write" in missing
    assert "data_extensions_write" in (report.fix or "")
    assert "grant" in (report.fix or "").lower()
    for check in report.missing_scopes:
        assert check.breaks_without  # says what stops working


def test_wrong_subdomain_is_reported_as_such():
    client = _client("https://nosuchtenant-zz9.auth.marketingcloudapis.com/", "a", "b")
    report = client.test_connection()
    assert not report.ok
    assert "Wrong subdomain" in report.reason or "unreachable" in report.reason
    assert "Auth Base URI" in (report.fix or "") or "network" in (report.fix or "")


def test_unreachable_host_is_reported_with_the_fix():
    report = _client(f"http://127.0.0.1:{_closed_port()}/", "a", "b").test_connection()
    assert not report.ok
    assert "unreachable" in report.reason
    assert "firewall" in (report.fix or "")
