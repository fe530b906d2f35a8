"""Key rotation: every registered secret is re-encrypted under the new key; old keys still read."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlmodel import Session, SQLModel

from store.connections import connection_secret, create_connection
from store.crypto import (
    ENCRYPTED_COLUMNS,
    SecretKeyError,
    encrypt_secret,
    rotate_stored_secrets,
    stored_secrets,
)
from store.models import Connection


def test_every_registered_column_is_a_column_of_the_models():
    for table, column in ENCRYPTED_COLUMNS:
        assert column in SQLModel.metadata.tables[table].c, (table, column)


def test_rotation_moves_every_secret_to_the_new_key(engine, monkeypatch):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("PATHWAYS_SECRET_KEY", old_key)
    with Session(engine) as session:
        for n in range(3):
            create_connection(f"c{n}", "https://x.auth.marketingcloudapis.com/", "id", f"secret-{n}",
                              session=session)  # fmt: skip
    with engine.connect() as conn:
        tokens = {s.row_id: s.token for s in stored_secrets(conn)}
    # During the rotation: the new key is current, the old one still reads.
    monkeypatch.setenv("PATHWAYS_SECRET_KEY", new_key)
    monkeypatch.setenv("PATHWAYS_OLD_SECRET_KEYS", old_key)
    with Session(engine) as session:
        assert connection_secret(session.get(Connection, 1)) == "secret-0"
    assert Fernet(new_key.encode()).decrypt(encrypt_secret("x").encode()) == b"x"
    with engine.begin() as conn:
        assert rotate_stored_secrets(conn) == 3
    # After it: the new key alone reads every secret, the old one alone reads none.
    monkeypatch.delenv("PATHWAYS_OLD_SECRET_KEYS")
    with Session(engine) as session:
        assert [connection_secret(session.get(Connection, i)) for i in (1, 2, 3)] == [
            "secret-0", "secret-1", "secret-2"]  # fmt: skip
    with engine.connect() as conn:
        after = {s.row_id: s.token for s in stored_secrets(conn)}
    assert set(after) == set(tokens)
    assert all(after[i] != tokens[i] for i in tokens)
    monkeypatch.setenv("PATHWAYS_SECRET_KEY", old_key)
    with Session(engine) as session, pytest.raises(SecretKeyError, match="cannot be decrypted"):
        connection_secret(session.get(Connection, 1))


def test_rotation_covers_database_sources_and_alert_credentials(engine, tmp_path, monkeypatch):
    import sqlite3

    from store.alerts import AlertSettings, delivery, save_rule
    from store.models import AlertRule
    from store.refresh import create_sql_dataset, refresh_source

    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("PATHWAYS_SECRET_KEY", old_key)
    with sqlite3.connect(tmp_path / "crm.db") as db:
        db.execute("CREATE TABLE donors (email TEXT)")
        db.execute("INSERT INTO donors VALUES ('a@example.org')")
    create_sql_dataset(
        engine, "crm", f"sqlite:///{tmp_path / 'crm.db'}", "SELECT email FROM donors", who="kim"
    )
    with Session(engine) as session:
        conn = create_connection(
            "c", "https://x.auth.marketingcloudapis.com/", "id", "s", session=session
        )
        settings = AlertSettings(email_to="ops@example.org", smtp_host="smtp.example.org", smtp_user="u",
                                 smtp_password="smtp-pw", smtp_from="p@example.org",
                                 webhook_url="https://hooks.example.org/T0/B0/x")  # fmt: skip
        save_rule(settings, session=session, who="kim", connection_id=conn.id)
    with engine.connect() as c:
        assert {(s.table, s.column) for s in stored_secrets(c)} == set(ENCRYPTED_COLUMNS)
    monkeypatch.setenv("PATHWAYS_SECRET_KEY", new_key)
    monkeypatch.setenv("PATHWAYS_OLD_SECRET_KEYS", old_key)
    with engine.begin() as c:
        assert rotate_stored_secrets(c) == 4
    monkeypatch.delenv("PATHWAYS_OLD_SECRET_KEYS")
    assert refresh_source(engine, "crm", who="kim") is not None  # the URL reads with the new key
    with Session(engine) as session:
        sent = delivery(session.query(AlertRule).one(), "subject", "text")
    assert (sent.smtp_password, sent.webhook_url) == (
        "smtp-pw",
        "https://hooks.example.org/T0/B0/x",
    )
