"""The only Streamlit glue: cached resources, session keys, the current user and role checks.

Pages import from here, `sfmc/` and `store/`; nothing in `sfmc/` or `store/` imports streamlit.
Imports of the engine, client and simulator are done inside the factories so that a page can
render its empty state even when one of those parts is not configured.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import streamlit as st

from store.db import create_db_and_tables, data_dir, database_url, make_engine

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

# --- Session-state keys (H10). Never reuse the authenticator's own keys. ---------------------
PUSH_STEP = "push_step"
PUSH_AUDIENCE_ID = "push_audience_id"
PUSH_CONNECTION_ID = "push_connection_id"
PUSH_SETTINGS = "push_settings"
PUSH_MAPPING = "push_mapping"
PUSH_RUN_ID = "push_run_id"
PUSH_PATHWAY_ID = "push_pathway_id"
MAPPING_PATHWAY_ID = "mapping_pathway_id"
CONN_EDIT_ID = "conn_edit_id"
CONN_REPORT = "conn_report"
AUD_DATASET_ID = "aud_dataset_id"
AUD_FILTERS = "aud_filters"
AUD_IMPORT_REPORT = "aud_import_report"
MANAGE_PAGE = "manage_page"

SESSION_DEFAULTS: dict[str, Any] = {
    PUSH_STEP: 1,
    PUSH_AUDIENCE_ID: None,
    PUSH_CONNECTION_ID: None,
    PUSH_SETTINGS: {},
    PUSH_MAPPING: None,
    PUSH_RUN_ID: None,
    PUSH_PATHWAY_ID: None,
    MAPPING_PATHWAY_ID: None,
    CONN_EDIT_ID: None,
    CONN_REPORT: None,
    AUD_DATASET_ID: None,
    AUD_FILTERS: [],
    AUD_IMPORT_REPORT: None,
    MANAGE_PAGE: 0,
}

ROLES = ("admin", "staff", "analyst")
SIM_FIXED_PORT = 8765


def init_session_state() -> None:
    """Give every page-local key its default once per browser session."""
    for key, value in SESSION_DEFAULTS.items():
        st.session_state.setdefault(key, value() if callable(value) else _copy(value))


def _copy(value: Any) -> Any:
    return type(value)(value) if isinstance(value, (dict, list)) else value


# --- Modes and secrets ---------------------------------------------------------------------------
def _auth_secrets() -> dict[str, Any] | None:
    try:
        if "auth" in st.secrets:
            return st.secrets["auth"].to_dict()
    except (FileNotFoundError, KeyError):  # no secrets file: demo, or login not configured
        return None
    return None


def is_demo_mode() -> bool:
    """Demo mode unless `PATHWAYS_DEMO=0`: the same switch the store uses (store.settings)."""
    from store.settings import demo_mode

    return demo_mode()


@dataclass(frozen=True)
class AuthConfig:
    """What the authenticator needs, as plain values (H15)."""

    credentials: dict[str, Any]
    cookie_name: str
    cookie_key: str
    demo_users: tuple[tuple[str, str, str], ...] = ()  # (username, name, role) shown in demo
    demo_password: str | None = None


# The placeholder shipped in .streamlit/secrets.toml.example: anyone can read it, so a cookie
# signed with it can be forged by anyone.
COOKIE_KEY_PLACEHOLDERS = frozenset({"change-me"})
COOKIE_KEY_MIN_LENGTH = 32
_COOKIE_KEY_HOWTO = (
    'generate one with  python -c "import secrets; print(secrets.token_urlsafe(32))"  and put it '
    "in [auth] cookie_key of .streamlit/secrets.toml"
)


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


def _demo_cookie_key() -> str:
    path = data_dir() / "cookie_key"
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


def _demo_password() -> str:
    from store.users import DEMO_PASSWORD

    return DEMO_PASSWORD


def _db_credentials() -> dict[str, Any]:
    from store.users import authenticator_credentials

    get_engine()  # creates tables and, in demo mode, the demo users
    with session() as s:
        return authenticator_credentials(session=s)


def auth_config() -> AuthConfig:
    """Credentials and cookie settings for the authenticator.

    Users come from `[auth] credentials` in `.streamlit/secrets.toml` when present, else from the
    store (where the demo workspace puts the demo users). The cookie key comes from `[auth]
    cookie_key`; only in demo mode is one generated (into the data directory, mode 0600).

    Raises:
        RuntimeError: outside demo mode when `[auth] cookie_key` is missing, is the example
            placeholder or is shorter than 32 characters (see `check_cookie_key`).
    """
    conf = _auth_secrets() or {}
    demo = is_demo_mode()
    credentials = conf.get("credentials") or _db_credentials()
    cookie_key = conf.get("cookie_key")
    if not cookie_key and not demo:
        msg = (
            "Login is not configured: add an [auth] section with cookie_key (and credentials, or "
            "users in the store) to .streamlit/secrets.toml (see .streamlit/secrets.toml.example), "
            "or run the demo with PATHWAYS_DEMO=1."
        )
        raise RuntimeError(msg)
    if not demo:
        check_cookie_key(str(cookie_key))
    users: tuple[tuple[str, str, str], ...] = ()
    if demo:
        users = tuple(
            (u, info.get("name", u), (info.get("roles") or [""])[0])
            for u, info in (credentials.get("usernames") or {}).items()
        )
    return AuthConfig(
        credentials=credentials,
        cookie_name=conf.get("cookie_name", "pathways_demo_auth" if demo else "pathways_auth"),
        cookie_key=cookie_key or _demo_cookie_key(),
        demo_users=users,
        demo_password=_demo_password() if demo else None,
    )


# --- Cached resources (N3) ---------------------------------------------------------------------
def _int_env(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else default


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _stop(resource: Any) -> None:
    stop = getattr(resource, "stop", None)
    if callable(stop):
        stop()


@st.cache_resource(show_spinner="Starting the demo SFMC simulator…", on_release=_stop)
def get_simulator() -> Any:
    """In demo mode, the in-process SFMC simulator (seed "demo", DESIGN §5 defaults).

    The defaults can be lowered for fast tests with `PATHWAYS_SIM_LATENCY_MS`,
    `PATHWAYS_SIM_SOAP_LATENCY_MS`, `PATHWAYS_SIM_ROWSET_MS`, `PATHWAYS_SIM_ASYNC_ROWS_PER_S`,
    `PATHWAYS_SIM_RATE_LIMIT` and `PATHWAYS_SIM_PORT` (0 = any free port).
    """
    if not is_demo_mode():
        return None
    from simulator import SimulatorConfig, start_simulator

    config = SimulatorConfig(
        seed="demo",
        latency_ms=int(_int_env("PATHWAYS_SIM_LATENCY_MS", 120)),
        soap_latency_ms=int(_int_env("PATHWAYS_SIM_SOAP_LATENCY_MS", 250)),
        rowset_ms_per_row=_int_env("PATHWAYS_SIM_ROWSET_MS", 4),
        async_rows_per_s=int(_int_env("PATHWAYS_SIM_ASYNC_ROWS_PER_S", 10_000)),
        rate_limit=int(_int_env("PATHWAYS_SIM_RATE_LIMIT", 40)),
    )
    port = int(_int_env("PATHWAYS_SIM_PORT", SIM_FIXED_PORT))
    # A fixed port keeps the demo connection's Auth Base URI stable across restarts.
    if port and _port_free(port):
        try:
            return start_simulator(config, port=port)
        except OSError:
            pass
    return start_simulator(config, port=0)


# Stores whose engine (and demo workspace) is ready in this process, by URL: the router shows a
# "Starting Pathways…" page instead of blocking before `st.navigation` (see `store_ready`).
_READY_STORES: set[str] = set()


def store_ready() -> bool:
    """Whether `get_engine()` has finished once in this process (so it returns at once now)."""
    return database_url() in _READY_STORES


@st.cache_resource(
    show_spinner="Opening the pathway store… (the first demo start creates 50,000 demo donors: "
    "allow about half a minute)"
)
def get_engine() -> Engine:
    """The SQLAlchemy engine (tables created; the demo workspace ensured in demo mode)."""
    engine = make_engine()
    create_db_and_tables(engine)
    if is_demo_mode():
        sim = get_simulator()
        if sim is not None:
            from store.demo import DEMO_ROWS, ensure_demo_workspace

            rows = int(_int_env("PATHWAYS_DEMO_ROWS", DEMO_ROWS))  # tests use fewer rows
            ensure_demo_workspace(engine, simulator_auth_uri=sim.auth_uri, rows=rows)
    _READY_STORES.add(database_url())
    return engine


def client_for(connection: Any) -> Any:
    """A new SfmcClient for a Connection row (local simulator URIs only in demo mode)."""
    from sync.worker import default_client_factory

    return default_client_factory(connection)


def session() -> Any:
    """A short-lived Session on the cached engine: `with deps.session() as s:` (never stored)."""
    from sqlmodel import Session

    return Session(get_engine())


@st.cache_resource(show_spinner=False, max_entries=32)
def get_sfmc_client(connection_id: int, updated_at: str) -> Any:
    """A thread-safe SfmcClient per connection, rebuilt when the connection is edited."""
    from store.models import Connection

    del updated_at  # only part of the cache key
    with session() as s:
        conn = s.get(Connection, connection_id)
        if conn is None:
            msg = f"Connection {connection_id} no longer exists: pick another one."
            raise LookupError(msg)
        s.expunge(conn)
    return client_for(conn)


def client_for_connection_id(connection_id: int) -> Any:
    """The cached client of a connection id, keyed by its last edit."""
    from store.models import Connection

    with session() as s:
        conn = s.get(Connection, connection_id)
        stamp = str(conn.updated_at) if conn else ""
    return get_sfmc_client(connection_id, stamp)


@st.cache_resource(show_spinner=False, on_release=_stop)
def get_worker() -> Any:
    """The background worker thread that runs queued sync runs (started once per process)."""
    from sync.worker import start_background_worker

    engine = get_engine()
    return start_background_worker(engine, client_factory=client_for)


def ensure_worker() -> Any:
    """Start the worker if the engine part is installed; the UI still works without it."""
    try:
        return get_worker()
    except ImportError:
        return None


# --- The current user and roles ----------------------------------------------------------------
@dataclass(frozen=True)
class User:
    """The logged-in user, as the authenticator left it in session state."""

    username: str
    name: str
    roles: tuple[str, ...]

    @property
    def role(self) -> str:
        return next((r for r in ROLES if r in self.roles), self.roles[0] if self.roles else "")

    def can(self, *roles: str) -> bool:
        """True when the user holds one of `roles`; an admin can do everything."""
        return "admin" in self.roles or any(r in self.roles for r in roles)


def current_user() -> User | None:
    """The logged-in user, or None."""
    if not st.session_state.get("authentication_status"):
        return None
    roles = st.session_state.get("roles") or []
    return User(
        username=st.session_state.get("username") or "",
        name=st.session_state.get("name") or st.session_state.get("username") or "",
        roles=tuple(roles),
    )


def require_role(*roles: str) -> User:
    """Stop the page with a refusal unless the user holds one of `roles` (admin always may)."""
    init_session_state()
    user = current_user()
    if user is None:
        st.error("Please log in first.", icon=":material/lock:")
        st.stop()
    if not user.can(*roles):
        needed = " or ".join(roles)
        st.error(
            f"This page needs the {needed} role; you are signed in as {user.role or 'no role'}. "
            "Ask an admin if you need access.",
            icon=":material/lock:",
        )
        st.stop()
    return user
