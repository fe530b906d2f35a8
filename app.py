"""Pathways: the router. Page config, login, role-filtered navigation, sidebar."""

from __future__ import annotations

import copy
import sys

import streamlit as st

st.set_page_config(page_title="Pathways", page_icon=":material/conversion_path:", layout="wide")


def starting_page() -> None:
    st.title("Pathways")
    st.caption(
        "Push your supporter audiences into Salesforce Marketing Cloud, and keep them in sync."
    )
    with st.spinner("Starting Pathways…"):
        from ui import state
    try:
        state.get_engine()  # its own spinner says what is happening and how long it takes
    except RuntimeError as exc:  # e.g. the demo refusing a store it did not make
        st.error(str(exc), icon=":material/lock:")
        st.stop()
    st.rerun()  # now build the real menu (sign-in, or the user's pages)


# Declare a menu before anything slow: until `st.navigation` runs, Streamlit lists every file of
# pages/ (helpers included) in the sidebar. Importing the store takes seconds and the first start
# builds the demo workspace, so both happen under a one-page "Starting Pathways…" menu.
_loaded = sys.modules.get("ui.state")
if _loaded is None or not _loaded.store_ready():
    st.navigation([st.Page(starting_page, title="Starting Pathways…")]).run()
    st.stop()

import streamlit_authenticator as stauth  # noqa: E402 - only once the store is ready
from streamlit_authenticator.utilities import LoginError  # noqa: E402

from ui import state  # noqa: E402
from ui.auth import NO_USERS_HELP  # noqa: E402
from ui.text import md  # noqa: E402

state.init_session_state()

try:
    auth = state.auth_config()
except RuntimeError as exc:
    st.error(str(exc), icon=":material/lock:")
    st.stop()
authenticator = stauth.Authenticate(
    copy.deepcopy(auth.credentials),
    cookie_name=auth.cookie_name,
    cookie_key=auth.cookie_key,
    cookie_expiry_days=7,
    auto_hash=False,
)


def login_page() -> None:
    st.title("Pathways")
    st.caption(
        "Push your supporter audiences into Salesforce Marketing Cloud, and keep them in sync."
    )
    left, right = st.columns([1, 1], gap="large")
    with left:
        note = st.session_state.get(state.SIGNED_OUT_NOTE)  # kept until someone signs in
        if note:
            st.info(note, icon=":material/logout:")
        try:
            authenticator.login(
                location="main", fields={"Form name": "Sign in", "Login": "Sign in"}
            )
        except LoginError:  # a sign-in cookie of a user who no longer exists
            st.session_state[state.AUTH_LOGOUT] = True  # ignore that cookie from now on
            st.rerun()
        if st.session_state.get(state.AUTH_STATUS):
            st.rerun()  # build the menu of the user who just signed in
        if st.session_state.get(state.AUTH_STATUS) is False:
            st.error("Username or password is incorrect. Check them and try again.")
        if not auth.has_users:
            st.warning(NO_USERS_HELP, icon=":material/person_off:")
    if auth.demo_users:  # only the demo's own users, only in demo mode (never configured ones)
        with right, st.container(border=True):
            st.markdown("**Demo mode**: sign in as one of these users.")
            st.table(
                {
                    "Username": [u for u, _n, _r in auth.demo_users],
                    "Role": [r for _u, _n, r in auth.demo_users],
                }
            )
            st.markdown(f"Password for all of them: `{auth.demo_password}`")
            st.caption(
                "Admins manage connections; staff upload data and push audiences; analysts "
                "view pathways and download reports."
            )


PAGES = {
    "Connections": ("pages/connections.py", ":material/cable:", ("admin",)),
    "Audiences": ("pages/audiences.py", ":material/groups:", ("staff",)),
    "Push Audiences": ("pages/push_audiences.py", ":material/send:", ("staff",)),
    "Column Mapping": ("pages/column_mapping.py", ":material/table_rows:", ("staff",)),
    "Manage Pathways": ("pages/manage_pathways.py", ":material/sync:", ("staff", "analyst")),
}

user = state.signed_in_user(auth, authenticator)  # re-checked against the users every run
if user is None:
    pg = st.navigation([st.Page(login_page, title="Sign in", icon=":material/login:")])
    pg.run()
    st.stop()

allowed = {title: spec for title, spec in PAGES.items() if user.can(*spec[2])}
# A flat menu across the top (3-5 pages, in the order of the work); the sidebar keeps the user.
pg = st.navigation(
    [st.Page(path, title=title, icon=icon) for title, (path, icon, _roles) in allowed.items()],
    position="top",
)

state.get_engine()
state.get_worker()
with st.sidebar:
    st.markdown(f"**{md(user.name)}**  \n{user.role.title()}")
    if state.is_demo_mode():
        st.caption("Demo mode: pushes go to a built-in Marketing Cloud simulator.")
    st.button("Log out", key="logout_button", on_click=state.request_sign_out)
pg.run()
