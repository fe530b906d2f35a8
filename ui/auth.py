"""Sign-in settings and the signed-in user, in plain Python (the glue reads them into Streamlit).

The authenticator gets its users from `[auth] credentials` in secrets or from the store, and a
cookie key that must be safe outside demo mode (a guessable key lets anyone forge a login cookie).
The sign-in page lists users only in demo mode, and only the demo's own users; the signed-in
user is checked against the current users on every run (`active_user`).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bcrypt
import jwt

from store import users
from store.audit import record_audit
from store.settings import DEMO_HOWTO
from store.users import ROLES

if TYPE_CHECKING:
    from sqlmodel import Session

# The placeholder shipped in .streamlit/secrets.toml.example: anyone can read it, so a cookie
# signed with it can be forged by anyone.
COOKIE_KEY_PLACEHOLDERS = frozenset({"change-me"})
COOKIE_KEY_MIN_LENGTH = 32
_COOKIE_KEY_HOWTO = (
    'generate one with  python -c "import secrets; print(secrets.token_urlsafe(32))"  and put it '
    "in [auth] cookie_key of .streamlit/secrets.toml"
)
NO_USERS_HELP = (
    "No one can sign in yet: add users (with bcrypt-hashed passwords and roles) under "
    "[auth.credentials] in .streamlit/secrets.toml, as in .streamlit/secrets.toml.example. "
    f"This is not the demo. {DEMO_HOWTO}"
)


@dataclass(frozen=True)
class AuthConfig:
    """What the authenticator needs, as plain values (H15)."""

    credentials: dict[str, Any]
    cookie_name: str
    cookie_key: str
    demo_users: tuple[tuple[str, str, str], ...] = ()  # (username, name, role) shown in demo
    demo_password: str | None = None
    idle_minutes: float = 30.0  # a session without activity this long ends

    @property
    def has_users(self) -> bool:
        """Whether anyone at all can sign in."""
        return bool(self.credentials.get("usernames"))


@dataclass(frozen=True)
class User:
    """The signed-in user, as the authenticator left it in session state."""

    username: str
    name: str
    roles: tuple[str, ...]

    @property
    def role(self) -> str:
        return next((r for r in ROLES if r in self.roles), self.roles[0] if self.roles else "")

    def can(self, *roles: str) -> bool:
        """True when the user holds one of `roles`; an admin can do everything."""
        return "admin" in self.roles or any(r in self.roles for r in roles)


def active_user(user: User, credentials: Mapping[str, Any]) -> User | None:
    """The signed-in `user` as the current users know them, or None when they may no longer sign in.

    Session state keeps whatever was true at sign-in; checking it against the users of this run
    ends the access of a user who was deleted or lost every role, and applies a changed role.

    Args:
        user: the user from session state.
        credentials: this run's users, in the authenticator's shape (`{"usernames": {...}}`).
    """
    info = (credentials.get("usernames") or {}).get(user.username)
    if not isinstance(info, Mapping):
        return None
    roles = tuple(r for r in info.get("roles") or () if r in ROLES)
    if not roles:
        return None
    return User(username=user.username, name=info.get("name") or user.username, roles=roles)


def check_cookie_key(cookie_key: str) -> None:
    """Refuse a cookie key that would let anyone forge a login cookie.

    Args:
        cookie_key: the `[auth] cookie_key` from secrets.

    Raises:
        RuntimeError: the key is the example placeholder or shorter than 32 characters; the
            message says how to generate a proper one.
    """
    key = cookie_key.strip()
    if key in COOKIE_KEY_PLACEHOLDERS:
        msg = (
            "Login is not safe: [auth] cookie_key is still the placeholder from "
            f".streamlit/secrets.toml.example; {_COOKIE_KEY_HOWTO}."
        )
        raise RuntimeError(msg)
    if len(key) < COOKIE_KEY_MIN_LENGTH:
        msg = (
            f"Login is not safe: [auth] cookie_key has {len(key)} characters, it needs at least "
            f"{COOKIE_KEY_MIN_LENGTH}; {_COOKIE_KEY_HOWTO}."
        )
        raise RuntimeError(msg)


def demo_cookie_key(data_dir: Path) -> str:
    """The demo's cookie key, generated once into `data_dir/cookie_key` (mode 0600)."""
    path = data_dir / "cookie_key"
    if not path.exists():
        # Written to a private temp file created 0600 from the start (no window where others
        # can read it), then hard-linked into place: link fails if the key exists, so two
        # sessions starting at once agree on one key and no reader ever sees a half-written file.
        tmp = path.with_name(f".cookie_key.{os.getpid()}.{secrets.token_hex(8)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(secrets.token_urlsafe(32))
            os.link(tmp, path)
        except FileExistsError:
            pass  # another session won; use its key
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text(encoding="utf-8").strip()


def build_auth_config(
    conf: Mapping[str, Any],
    *,
    demo: bool,
    data_dir: Path,
    store_credentials: Callable[[], dict[str, Any]],
    demo_users: tuple[tuple[str, str, str], ...] = (),
    demo_password: str | None = None,
) -> AuthConfig:
    """Credentials and cookie settings for the authenticator.

    Users come from `[auth] credentials` (`conf`) when present, else from the store (where the
    demo workspace puts the demo users). The cookie key comes from `[auth] cookie_key`; only in
    demo mode is one generated (into the data directory, mode 0600).

    Args:
        conf: the `[auth]` section of secrets (empty when there is none).
        demo: demo mode (demo users listed on the sign-in page, cookie key generated).
        data_dir: where the demo cookie key lives.
        store_credentials: the store's users in the authenticator's format (read only when
            `conf` has no credentials).
        demo_users: the demo's own users (username, name, role); in demo mode those of them
            that can sign in are listed on the sign-in page, never anyone else.
        demo_password: the demo users' password, shown on the sign-in page in demo mode.

    Raises:
        RuntimeError: outside demo mode when `[auth] cookie_key` is missing, is the example
            placeholder or is shorter than 32 characters (see `check_cookie_key`).
    """
    credentials = conf.get("credentials") or store_credentials()
    cookie_key = conf.get("cookie_key")
    if not cookie_key and not demo:
        msg = (
            "Login is not configured: add an [auth] section with cookie_key (and credentials, or "
            "users in the store) to .streamlit/secrets.toml (see .streamlit/secrets.toml.example). "
            f"{DEMO_HOWTO}"
        )
        raise RuntimeError(msg)
    if not demo:
        check_cookie_key(str(cookie_key))
    idle = idle_minutes(conf)
    known = credentials.get("usernames") or {}
    listed = tuple(u for u in demo_users if u[0] in known) if demo else ()
    return AuthConfig(
        credentials=credentials,
        cookie_name=conf.get("cookie_name", "pathways_demo_auth" if demo else "pathways_auth"),
        cookie_key=cookie_key or demo_cookie_key(data_dir),
        demo_users=listed,
        demo_password=demo_password if demo and listed else None,
        idle_minutes=idle,
    )


IDLE_ENV = "PATHWAYS_IDLE_MINUTES"
DEFAULT_IDLE_MINUTES = 30.0
MAX_USERNAME = 100  # longer names are nobody's: refused before they reach the audit log
# A bcrypt hash checked when the name is unknown, so a wrong name takes as long as a wrong password.
_NOBODY = bcrypt.hashpw(b"nobody", bcrypt.gensalt(rounds=10))


def idle_minutes(conf: Mapping[str, Any]) -> float:
    """Minutes without activity after which a session ends.

    From `[auth] idle_minutes`, else the `PATHWAYS_IDLE_MINUTES` environment variable, else 30.

    Raises:
        RuntimeError: the value is not a number between 1 and 1440 (a day); says where to fix it.
    """
    raw = conf.get("idle_minutes", os.environ.get(IDLE_ENV, "")) or DEFAULT_IDLE_MINUTES
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = -1.0
    if not 1 <= value <= 1440:
        msg = (
            f"Sign-in is not configured: idle_minutes is {raw!r}; set [auth] idle_minutes in "
            f".streamlit/secrets.toml (or {IDLE_ENV}) to a number of minutes from 1 to 1440."
        )
        raise RuntimeError(msg)
    return value


@dataclass(frozen=True)
class SignIn:
    """The answer to one sign-in try: the user, or what to tell the person and when to retry."""

    user: User | None
    message: str = ""
    retry_at: datetime | None = None


def _wait_message(until: datetime, now: datetime) -> str:
    seconds = max(1, int((until - now).total_seconds() + 0.999))
    return (
        "Too many failed sign-ins for this username: wait before trying again. You may try "
        f"again in {seconds} s, at {until:%H:%M:%S} UTC. Ask an admin to reset the password "
        "if you have forgotten it."
    )


def sign_in(
    username: str,
    password: str,
    credentials: Mapping[str, Any],
    *,
    session: Session,
    now: datetime | None = None,
) -> SignIn:
    """Check one sign-in try, slowing down guessing, and write it to the audit log.

    After `store.users.FREE_FAILURES` failures for one user name within the window, tries are
    refused unchecked until the growing wait is over (`store.users.sign_in_wait_until`); the
    refusal says when to try again. Unknown names are treated exactly like known ones.

    Args:
        username: as typed (surrounding spaces ignored).
        password: as typed.
        credentials: the users, in the authenticator's shape (`{"usernames": {...}}`).
        session: the store, for the audit log.
        now: the current time (tests pass their own).
    """
    now = now or datetime.now(UTC)
    name = username.strip()
    if not name or not password:
        return SignIn(None, "Enter your username and your password, then press Sign in.")
    if len(name) > MAX_USERNAME:
        return SignIn(None, f"Usernames have at most {MAX_USERNAME} characters: check yours.")
    until = users.sign_in_wait_until(name, session=session, now=now)
    if until is not None:
        record_audit(
            name, users.SIGN_IN_WAIT, f"until {until:%H:%M:%S} UTC", session=session, at=now
        )
        return SignIn(None, _wait_message(until, now), until)
    info = (credentials.get("usernames") or {}).get(name)
    stored = str(info.get("password", "")) if isinstance(info, Mapping) else ""
    try:
        ok = bcrypt.checkpw(password.encode("utf-8"), stored.encode("utf-8") or _NOBODY)
    except ValueError:  # not a bcrypt hash: nobody can sign in with it
        ok = False
    user = active_user(User(name, name, ()), credentials) if ok else None
    if user is None:
        record_audit(
            name, users.SIGN_IN_FAILED, "wrong username or password", session=session, at=now
        )
        until = users.sign_in_wait_until(name, session=session, now=now)
        if until is not None:
            return SignIn(None, _wait_message(until, now), until)
        return SignIn(None, "Username or password is incorrect. Check them and try again.")
    record_audit(name, users.SIGN_IN, "with password", session=session, at=now)
    return SignIn(user)


def sign_in_token(username: str, cookie_key: str, expires_at: datetime) -> str:
    """The sign-in cookie's value, as streamlit-authenticator reads it back (`get_cookie`).

    A JWT (HS256, signed with the cookie key) holding the username and the expiry as a Unix
    time; the authenticator refuses it once expired or when the signature does not match.
    """
    payload = {"username": username, "exp_date": expires_at.timestamp()}
    return jwt.encode(payload, cookie_key, algorithm="HS256")


def cookie_expiry(now: datetime, idle: float) -> datetime:
    """When a cookie written now expires: after the idle limit, so a reload cannot outlive it."""
    return now + timedelta(minutes=idle)
