"""Connections (admin): SFMC Installed Packages: add, edit, delete, test."""

from __future__ import annotations

import streamlit as st

from pages import _connection_ui as conn_ui
from pages import _widgets as widgets
from pages._alerts import alert_settings
from store.connections import list_connections
from ui import connections as uconn
from ui import state
from ui.text import md

user = state.require_role("admin")
st.title("Connections")
st.caption(
    "One connection per Marketing Cloud Installed Package (API Integration, Server-to-Server). "
    "REST and SOAP addresses come from the token, so you only type the Auth Base URI."
)
engine = state.get_engine()
with state.session() as session:
    connections = list_connections(session=session)


@st.dialog("Delete connection?")
def confirm_delete(conn_id: int, name: str) -> None:
    question = (
        f"Delete **{md(name)}**? Its pathways stop syncing. Data Extensions in SFMC are kept."
    )
    if widgets.delete_confirmation(
        None, question, "Delete", "conn_delete_yes", uconn.delete_connection, engine, conn_id,
        name=name, who=user.username,
    ):  # fmt: skip
        st.session_state[state.CONN_EDIT_ID] = None
        st.rerun()


if not connections:
    st.info(
        "No connections yet. Add your first Marketing Cloud connection below.",
        icon=":material/add_link:",
    )
for conn in connections:
    with st.container(border=True):
        left, right = st.columns([3, 2])
        tone, words = uconn.health(conn)
        left.markdown(f"**{md(conn.name)}** · :{tone}[{words}]")
        left.caption(
            f"{md(conn.auth_base_uri)} · Client ID {md(conn.client_id)}"
            + (f" · Account ID (MID) {md(conn.account_id)}" if conn.account_id else "")
            + (" · modeled audiences allowed" if conn.allow_modeled else "")
        )
        b1, b2, b3 = right.columns(3)
        if b1.button("Test", key=f"conn_test_{conn.id}", icon=":material/network_check:"):
            ok, _ = widgets.guard(
                uconn.run_test, engine, conn.id, state.client_for_connection_id, user.username
            )
            if ok:
                st.session_state[state.CONN_REPORT] = conn.id  # open its report
                st.rerun()  # show the new badge
        if b2.button("Edit", key=f"conn_edit_{conn.id}", icon=":material/edit:"):
            st.session_state[state.CONN_EDIT_ID] = conn.id
        if b3.button("Delete", key=f"conn_del_{conn.id}", icon=":material/delete:"):
            confirm_delete(conn.id, conn.name)
        if conn.last_test_report:  # every connection's last test stays visible, not only one
            with st.expander(
                f"Last test: {widgets.fmt_when(conn.last_test_at)}",
                expanded=st.session_state.get(state.CONN_REPORT) == conn.id or tone == "red",
            ):
                conn_ui.show_report(conn.last_test_report)
        with st.expander("Alerts: the default for its pathways", icon=":material/notifications:"):
            alert_settings(user.username, connection_id=conn.id, key=f"conn_alerts_{conn.id}")
        if st.session_state.get(state.CONN_EDIT_ID) == conn.id:
            st.markdown(f"**Edit {md(conn.name)}**")
            conn_ui.connection_form(conn, user)

with st.expander("Add a connection", expanded=not connections, icon=":material/add:"):
    conn_ui.connection_form(None, user)
