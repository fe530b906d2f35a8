"""Bad input to `python -m store users`: each a clear error (exit 2), nothing changed."""

from __future__ import annotations

import io
import sys

import pytest
from sqlmodel import Session, func, select

from store.__main__ import main
from store.audit import list_audit
from store.db import create_db_and_tables, make_engine
from store.models import AppUser
from store.users import DEMO_PASSWORD, hash_password, upsert_user

GOOD = "a long enough passphrase"

CASES = {
    "username with a space": (
        ["add", "jane doe", "--name", "J", "--role", "staff"], GOOD, "is not usable"),
    "username starting with a dot": (
        ["add", ".jane", "--name", "J", "--role", "staff"], GOOD, "is not usable"),
    "username of 101 characters": (
        ["add", "j" * 101, "--name", "J", "--role", "staff"], GOOD, "is not usable"),
    "unknown role": (
        ["add", "jane", "--name", "J", "--role", "superuser"], GOOD, "choose one of admin, staff"),
    "email without @": (
        ["add", "jane", "--name", "J", "--role", "staff", "--email", "jane.example.org"],
        GOOD, "is not an address"),
    "short password": (["add", "jane", "--name", "J", "--role", "staff"], "short", "at least 12"),
    "the demo password": (
        ["add", "jane", "--name", "J", "--role", "staff"], DEMO_PASSWORD, "demo's public password"),
    "existing user": (["add", "sam", "--name", "S", "--role", "staff"], GOOD, "exists already"),
    "reset for nobody": (["reset-password", "nobody"], GOOD, "No user named 'nobody'"),
    "reset to a short password": (["reset-password", "sam"], "tiny", "at least 12"),
    "disable nobody": (["disable", "nobody"], "", "No user named 'nobody'"),
}  # fmt: skip


@pytest.fixture
def engine(monkeypatch, tmp_path):
    monkeypatch.setenv("PATHWAYS_DEMO", "0")
    monkeypatch.setenv("PATHWAYS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    eng = make_engine(f"sqlite:///{tmp_path / 'pathways.db'}")
    create_db_and_tables(eng)
    with Session(eng) as s:
        upsert_user("sam", "Sam", ["staff"], hash_password("sam's old passphrase"), session=s)
    yield eng
    eng.dispose()


def _state(engine):
    with Session(engine) as s:
        users = [(u.username, u.password_hash, u.disabled) for u in s.exec(select(AppUser))]
        return users, len(list_audit(session=s)), s.exec(select(func.count(AppUser.id))).one()


@pytest.mark.parametrize("case", list(CASES))
def test_refused_and_nothing_changed(engine, monkeypatch, capsys, case):
    argv, password, message = CASES[case]
    if argv[0] != "disable":
        argv = [*argv, "--password-stdin"]
    before = _state(engine)
    monkeypatch.setattr(sys, "stdin", io.StringIO(password + "\n"))
    assert main(["users", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert _state(engine) == before
