"""CRUD of the store on a real database (SQLite here, PostgreSQL in test_postgres.py)."""

from __future__ import annotations

import pytest

from store.audiences import create_audience, delete_audience, list_audiences, update_audience
from store.audit import list_audit, record_audit
from store.connections import (
    connection_secret,
    create_connection,
    delete_connection,
    get_connection,
    get_connection_by_name,
    list_connections,
    record_connection_test,
    update_connection,
)
from store.datasets import delete_dataset, get_dataset, list_datasets
from store.errors import InUseError
from store.importer import import_file
from store.models import RejectedRow, RowLedger, SyncRun
from store.pathways import (
    create_pathway,
    delete_pathway,
    find_pathway,
    get_mapping,
    list_pathways,
    set_mapping,
    update_pathway,
)
from store.users import authenticator_credentials, list_users, upsert_user

URI = "https://mc123.auth.marketingcloudapis.com/"


def _dataset(engine, name="people"):
    csv_bytes = b"email,name,amount\na@x.org,Ann,5\nb@x.org,Bob,7\n"
    return import_file(engine, csv_bytes, name=name, filename="people.csv").dataset_id


def test_connection_secret_is_write_only(session):
    conn = create_connection("Main", URI, "cid", "first-secret", " 123 ", session=session)
    assert conn.account_id == "123"
    assert connection_secret(conn) == "first-secret"
    record_connection_test(conn.id, True, {"ok": True}, session=session)

    kept = update_connection(conn.id, name="Main BU", client_secret=None, session=session)
    assert kept.name == "Main BU"
    assert connection_secret(kept) == "first-secret"
    assert kept.last_test_ok is True  # nothing about the credentials changed
    assert update_connection(conn.id, client_secret="", session=session) is not None
    assert connection_secret(get_connection(conn.id, session=session)) == "first-secret"

    changed = update_connection(conn.id, client_secret="second", session=session)
    assert connection_secret(changed) == "second"
    assert changed.last_test_ok is None  # the old test result no longer applies
    cleared = update_connection(conn.id, account_id=None, session=session)
    assert cleared.account_id is None
    assert update_connection(999, name="x", session=session) is None


def test_connection_list_get_delete(session):
    a = create_connection("B conn", URI, "id1", "s1", session=session)
    create_connection("A conn", URI, "id2", "s2", session=session)
    assert [c.name for c in list_connections(session=session)] == ["A conn", "B conn"]
    assert get_connection_by_name("B conn", session=session).id == a.id
    assert delete_connection(a.id, session=session).id == a.id
    assert get_connection(a.id, session=session) is None
    assert delete_connection(a.id, session=session) is None


def test_pathway_crud_mapping_and_find(engine, session):
    ds_id = _dataset(engine)
    conn = create_connection("C", URI, "cid", "s", session=session)
    aud = create_audience("Everyone", ds_id, session=session)
    assert find_pathway(aud.id, conn.id, "data_extension", session=session) is None
    pw = create_pathway(
        aud.id, conn.id, "AVID - Everyone", "avid_cid_segment_1", session=session,
        method="mirror", primary_keys=["email"], category_id=42,
    )  # fmt: skip
    assert find_pathway(aud.id, conn.id, "data_extension", session=session).id == pw.id
    assert find_pathway(aud.id, conn.id, "contacts", session=session) is None
    with pytest.raises(TypeError, match="no_such_field"):
        create_pathway(aud.id, conn.id, "x", "y", session=session, no_such_field=1)

    rows = [
        {"source_column": "email", "destination_field": "Email", "field_type": "EmailAddress",
         "is_primary_key": True, "required": True},
        {"source_column": "amount", "destination_field": "Amount", "field_type": "Decimal",
         "precision": 18, "scale": 2},
    ]  # fmt: skip
    saved = set_mapping(pw.id, rows, session=session)
    assert [m.ordinal for m in saved] == [0, 1]
    got = get_mapping(pw.id, session=session)
    assert [(m.source_column, m.destination_field) for m in got] == [
        ("email", "Email"),
        ("amount", "Amount"),
    ]
    set_mapping(pw.id, rows[:1], session=session)  # replaces, does not append
    assert len(get_mapping(pw.id, session=session)) == 1
    with pytest.raises(ValueError, match="mapped twice"):
        set_mapping(pw.id, [rows[0], rows[0]], session=session)

    updated = update_pathway(pw.id, paused=True, schedule="daily", session=session)
    assert updated.paused is True
    assert updated.schedule == "daily"
    assert [p.id for p in list_pathways(session=session, connection_id=conn.id)] == [pw.id]

    with pytest.raises(InUseError, match="pathway"):
        delete_connection(conn.id, session=session)
    with pytest.raises(InUseError, match="pathway"):
        delete_audience(aud.id, session=session)

    run = SyncRun(pathway_id=pw.id)
    session.add(run)
    session.commit()
    session.add(RejectedRow(run_id=run.id, error_type="InvalidEmailAddress", error_details="x"))
    session.add(RowLedger(pathway_id=pw.id, row_key="a@x.org", row_hash="h"))
    session.commit()
    assert delete_pathway(pw.id, session=session).id == pw.id
    assert get_mapping(pw.id, session=session) == []
    assert delete_connection(conn.id, session=session) is not None
    assert delete_audience(aud.id, session=session) is not None


def test_audiences_and_datasets(engine, session):
    ds_id = _dataset(engine)
    aud = create_audience(
        "Big", ds_id, [{"column": "Amount", "op": "greater_than", "value": "6"}], session=session
    )
    assert aud.filters == [{"column": "amount", "op": "greater_than", "value": "6"}]
    renamed = update_audience(aud.id, name="Bigger", modeled=True, session=session)
    assert renamed.name == "Bigger"
    assert renamed.modeled is True
    assert [a.name for a in list_audiences(session=session, dataset_id=ds_id)] == ["Bigger"]
    assert list_datasets(session=session)[0].id == ds_id
    with pytest.raises(InUseError, match="audience"):
        delete_dataset(ds_id, session=session)
    delete_audience(aud.id, session=session)
    table = get_dataset(ds_id, session=session).table_name
    assert delete_dataset(ds_id, session=session) is not None
    assert get_dataset(ds_id, session=session) is None
    from sqlalchemy import inspect

    assert table not in inspect(engine).get_table_names()


def test_audit_pagination(session):
    for i in range(5):
        record_audit("ada", "connection.update", f"change {i}", session=session)
    record_audit("", "startup", session=session)
    first = list_audit(session=session, limit=2)
    assert [e.action for e in first] == ["startup", "connection.update"]
    assert first[0].who == "system"
    assert len(list_audit(session=session, limit=10, offset=4)) == 2
    assert len(list_audit(session=session, who="ada")) == 5


def test_users_and_authenticator_credentials(session):
    upsert_user("ada", "Ada Lovelace", ["admin"], "$2b$hash", "ada@x.org", session=session)
    upsert_user("ada", "Ada L", ["staff"], "$2b$other", session=session)
    creds = authenticator_credentials(session=session)
    assert creds["usernames"]["ada"]["roles"] == ["staff"]
    assert creds["usernames"]["ada"]["password"] == "$2b$other"
    assert len(list_users(session=session)) == 1
