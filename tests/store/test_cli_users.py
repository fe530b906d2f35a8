"""`python -m store users`: admins manage logins from the shell, with bcrypt hashes and audit."""

from __future__ import annotations

import io
import subprocess
import sys

import bcrypt
import pytest
from sqlmodel import Session

from store.__main__ import main
from store.audit import list_audit, record_audit
from store.db import create_db_and_tables, make_engine
from store.settings import DEMO_STORE_ACTION
from store.users import authenticator_credentials, get_user
from tests.fixtures import ROOT

PASSWORD = "correct horse battery staple"


@pytest.fixture
def engine(monkeypatch, tmp_path):
    monkeypatch.setenv("PATHWAYS_DEMO", "0")
    eng = make_engine(f"sqlite:///{tmp_path / 'data' / 'pathways.db'}")
    (tmp_path / "data").mkdir(exist_ok=True)
    create_db_and_tables(eng)
    yield eng
    eng.dispose()


def users(argv: list[str], monkeypatch, stdin: str = "") -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return main(["users", *argv])


def test_add_list_reset_disable(engine, monkeypatch, capsys):
    add = ["add", "jane", "--name", "Jane Doe", "--role", "staff", "--password-stdin"]
    assert users(add, monkeypatch, PASSWORD + "\n") == 0
    assert "Added jane (staff)" in capsys.readouterr().out
    with Session(engine) as s:
        jane = get_user("jane", session=s)
        assert bcrypt.checkpw(PASSWORD.encode(), jane.password_hash.encode())
        assert PASSWORD not in jane.password_hash
        assert "jane" in authenticator_credentials(session=s, demo=False)["usernames"]
    assert users(["list"], monkeypatch) == 0
    assert capsys.readouterr().out.split("\t")[:3] == ["jane", "staff", "active"]

    new = "another long passphrase"
    assert users(["reset-password", "jane", "--password-stdin"], monkeypatch, new + "\n") == 0
    assert users(["disable", "jane"], monkeypatch) == 0
    with Session(engine) as s:
        jane = get_user("jane", session=s)
        assert bcrypt.checkpw(new.encode(), jane.password_hash.encode())
        assert jane.disabled
        assert "jane" not in authenticator_credentials(session=s, demo=False)["usernames"]
        actions = [e.action for e in reversed(list_audit(session=s))]
    assert actions == ["user add", "user password reset", "user disable"]
    assert users(["disable", "jane", "--enable"], monkeypatch) == 0
    with Session(engine) as s:
        assert not get_user("jane", session=s).disabled


def test_refused_on_the_demo_store(engine, monkeypatch, capsys):
    with Session(engine) as s:
        record_audit("system", DEMO_STORE_ACTION, session=s)
    add = ["add", "jane", "--name", "Jane", "--role", "staff", "--password-stdin"]
    assert users(add, monkeypatch, PASSWORD + "\n") == 2
    assert "demo" in capsys.readouterr().err
    with Session(engine) as s:
        assert get_user("jane", session=s) is None


def test_the_command_line_help_lists_the_actions():
    out = subprocess.run(
        [sys.executable, "-m", "store", "users", "--help"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    for action in ("list", "add", "reset-password", "disable"):
        assert action in out
