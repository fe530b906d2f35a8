"""The only Streamlit glue: session keys, cached resources, the signed-in user and role checks.

Pages import from here and from the use-case modules of `ui/`; nothing below the UI imports
streamlit. Imports of the engine, client and simulator are done inside the factories so that a
page can render its empty state even when one of those parts is not configured.
"""

from __future__ import annotations

import os
import socket
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from store.audit import record_audit
from store.db import create_db_and_tables, data_dir, database_url, make_engine
from ui.auth import AuthConfig, User, active_user, build_auth_config, cookie_expiry, sign_in_token

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlmodel import Session

# --- Session-state keys (H10): every key a page reads or writes, declared once. ---------------
# The authenticator's own keys (read here only, never written by pages).
AUTH_STATUS = "authentication_status"
AUTH_USERNAME = "username"
AUTH_NAME = "name"
AUTH_ROLES = "roles"
AUTH_EMAIL = "email"
AUTH_LOGOUT = "logout"  # True after a sign-out: the authenticator then ignores its cookie
# Set by the Log out button's callback; the router then ends the session (`end_session`).
SIGN_OUT = "sign_out"
SIGNED_OUT_NOTE = "signed_out_note"  # why the last session ended, for the sign-in page
LAST_ACTIVE = "last_active"  # time.time() of the user's last run (the idle limit)
SIGN_IN_COOKIE = "sign_in_cookie"  # the cookie being written: {"key", "token", "at", "done"}

# Push Audiences wizard.
PUSH_STEP = "push_step"
PUSH_AUDIENCE_ID = "push_audience_id"
PUSH_CONNECTION_ID = "push_connection_id"
PUSH_SETTINGS = "push_settings"  # the draft pathway settings of step 3 (dict)
PUSH_MAPPING = "push_mapping"  # the Data Extension mapping editor's frame
PUSH_RUN_ID = "push_run_id"
PUSH_DRY_RUN_ID = "push_dry_run_id"
PUSH_PATHWAY_ID = "push_pathway_id"
PUSH_CHECKED = "push_checked_connection"  # connection id whose test passed
PUSH_KIND = "push_kind"
PUSH_TITLE_CASE = "push_title_case"
PUSH_GENERATED_KEY = "push_generated_key"
PUSH_FOLDERS = "push_folders"  # (connection id, FolderListing)
PUSH_TARGETS = "push_targets"  # (connection id, kind) -> choices read from SFMC
PUSH_DEST_FRAME = "push_dest_frame"  # (signature, frame) of the non-DE mapping editor
PUSH_MAPPING_EDITOR = "push_mapping_editor"
PUSH_DEST_EDITOR = "push_dest_editor"

# Column Mapping, Connections, Audiences.
MAPPING_PATHWAY_ID = "mapping_pathway_id"
MAPPING_LIVE = "mapping_live"
CONN_EDIT_ID = "conn_edit_id"
CONN_REPORT = "conn_report"  # id of the connection just tested: its report opens
CONN_FORM_GEN = "conn_form_gen"  # bumped on save: a new form key empties the add form
AUD_DATASET_ID = "aud_dataset_id"
AUD_FILTERS = "aud_filters"
AUD_IMPORT_REPORT = "aud_import_report"
AUD_UPLOAD = "aud_upload"
AUD_DS_NAME = "aud_ds_name"

# The wizard's keys and their defaults: "Push another audience" puts every one of them back.
WIZARD_DEFAULTS: dict[str, Any] = {
    PUSH_STEP: 1,
    PUSH_AUDIENCE_ID: None,
    PUSH_CONNECTION_ID: None,
    PUSH_SETTINGS: {},
    PUSH_MAPPING: None,
    PUSH_RUN_ID: None,
    PUSH_DRY_RUN_ID: None,
    PUSH_PATHWAY_ID: None,
    PUSH_CHECKED: None,
    PUSH_KIND: None,
    PUSH_TITLE_CASE: False,
    PUSH_GENERATED_KEY: False,
    PUSH_FOLDERS: None,
    PUSH_TARGETS: {},
    PUSH_DEST_FRAME: None,
}
SESSION_DEFAULTS: dict[str, Any] = {
    **WIZARD_DEFAULTS,
    MAPPING_PATHWAY_ID: None,
    CONN_EDIT_ID: None,
    CONN_REPORT: None,
    AUD_DATASET_ID: None,
    AUD_FILTERS: [],
    AUD_IMPORT_REPORT: None,
}

SIM_FIXED_PORT = 8765


def _copy(value: Any) -> Any:
    return type(value)(value) if isinstance(value, (dict, list)) else value


def init_session_state() -> None:
    """Give every page-local key its default once per browser session."""
    for key, value in SESSION_DEFAULTS.items():
        st.session_state.setdefault(key, _copy(value))


