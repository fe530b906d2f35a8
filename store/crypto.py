"""Encryption at rest of SFMC client secrets (Fernet, from `cryptography`).

The key comes, in this order, from `PATHWAYS_SECRET_KEY`, from `[pathways] secret_key` in
`.streamlit/secrets.toml`, or (demo mode only) from `<data dir>/secret.key`, generated once with
mode 0600. Without a usable key every call raises `SecretKeyError` saying what to set: there is
no plaintext fallback. Neither secrets nor keys ever appear in messages.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from store.db import data_dir
from store.settings import KEY_ENV, demo_mode, pathways_secrets

KEY_FILE_NAME = "secret.key"
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


def encrypt_secret(plain: str) -> str:
    """Encrypt a client secret for storage.

    Args:
        plain: the secret as typed by the user.

    Returns:
        A Fernet token (text) that is safe to store.

    Raises:
        SecretKeyError: no usable key (see `load_key`).
    """
    key = load_key()
    return Fernet(key.key).encrypt(plain.encode("utf-8")).decode("ascii")


def decrypt_secret(token: str) -> str:
    """Decrypt a stored client secret.

    Raises:
        SecretKeyError: no usable key, or the key is not the one the secret was saved with.
    """
    key = load_key()
    try:
        return Fernet(key.key).decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError):
        msg = (
            f"A stored client secret cannot be decrypted with the key from {key.source}. "
            f"Set {KEY_ENV} back to the key that was used when the connection was saved, "
            "or enter the client secret of the connection again."
        )
        raise SecretKeyError(msg) from None
