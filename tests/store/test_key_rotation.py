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
