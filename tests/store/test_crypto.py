"""Client secrets are encrypted at rest; a missing or wrong key is a clear SecretKeyError."""

from __future__ import annotations

import stat

import pytest

from store.connections import create_connection
from store.crypto import (
    SecretKeyError,
    decrypt_secret,
    encrypt_secret,
    generate_key,
    key_file,
    load_key,
)

PLAIN = "s3cr3t-Plaintext-Value-42"


def test_round_trip_and_token_differs_from_plaintext():
    token = encrypt_secret(PLAIN)
    assert PLAIN not in token
    assert decrypt_secret(token) == PLAIN


def test_sqlite_file_never_contains_the_plaintext(engine, session, tmp_path):
    create_connection("c1", "https://x.auth.marketingcloudapis.com/", "id", PLAIN, session=session)
    session.close()
    engine.dispose()  # checkpoint the WAL into the file too
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("store.db*"))
    assert raw  # the database was written
    assert PLAIN.encode() not in raw


def test_wrong_key_raises_secret_key_error_without_the_secret(monkeypatch):
    token = encrypt_secret(PLAIN)
    monkeypatch.setenv("PATHWAYS_SECRET_KEY", generate_key())
    with pytest.raises(SecretKeyError, match="PATHWAYS_SECRET_KEY") as info:
        decrypt_secret(token)
    assert PLAIN not in str(info.value)
    assert info.value.__cause__ is None  # no chained InvalidToken carrying details


def test_malformed_key_is_reported(monkeypatch):
    monkeypatch.setenv("PATHWAYS_SECRET_KEY", "not-a-fernet-key")
    with pytest.raises(SecretKeyError, match="not a valid Fernet key"):
        encrypt_secret(PLAIN)


def test_missing_key_outside_demo_mode_says_what_to_set(monkeypatch):
    monkeypatch.delenv("PATHWAYS_SECRET_KEY")
    monkeypatch.setenv("PATHWAYS_DEMO", "0")
    with pytest.raises(SecretKeyError, match=r"PATHWAYS_SECRET_KEY.*secrets\.toml"):
        encrypt_secret(PLAIN)
    assert not key_file().exists()


def test_demo_mode_generates_key_file_once_with_mode_0600(monkeypatch):
    monkeypatch.delenv("PATHWAYS_SECRET_KEY")
    monkeypatch.setenv("PATHWAYS_DEMO", "1")
    token = encrypt_secret(PLAIN)
    path = key_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = path.read_bytes()
    assert decrypt_secret(token) == PLAIN
    assert path.read_bytes() == first  # not regenerated
    assert "demo key file" in load_key().source


def test_key_from_secrets_toml(monkeypatch, tmp_path):
    key = generate_key()
    monkeypatch.delenv("PATHWAYS_SECRET_KEY")
    monkeypatch.setenv("PATHWAYS_DEMO", "0")
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text(f'[pathways]\nsecret_key = "{key}"\n')
    token = encrypt_secret(PLAIN)
    assert "secrets.toml" in load_key().source
    monkeypatch.setenv("PATHWAYS_SECRET_KEY", key)  # the same key via env decrypts it
    assert decrypt_secret(token) == PLAIN


def test_broken_secrets_toml_is_a_secret_key_error(monkeypatch, tmp_path):
    monkeypatch.delenv("PATHWAYS_SECRET_KEY")
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text("[pathways\nsecret_key = ")
    with pytest.raises(SecretKeyError, match="not valid TOML"):
        encrypt_secret(PLAIN)


def test_secret_never_in_repr(session):
    conn = create_connection("c1", "https://x/", "id", PLAIN, session=session)
    assert PLAIN not in repr(conn)
    assert conn.client_secret_encrypted not in repr(conn)
    assert "key=" not in repr(load_key())