def reset_wizard() -> None:
    """Start the Push Audiences wizard afresh: every wizard key back to its default."""
    for key, value in WIZARD_DEFAULTS.items():
        st.session_state[key] = _copy(value)


def forget_draft() -> None:
    """Another audience or connection: drop the settings, mapping and dry run of the old one."""
    for key in (PUSH_SETTINGS, PUSH_MAPPING, PUSH_DRY_RUN_ID):
        st.session_state[key] = _copy(WIZARD_DEFAULTS[key])


# --- Modes and secrets ---------------------------------------------------------------------------
def _auth_secrets() -> dict[str, Any]:
    try:
        if "auth" in st.secrets:
            return st.secrets["auth"].to_dict()
    except (FileNotFoundError, KeyError):  # no secrets file: demo, or login not configured
        return {}
    return {}


def is_demo_mode() -> bool:
    """Whether the app runs as a demo (`store.settings.demo_mode`), never when that is refused.

    Streamlit's `[auth]` secrets are passed on: they configure the deployment as much as the
    secrets files the store reads, so they refuse demo mode too.
    """
    from store.settings import demo_mode, demo_refusal

    auth = _auth_secrets()
    return demo_mode(auth) and demo_refusal(auth) is None


def _store_credentials() -> dict[str, Any]:
    from store.users import authenticator_credentials

    get_engine()  # creates tables and, in demo mode, the demo users
    with session() as s:
        return authenticator_credentials(session=s, demo=is_demo_mode())


def auth_config() -> AuthConfig:
    """The authenticator's settings from `[auth]` in secrets and the store (`build_auth_config`).

    Raises:
        RuntimeError: demo mode is refused on this configured deployment, or login is not
            configured safely outside demo mode; the message says what to do.
    """
    from store.demo import DEMO_USERS
    from store.settings import demo_refusal
    from store.users import DEMO_PASSWORD

    conf = _auth_secrets()
    refusal = demo_refusal(conf)
    if refusal:
        raise RuntimeError(refusal)
    return build_auth_config(
        conf,
        demo=is_demo_mode(),
        data_dir=data_dir(),
        store_credentials=_store_credentials,
        demo_users=tuple((u.username, u.name, u.role) for u in DEMO_USERS),
        demo_password=DEMO_PASSWORD,
    )


# --- Cached resources (N3) ---------------------------------------------------------------------
def _float_env(name: str, default: float) -> float:
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
        latency_ms=int(_float_env("PATHWAYS_SIM_LATENCY_MS", 120)),
        soap_latency_ms=int(_float_env("PATHWAYS_SIM_SOAP_LATENCY_MS", 250)),
        rowset_ms_per_row=_float_env("PATHWAYS_SIM_ROWSET_MS", 4),
        async_rows_per_s=int(_float_env("PATHWAYS_SIM_ASYNC_ROWS_PER_S", 10_000)),
        rate_limit=int(_float_env("PATHWAYS_SIM_RATE_LIMIT", 40)),
    )
    port = int(_float_env("PATHWAYS_SIM_PORT", SIM_FIXED_PORT))
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


@st.cache_resource(show_spinner="Opening the pathway store…")
def get_engine() -> Engine:
    """The SQLAlchemy engine (tables created; the demo workspace ensured in demo mode)."""
    engine = make_engine()
    create_db_and_tables(engine)
    if is_demo_mode():
        sim = get_simulator()
        if sim is not None:
            from store.demo import DEMO_ROWS, start_demo_workspace

            rows = int(_float_env("PATHWAYS_DEMO_ROWS", DEMO_ROWS))  # tests use fewer rows
            # Users and connection now; the donors in a thread once sign-in can show.
            start_demo_workspace(engine, simulator_auth_uri=sim.auth_uri, rows=rows)
    _READY_STORES.add(database_url())
    return engine


def demo_local_address() -> str | None:
    """The one local Auth Base URI a connection may use: the demo's simulator (None if no demo)."""
    if not is_demo_mode():
        return None
    sim = get_simulator()
    return sim.auth_uri if sim is not None else None


def client_for(connection: Any) -> Any:
    """A new SfmcClient for a Connection row (local simulator URIs only in demo mode)."""
    from sync.worker import default_client_factory

    return default_client_factory(connection)


def session() -> Session:
    """A short-lived Session on the cached engine: `with state.session() as s:` (never stored)."""
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


# --- The current user and roles ----------------------------------------------------------------
def current_user() -> User | None:
    """The signed-in user as session state has it, or None (the router re-checks it each run)."""
    state = st.session_state
    if not state.get(AUTH_STATUS):
        return None
    return User(
        username=state.get(AUTH_USERNAME) or "",
        name=state.get(AUTH_NAME) or state.get(AUTH_USERNAME) or "",
        roles=tuple(state.get(AUTH_ROLES) or []),
    )


