"""Pathways: the router. Page config, login, role-filtered navigation, sidebar."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import streamlit as st

st.set_page_config(page_title="Pathways", page_icon=":material/conversion_path:", layout="wide")


PAGES = {
    "Connections": ("pages/connections.py", ":material/cable:", ("admin",)),
    "Audiences": ("pages/audiences.py", ":material/groups:", ("staff",)),
    "Push Audiences": ("pages/push_audiences.py", ":material/send:", ("staff",)),
    "Column Mapping": ("pages/column_mapping.py", ":material/table_rows:", ("staff",)),
    "Manage Pathways": ("pages/manage_pathways.py", ":material/sync:", ("staff", "analyst")),
    "Audit log": ("pages/audit_log.py", ":material/history:", ("admin",)),
}


def at_every_url(page, title: str) -> list:
    """`page` as the home page and, hidden, under every page's URL.

    So the URL a person opened (a bookmark, a reload) stays in the address bar while the app
    starts and while they sign in, and opens that page afterwards.
    """
    return [st.Page(page, title=title, default=True)] + [
        st.Page(page, title=title, url_path=Path(path).stem, visibility="hidden")
        for path, _icon, _roles in PAGES.values()
    ]


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
    st.navigation(at_every_url(starting_page, "Starting Pathways…")).run()
    st.stop()

import streamlit_authenticator as stauth  # noqa: E402 - only once the store is ready
from streamlit_authenticator.utilities import LoginError  # noqa: E402

from ui import state  # noqa: E402
from ui.auth import NO_USERS_HELP, sign_in  # noqa: E402
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
    cookie_expiry_days=auth.idle_minutes / (24 * 60),  # the cookie ends with the idle limit
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
            authenticator.login(location="unrendered")  # signs in from a valid cookie
        except LoginError:  # a sign-in cookie of a user who no longer exists
            st.session_state[state.AUTH_LOGOUT] = True  # ignore that cookie from now on
            st.rerun()
        if st.session_state.get(state.AUTH_STATUS):
            st.rerun()  # build the menu of the user the cookie signed in
        with st.form("sign_in"):  # our form: tries are throttled and audited (ui.auth.sign_in)
            st.subheader("Sign in")
            username = st.text_input("Username", autocomplete="username")
            password = st.text_input("Password", type="password", autocomplete="current-password")
            submitted = st.form_submit_button("Sign in")
        if submitted:
            with state.session() as s:
                result = sign_in(username, password, auth.credentials, session=s)
            if result.user is not None:
                state.start_session(result.user)
                st.rerun()  # the user's menu, on the page the URL asked for
            st.error(result.message, icon=":material/lock:")
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


user = state.signed_in_user(auth, authenticator)  # re-checked against the users every run
if user is None:
    st.navigation(at_every_url(login_page, "Sign in")).run()
    st.stop()


# A flat menu across the top (3-5 pages, in the order of the work); the sidebar keeps the user.
# Pages of other roles stay reachable by URL but hidden: they say which role they need.
def no_access(roles: tuple[str, ...]):
    """A page of another role, opened by its URL: says which role it needs (`require_role`)."""

    def page() -> None:
        state.require_role(*roles)

    return page


pg = st.navigation(  # the user's pages first: the first one is the home page
    [
        st.Page(path, title=title, icon=icon)
        for title, (path, icon, roles) in PAGES.items()
        if user.can(*roles)
    ]
    + [
        st.Page(
            no_access(roles),
            title=f"{title} (no access)",
            url_path=Path(path).stem,
            visibility="hidden",
        )
        for title, (path, _icon, roles) in PAGES.items()
        if not user.can(*roles)
    ],
    position="top",
)
state.keep_sign_in_cookie(auth, authenticator, user.username)
# The cookie components are invisible iframes; their blocks would leave a gap above every title.
st.html(
    "<style>.stElementContainer:has(iframe[title^='extra_streamlit_components'])"
    "{position:absolute;height:0;overflow:hidden}</style>"
)

state.get_engine()
state.get_worker()
with st.sidebar:
    st.markdown(f"**{md(user.name)}**  \n{user.role.title()}")
    if state.is_demo_mode():
        st.caption("Demo mode: pushes go to a built-in Marketing Cloud simulator.")
    st.button("Log out", key="logout_button", on_click=state.request_sign_out)
pg.run()
