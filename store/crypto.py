"""Encryption at rest of stored secrets (Fernet, from `cryptography`), and key rotation.

The key comes, in this order, from `PATHWAYS_SECRET_KEY`, from `[pathways] secret_key` in
`.streamlit/secrets.toml`, or (demo mode only) from `<data dir>/secret.key`, generated once with
mode 0600. Without a usable key every call raises `SecretKeyError` saying what to set: there is
no plaintext fallback. Neither secrets nor keys ever appear in messages.

Rotation: old keys listed in `PATHWAYS_OLD_SECRET_KEYS` (comma-separated) or `[pathways]
old_secret_keys` still decrypt (`MultiFernet`); new secrets are encrypted with the current key;
`python -m store rotate-key` re-encrypts every column of `ENCRYPTED_COLUMNS` under it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import column as sa_column
from sqlalchemy import inspect, select, table, update
from sqlalchemy.engine import Connection as DbConnection

from store.db import data_dir
from store.settings import KEY_ENV, demo_mode, pathways_secrets

KEY_FILE_NAME = "secret.key"
OLD_KEYS_ENV = "PATHWAYS_OLD_SECRET_KEYS"
# Registration point: every (table, column) holding Fernet tokens, one line each. Rotation and
# `python -m store check` find the stored secrets here (NULL and empty values are skipped).
ENCRYPTED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("connection", "client_secret_encrypted"),
    ("dataset", "sql_url_encrypted"),
    ("alertrule", "smtp_password_encrypted"),
    ("alertrule", "webhook_url_encrypted"),
)
_HOW_TO_MAKE = (
    'generate one with: python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())"'
)


class SecretKeyError(Exception):
    """The secret key is missing, malformed, or not the one the secret was encrypted with."""


@dataclass(frozen=True)
class SecretKey:
    """A loaded key and where it came from (for messages; the key itself is never shown)."""

    source: str
    key: bytes = field(repr=False)


def generate_key() -> str:
    """A new random Fernet key, as text suitable for `PATHWAYS_SECRET_KEY`."""
    return Fernet.generate_key().decode("ascii")


def key_file() -> Path:
    """Where demo mode keeps its generated key."""
    return data_dir() / KEY_FILE_NAME


def _from_demo_file() -> SecretKey:
    path = key_file()
    if not path.exists():
        try:
            # O_EXCL: two processes starting at once must not write two different keys.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(generate_key())
    return SecretKey(source=f"demo key file {path}", key=path.read_bytes().strip())


def load_key() -> SecretKey:
    """Find the secret key (see the module docstring for the order).

    Raises:
        SecretKeyError: no key is configured, or it is not a valid Fernet key.
    """
    env_value = os.environ.get(KEY_ENV, "").strip()
    if env_value:
        found = SecretKey(source=f"environment variable {KEY_ENV}", key=env_value.encode())
    else:
        try:
            configured = str(pathways_secrets().get("secret_key", "")).strip()
        except ValueError as exc:
            raise SecretKeyError(str(exc)) from None
        if configured:
            found = SecretKey(
                source="[pathways] secret_key in .streamlit/secrets.toml", key=configured.encode()
            )
        elif demo_mode():
            found = _from_demo_file()
        else:
            msg = (
                f"No secret key for client secrets: set the environment variable {KEY_ENV} "
                "or `secret_key` in the [pathways] section of .streamlit/secrets.toml "
                f"({_HOW_TO_MAKE})."
            )
            raise SecretKeyError(msg)
    try:
        Fernet(found.key)
    except (ValueError, TypeError):
        msg = (
            f"The secret key from {found.source} is not a valid Fernet key (32 url-safe "
            f"base64-encoded bytes); {_HOW_TO_MAKE}."
        )
        raise SecretKeyError(msg) from None
    return found


def old_keys() -> list[SecretKey]:
    """Keys that still decrypt during a rotation (`PATHWAYS_OLD_SECRET_KEYS` or secrets.toml).

    Raises:
        SecretKeyError: one of them is not a valid Fernet key (it is named by position).
    """
    raw = os.environ.get(OLD_KEYS_ENV, "").strip()
    source = f"environment variable {OLD_KEYS_ENV}"
    if not raw:
        try:
            configured = pathways_secrets().get("old_secret_keys", "")
        except ValueError as exc:
            raise SecretKeyError(str(exc)) from None
        raw = ",".join(configured) if isinstance(configured, list) else str(configured)
        source = "[pathways] old_secret_keys in .streamlit/secrets.toml"
    keys = []
    for n, text in enumerate((k.strip() for k in raw.split(",") if k.strip()), start=1):
        try:
            Fernet(text.encode())
        except (ValueError, TypeError):
            msg = (
                f"Old key number {n} in {source} is not a valid Fernet key; copy it again from "
                "where the previous key was kept, or remove it."
            )
            raise SecretKeyError(msg) from None
        keys.append(SecretKey(source=f"old key {n} in {source}", key=text.encode()))
    return keys


def _fernet() -> tuple[MultiFernet, SecretKey, int]:
    """The current key first, then the old ones; and how many keys there are."""
    current = load_key()
    keys = [current, *old_keys()]
    return MultiFernet([Fernet(k.key) for k in keys]), current, len(keys)


def _unreadable(current: SecretKey, n_keys: int, what: str) -> SecretKeyError:
    olds = f" nor the {n_keys - 1} old key(s) of {OLD_KEYS_ENV}" if n_keys > 1 else ""
    msg = (
        f"A stored {what} cannot be decrypted with the key from {current.source}{olds}. "
        f"Set {KEY_ENV} back to the key that was used when it was saved (or list that key in "
        f"{OLD_KEYS_ENV} while rotating), or enter the secret again."
    )
    return SecretKeyError(msg)


def encrypt_secret(plain: str) -> str:
    """Encrypt a secret for storage, with the current key.

    Args:
        plain: the secret as typed by the user.

    Returns:
        A Fernet token (text) that is safe to store.

    Raises:
        SecretKeyError: no usable key (see `load_key`).
    """
    key = load_key()
    return Fernet(key.key).encrypt(plain.encode("utf-8")).decode("ascii")


def decrypt_secret(token: str, *, what: str = "client secret") -> str:
    """Decrypt a stored secret with the current key or an old one (during a rotation).

    Raises:
        SecretKeyError: no usable key, or none of the keys is the one the secret was saved with.
    """
    fernet, current, n_keys = _fernet()
    try:
        return fernet.decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError):
        raise _unreadable(current, n_keys, what) from None


def rotate_token(token: str, *, what: str = "secret") -> str:
    """`token` re-encrypted under the current key (the secret itself is never returned).

    Raises:
        SecretKeyError: no key (current or old) decrypts it.
    """
    fernet, current, n_keys = _fernet()
    try:
        return fernet.rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError):
        raise _unreadable(current, n_keys, what) from None


@dataclass(frozen=True)
class StoredSecret:
    """One stored Fernet token: where it is (for messages) and the token itself."""

    table: str
    column: str
    row_id: int
    token: str = field(repr=False)

    @property
    def where(self) -> str:
        return f"{self.table}.{self.column} of row {self.row_id}"


def stored_secrets(conn: DbConnection) -> Iterator[StoredSecret]:
    """Every non-empty token of the `ENCRYPTED_COLUMNS` the store has (a missing table is skipped)."""
    inspector = inspect(conn)
    for table_name, column in ENCRYPTED_COLUMNS:
        if not inspector.has_table(table_name):
            continue
        if column not in {c["name"] for c in inspector.get_columns(table_name)}:
            continue
        t = table(table_name, sa_column("id"), sa_column(column))
        query = select(t.c.id, t.c[column]).where(t.c[column].is_not(None), t.c[column] != "")
        for row_id, token in conn.execute(query.order_by(t.c.id)):
            yield StoredSecret(table_name, column, int(row_id), str(token))


def rotate_stored_secrets(conn: DbConnection) -> int:
    """Re-encrypt every stored secret under the current key, in the caller's transaction.

    Returns:
        How many secrets were re-encrypted.

    Raises:
        SecretKeyError: a secret that no key decrypts (named by table, column and row); the
            caller rolls back, so nothing changes.
    """
    found = list(stored_secrets(conn))
    for secret in found:
        rotated = rotate_token(secret.token, what=f"secret ({secret.where})")
        t = table(secret.table, sa_column("id"), sa_column(secret.column))
        conn.execute(update(t).where(t.c.id == secret.row_id).values({secret.column: rotated}))
    return len(found)