def request_sign_out() -> None:
    """The Log out button's callback: the router ends the session before it builds the menu."""
    st.session_state[SIGN_OUT] = True


def end_session(authenticator: Any, note: str | None = None) -> None:
    """Sign out and forget everything this browser session held (filters, drafts, wizard steps).

    The next person to sign in on the same tab starts from nothing. Only the authenticator's
    own keys stay, emptied, with its flag that stops it signing in again from the cookie.

    Args:
        authenticator: the `streamlit_authenticator.Authenticate` of this run.
        note: why the session ended, shown on the sign-in page until someone signs in.
    """
    if st.session_state.get(AUTH_STATUS):
        who = st.session_state.get(AUTH_USERNAME) or ""
        with session() as s:
            record_audit(who, "sign out", note or "Log out", session=s)
        cookie = authenticator.cookie_controller.cookie_model.cookie_name
        _cookie_component(authenticator)(
            method="delete", cookie=cookie, key="pathways_cookie_delete", default=False
        )
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    for key in (AUTH_STATUS, AUTH_USERNAME, AUTH_NAME, AUTH_ROLES, AUTH_EMAIL):
        st.session_state[key] = None
    st.session_state[AUTH_LOGOUT] = True
    if note:
        st.session_state[SIGNED_OUT_NOTE] = note


def signed_in_user(auth: AuthConfig, authenticator: Any) -> User | None:
    """The signed-in user, checked against the current users on every run (or None).

    Session state remembers who signed in; the users are read afresh each run, so a user who
    was deleted or lost every role is signed out at their next click, and a changed role
    applies at once. A Log out request ends the session here too, before the menu is built.
    """
    if st.session_state.pop(SIGN_OUT, False):
        end_session(authenticator)
        return None
    user = current_user()
    if user is None:
        return None
    active = active_user(user, auth.credentials)
    if active is None:
        end_session(authenticator, "Your account can no longer sign in: ask an admin.")
        return None
    now, last = time.time(), st.session_state.get(LAST_ACTIVE)
    if last is not None and now - last > auth.idle_minutes * 60:
        end_session(
            authenticator,
            f"You were signed out after {auth.idle_minutes:g} minutes without activity: "
            "sign in again.",
        )
        return None
    st.session_state[LAST_ACTIVE] = now
    st.session_state[AUTH_NAME] = active.name
    st.session_state[AUTH_ROLES] = list(active.roles)
    st.session_state.pop(SIGNED_OUT_NOTE, None)
    return active


def require_role(*roles: str) -> User:
    """Stop the page with a refusal unless the user holds one of `roles` (admin always may)."""
    init_session_state()
    user = current_user()
    if user is None and PagesManager.uses_pages_directory:
        # A fresh server runs pages/ files alone until a router calls st.navigation: do as it does.
        PagesManager.uses_pages_directory = False
        st.rerun()
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


def start_session(user: User) -> None:
    """Sign in `user` (whom `ui.auth.sign_in` accepted): the keys the authenticator's login sets."""
    st.session_state.update({AUTH_STATUS: True, AUTH_LOGOUT: False, LAST_ACTIVE: time.time()})
    st.session_state.update({AUTH_USERNAME: user.username, AUTH_NAME: user.name})
    st.session_state[AUTH_ROLES] = list(user.roles)


def _cookie_component(authenticator: Any) -> Any:  # the authenticator's cookie component
    return authenticator.cookie_controller.cookie_model.cookie_manager.cookie_manager


def keep_sign_in_cookie(auth: AuthConfig, authenticator: Any, username: str) -> None:
    """Write the sign-in cookie from a run that reaches the browser; renew it as the user works.

    The component writes only once rendered in the browser, so signed-in pages render it (key and
    value fixed) until it answers True, always in one slot: when it goes, later elements keep their
    identity (an expander opened meanwhile stays open). Renewed after half the idle limit.
    """
    slot = st.empty()
    now = time.time()
    written = st.session_state.get(SIGN_IN_COOKIE)
    if written is None or now - written["at"] > auth.idle_minutes * 30:
        expires = cookie_expiry(datetime.now(UTC), auth.idle_minutes)
        token = sign_in_token(username, auth.cookie_key, expires)
        written = {"key": f"pathways_cookie_{int(now * 1000)}", "token": token, "at": now}
        written.update(expires=expires.isoformat(), done=False)
        st.session_state[SIGN_IN_COOKIE] = written
    if written["done"]:
        return
    options = {"path": "/", "expires": written["expires"], "sameSite": "strict"}
    with slot:
        written["done"] = bool(
            _cookie_component(authenticator)(
                method="set",
                cookie=auth.cookie_name,
                value=written["token"],
                options=options,
                key=written["key"],
                default=False,
            )
        )
