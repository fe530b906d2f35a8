"""The demo workspace is complete, deterministic and idempotent."""

from __future__ import annotations

import bcrypt
from sqlmodel import Session

from store.audience_rows import count_rows, iter_rows
from store.audiences import list_audiences
from store.connections import connection_secret, get_connection, list_connections
from store.datasets import list_datasets
from store.demo import (
    DEMO_AUDIENCES,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_USERS,
    donor_rows,
    ensure_demo_workspace,
    start_demo_workspace,
)
from store.models import DataSet
from store.users import list_users

ROWS = 2_000  # the app uses 50,000; the same generator, fewer rows keeps the test fast


def test_demo_constants_match_the_simulator():
    import simulator as sim

    assert (DEMO_CLIENT_ID, DEMO_CLIENT_SECRET) == (sim.DEMO_CLIENT_ID, sim.DEMO_CLIENT_SECRET)


def test_donor_rows_are_deterministic_and_awkward():
    rows = list(donor_rows(5_000))
    assert rows == list(donor_rows(5_000))
    emails = [r[1] for r in rows]
    assert any("+" in e for e in emails)
    assert any(e and e == e.upper() and "@" in e for e in emails)
    assert "" in emails
    assert any(e.endswith("@") or "@@" in e for e in emails)
    lowered = [e.lower() for e in emails if e]
    assert len(lowered) > len(set(lowered))  # duplicates in different case
    assert any(r[0].startswith("000") for r in rows)
    assert any(any(ord(ch) > 0x2FF for ch in r[2]) for r in rows)  # non-Latin names
    assert any(len(r[13]) > 4000 for r in rows)  # over-long notes
    dates = {r[7][4] if len(r[7]) > 4 else "" for r in rows}
    assert {"-", "/"} <= dates  # ISO and slash formats (and "4 Mar 2019" style)


def test_ensure_demo_workspace_is_idempotent(engine):
    first = ensure_demo_workspace(engine, simulator_auth_uri="http://127.0.0.1:1111/", rows=ROWS)
    assert first.created
    assert set(first.audience_ids) == {name for name, _f, _m in DEMO_AUDIENCES}
    second = ensure_demo_workspace(engine, simulator_auth_uri="http://127.0.0.1:2222/", rows=ROWS)
    assert not second.created
    assert second.dataset_id == first.dataset_id
    assert second.audience_ids == first.audience_ids
    with Session(engine) as session:
        assert len(list_connections(session=session)) == 1
        conn = get_connection(second.connection_id, session=session)
        assert conn.auth_base_uri == "http://127.0.0.1:2222/"  # the new port
        assert connection_secret(conn) == DEMO_CLIENT_SECRET
        users = {u.username: u for u in list_users(session=session)}
        assert set(users) == {"admin", "staff", "analyst"}
        for demo in DEMO_USERS:
            assert users[demo.username].roles == [demo.role]
            assert bcrypt.checkpw(
                demo.password.encode(), users[demo.username].password_hash.encode()
            )
        ds = session.get(DataSet, first.dataset_id)
        assert ds.row_count == ROWS
        assert len(list_datasets(session=session)) == 1
        modeled = {a.name: a.modeled for a in list_audiences(session=session)}
    assert modeled["High propensity (model)"] is True
    assert sum(modeled.values()) == 1
    types = {c["name"]: c["type"] for c in ds.columns}
    assert types["email"] == "email"
    assert types["donor_id"] == "text"
    assert types["total_given"] == "decimal"
    assert types["last_gift_date"] == "date"
    assert types["is_monthly"] == "boolean"
    counts = {name: count_rows(engine, aid) for name, aid in first.audience_ids.items()}
    assert counts["All donors"] == ROWS
    for name in ("Monthly givers", "Lapsed donors (no gift since 2023)", "High propensity (model)"):
        assert 0 < counts[name] < ROWS
    first_chunk = next(iter_rows(engine, first.audience_ids["All donors"], chunk_size=10))
    assert first_chunk[0]["donor_id"] == "00000001"


def test_demo_survives_a_lost_key_file(engine, monkeypatch):
    monkeypatch.delenv("PATHWAYS_SECRET_KEY")
    ensure_demo_workspace(engine, simulator_auth_uri="http://127.0.0.1:1/", rows=50)
    from store.crypto import key_file

    key_file().unlink()  # a new key is generated: the stored demo secret must be re-saved
    ws = ensure_demo_workspace(engine, simulator_auth_uri="http://127.0.0.1:1/", rows=50)
    with Session(engine) as session:
        conn = get_connection(ws.connection_id, session=session)
        assert connection_secret(conn) == DEMO_CLIENT_SECRET


def test_a_small_demo_is_complete_when_start_returns(engine):
    assert start_demo_workspace(engine, simulator_auth_uri="http://x/", rows=ROWS) is None
    with Session(engine) as session:
        assert len(list_datasets(session=session)) == 1
