"""Logins: the people who may use the app, with bcrypt password hashes.

Convention: ORM with a keyword-only `session` (see `store/__init__.py`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from typing import Any

import bcrypt
from sqlmodel import Session, col, select

from store.models import AppUser
from store.settings import demo_mode, is_demo_store

log = logging.getLogger(__name__)

# The demo users' password: printed on the demo sign-in page, so refused outside demo mode
# (only the demo store, `store.demo`, ever hashes it into a user).
DEMO_PASSWORD = "pathways-demo"


def hash_password(password: str) -> str:
    """A bcrypt hash that streamlit-authenticator accepts (it checks with bcrypt.checkpw)."""
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds=10)).decode("ascii")


def upsert_user(
    username: str,
    name: str,
    roles: Sequence[str],
    password_hash: str,
    email: str = "",
    *,
    session: Session,
) -> AppUser:
    """Create or replace a login (the password must already be hashed with bcrypt)."""
    user = session.exec(select(AppUser).where(AppUser.username == username)).first()
    if user is None:
        user = AppUser(username=username, name=name, password_hash=password_hash)
    user.name = name
    user.email = email
    user.roles = list(roles)
    user.password_hash = password_hash
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


def get_user(username: str, *, session: Session) -> AppUser | None:
    """The login with this username."""
    return session.exec(select(AppUser).where(AppUser.username == username)).first()


def list_users(*, session: Session) -> list[AppUser]:
    """All logins, by username."""
    return list(session.exec(select(AppUser).order_by(col(AppUser.username))))


@functools.lru_cache(maxsize=256)
def _has_demo_password(password_hash: str) -> bool:
    # bcrypt is slow on purpose and the login page reruns often: remember the verdict per hash.
    try:
        return bcrypt.checkpw(DEMO_PASSWORD.encode("utf-8"), password_hash.encode("utf-8"))
    except ValueError:  # not a bcrypt hash; the authenticator refuses it anyway
        return False


def authenticator_credentials(*, session: Session, demo: bool | None = None) -> dict[str, Any]:
    """Logins in the shape `streamlit_authenticator.Authenticate(credentials=...)` expects.

    Passwords are bcrypt hashes, so pass `auto_hash=False`. Outside demo mode no demo user is
    accepted: none of a store the demo made (`is_demo_store`), and no user whose password is
    still the public demo password (printed on the demo sign-in page), so a store first opened
    as a demo never lets its demo users into a live deployment.

    Args:
        session: the store.
        demo: whether the app runs as a demo (default: `store.settings.demo_mode()`).
    """
    live = not (demo_mode() if demo is None else demo)
    if live and is_demo_store(session=session):
        log.warning("this store was made by the demo: its users are refused outside demo mode")
        return {"usernames": {}}
    usernames: dict[str, Any] = {}
    for user in list_users(session=session):
        if live and _has_demo_password(user.password_hash):
            log.warning(
                "user %r still has the public demo password: refused outside demo mode",
                user.username,
            )
            continue
        first, _, last = user.name.partition(" ")
        usernames[user.username] = {
            "name": user.name,
            "first_name": first,
            "last_name": last,
            "email": user.email,
            "password": user.password_hash,
            "roles": list(user.roles),
        }
    return {"usernames": usernames}
