"""Client secrets never leave the vault: not in the SQLite files, logs, errors or page output."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlmodel import Session

from sfmc.client import SfmcClient
from sfmc.config import SfmcCredentials
from sfmc.errors import SfmcError
from simulator import SimulatorConfig, start_simulator
from store.connections import connection_secret, create_connection, get_connection_by_name
from store.crypto import SecretKeyError
from store.db import create_db_and_tables, make_engine
from store.models import Connection
from sync.worker import default_client_factory
from tests.fixtures import push_csv
from tests.pages.conftest import page_app

SECRET = "Sup3r-Secret-" + uuid.uuid4().hex  # a marker that cannot appear by chance
CLIENT_ID = "pathways-security-test"


@pytest.fixture
def demo_env(tmp_path, monkeypatch):
    monkeypatch.setenv("PATHWAYS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PATHWAYS_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("PATHWAYS_DEMO", "1")  # lets the worker reach the local simulator
    return tmp_path


@pytest.fixture
def sim():
    config = SimulatorConfig(
        latency_ms=0,
        soap_latency_ms=0,
        rate_limit=0,
        async_rows_per_s=1e7,
        clients=[(CLIENT_ID, SECRET, None)],
    )
    with start_simulator(config) as running:
        yield running


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}


def _push(engine, sim) -> Any:
    return push_csv(
        engine,
        b"email,name\na@example.org,A\nb@example.org,B\n",
        auth_uri=sim.auth_uri,
        client_id=CLIENT_ID,
        client_secret=SECRET,
        text_column="name",
        text_length=50,
    )


def test_secret_is_not_in_the_sqlite_files_nor_the_logs(demo_env, sim, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, urllib3 included
    engine = make_engine(f"sqlite:///{demo_env / 'store.db'}")
    create_db_and_tables(engine)
    done = _push(engine, sim)
    assert done.state == "succeeded", done.error
    with Session(engine) as session:
        conn = get_connection_by_name("Main", session=session)
        assert connection_secret(conn) == SECRET  # it is there, encrypted
        assert conn.client_secret_encrypted.startswith("gAAAA")  # a Fernet token
        report = default_client_factory(conn).test_connection()
    assert report.ok, report.reason
    files = _files(demo_env)
    assert any(name.endswith("-wal") for name in files), sorted(files)  # WAL mode, WAL checked
    for name, data in files.items():
        assert SECRET.encode() not in data, f"plaintext secret in {name}"
        assert SECRET.encode("utf-16-le") not in data, f"UTF-16 secret in {name}"
    engine.dispose()
    for name, data in _files(demo_env).items():  # after the checkpoint into the main file
        assert SECRET.encode() not in data, f"plaintext secret in {name}"
    assert caplog.records, "expected DEBUG logging during a connection test and a push"
    assert SECRET not in caplog.text


def test_secret_is_not_in_errors_or_reprs(demo_env, sim):
    creds = SfmcCredentials(sim.auth_uri, CLIENT_ID, SECRET)
    assert SECRET not in repr(creds)
    wrong = SfmcCredentials(sim.auth_uri, "someone-else", SECRET)
    client = SfmcClient(credentials=wrong, allow_local=True, max_retries=0)
    with pytest.raises(SfmcError) as info:
        client.list_data_extensions()
    for text in (str(info.value), repr(info.value), str(info.value.body), repr(client.__dict__)):
        assert SECRET not in text
    report = client.test_connection()
    assert SECRET not in repr(report)
    assert SECRET not in str(Connection(name="x", auth_base_uri="y", client_id="z",
                                        client_secret_encrypted="gAAAA-not-a-secret"))  # fmt: skip


def test_wrong_key_error_names_neither_secret_nor_key(demo_env, monkeypatch):
    engine = make_engine(f"sqlite:///{demo_env / 'store.db'}")
    create_db_and_tables(engine)
    with Session(engine) as session:
        conn = create_connection("Main", "https://a.auth.marketingcloudapis.com/", "id",
                                      SECRET, session=session)  # fmt: skip
        new_key = Fernet.generate_key().decode()
        monkeypatch.setenv("PATHWAYS_SECRET_KEY", new_key)
        with pytest.raises(SecretKeyError) as info:
            connection_secret(conn)
    message = str(info.value)
    assert SECRET not in message
    assert new_key not in message
    assert "PATHWAYS_SECRET_KEY" in message  # says where the key comes from
    engine.dispose()


def _rendered(at: Any) -> str:
    """Every element the page rendered, as protobuf text (labels, values, markdown, tables)."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(str(proto))
            # Widget values live outside the proto; a masked input holding what the user
            # just typed is the one place the secret may be (in their own browser field).
            masked = getattr(proto, "type", None) == 1 and hasattr(proto, "autocomplete")
            try:
                value = node.value
            except Exception:
                value = None
            if value is not None and not masked:
                parts.append(str(value))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(parts)


def test_connections_page_never_shows_the_secret(store_env):
    at = page_app("pages/connections.py", "admin").run()
    inputs = {t.label: t for t in at.text_input}
    inputs["Name"].input("Tenant One")
    inputs["Auth Base URI"].input("https://mc0123456789abcd.auth.marketingcloudapis.com/")
    inputs["Client ID"].input("client-abc")
    inputs["Client Secret"].input(SECRET)
    at = next(b for b in at.button if b.label == "Save connection").click().run()
    assert not at.exception, at.exception
    at = at.run()  # the page after the save (reruns once more, as a user would see it)
    text = _rendered(at)
    assert "Tenant One" in text  # positive control: saved values do show
    assert SECRET not in text
    for button in [b for b in at.button if b.label in ("Edit", "Test")]:
        after = button.click().run()
        assert SECRET not in _rendered(after)
