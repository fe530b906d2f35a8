"""Logins: the people who may use the app, with bcrypt password hashes.

Convention: ORM with a keyword-only `session` (see `store/__init__.py`).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import bcrypt
from sqlmodel import Session, col, select

from store.models import AppUser, AuditEvent
from store.settings import demo_mode, is_demo_store

log = logging.getLogger(__name__)

ROLES = ("admin", "staff", "analyst")
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}")
MIN_PASSWORD = 12

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
        if user.disabled:
            continue
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


# --- Sign-in attempts: the audit log is their memory, so every process sees the same count. ---
SIGN_IN = "sign in"
SIGN_IN_FAILED = "sign-in failed"
SIGN_IN_WAIT = "sign-in refused: wait"
FREE_FAILURES = 5  # failed sign-ins per user name within FAILURE_WINDOW before tries must wait
FAILURE_WINDOW = timedelta(minutes=15)
FIRST_WAIT = timedelta(seconds=30)  # doubled by each further failure...
MAX_WAIT = timedelta(minutes=15)  # ...up to this


def sign_in_wait_until(username: str, *, session: Session, now: datetime) -> datetime | None:
    """When the next sign-in for `username` may be tried, or None when it may be tried now.

    Failures count in a streak since the last successful sign-in: a streak ends when
    `FAILURE_WINDOW` passes without a failure. The first `FREE_FAILURES` cost nothing; each one
    after that doubles the wait (from `FIRST_WAIT`, at most `MAX_WAIT`, never longer than the
    window, so waiting it out keeps the streak), counted from the last failure. Names nobody
    has are treated the same, so the answer does not tell who exists.

    Returns:
        The moment (UTC) from which a try is accepted again, or None.
    """
    now = now.astimezone(UTC)
    last_ok = session.exec(
        select(AuditEvent.at)
        .where(AuditEvent.who == username, AuditEvent.action == SIGN_IN, AuditEvent.at <= now)
        .order_by(col(AuditEvent.at).desc())
    ).first()
    recent = session.exec(
        select(AuditEvent.at)
        .where(
            AuditEvent.who == username,
            AuditEvent.action == SIGN_IN_FAILED,
            AuditEvent.at > (last_ok or datetime.min.replace(tzinfo=UTC)),
            AuditEvent.at <= now,
        )
        .order_by(col(AuditEvent.at).desc())
    )
    streak, newer, last = 0, now, now
    for at in recent:
        if newer - at > FAILURE_WINDOW:
            break
        streak, newer, last = streak + 1, at, at if streak == 0 else last
    extra = streak - FREE_FAILURES
    if extra < 0:
        return None
    until = last + min(FIRST_WAIT * (2 ** min(extra, 30)), MAX_WAIT)
    return until if until > now else None


def set_disabled(username: str, disabled: bool, *, session: Session) -> AppUser:
    """Disable (or enable again) a login; a disabled one cannot sign in and is signed out.

    Raises:
        LookupError: no login has this username.
    """
    user = get_user(username, session=session)
    if user is None:
        msg = f"No user named {username!r}: see  python -m store users list."
        raise LookupError(msg)
    user.disabled = disabled
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


def check_new_login(username: str, role: str, password: str | None, email: str = "") -> None:
    """Refuse a login that would be unusable or unsafe, before anything is written.

    Args:
        username: 1-100 letters, digits and . _ @ + - (starting with a letter or digit).
        role: one of `ROLES`.
        password: at least `MIN_PASSWORD` characters, not the public demo password (None: not
            being set).
        email: empty, or one address with an @.

    Raises:
        ValueError: what is wrong and what to type instead.
    """
    if not USERNAME_PATTERN.fullmatch(username):
        msg = (
            f"Username {username!r} is not usable: use 1-100 letters, digits and . _ @ + - "
            "starting with a letter or digit (for example jane.doe)."
        )
        raise ValueError(msg)
    if role not in ROLES:
        msg = f"Role {role!r} does not exist: choose one of {', '.join(ROLES)}."
        raise ValueError(msg)
    if email and (email.count("@") != 1 or " " in email.strip() or email.startswith("@")):
        msg = f"E-mail {email!r} is not an address: give one like jane@example.org, or none."
        raise ValueError(msg)
    if password is None:
        return
    if len(password) < MIN_PASSWORD:
        msg = f"The password has {len(password)} characters: use at least {MIN_PASSWORD}."
        raise ValueError(msg)
    if password == DEMO_PASSWORD:
        msg = "That is the demo's public password: choose another one."
        raise ValueError(msg)
