"""Connections page parts: the test report and the add/edit form (secret write-only)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from pages import _widgets as widgets
from ui import connections as uconn
from ui import errors, state
from ui.text import code, md


def show_report(report: Any) -> None:
    """The ConnectionReport: verdict in plain words, the fix, endpoints, scope checklist."""
    if report.ok:
        st.success(f"Connection works. {md(report.reason)}", icon=":material/check_circle:")
    else:
        st.error(f"Connection failed: {md(report.reason)}", icon=":material/error:")
        st.markdown(f"**How to fix it:** {md(report.fix) if report.fix else errors.AUTH_FIX}")
        with st.expander("Still failing? The usual causes"):
            st.markdown(errors.AUTH_FIX)
    st.markdown(
        f"- Auth: {code(report.auth_url or '—')}\n- REST: {code(report.rest_url or '—')}\n"
        f"- SOAP: {code(report.soap_url or '—')}"
    )
    if report.scopes:
        widgets.table(
            [
                {
                    "Scope": s.scope,
                    "Granted": s.granted,
                    "Needed for": s.needed_for,
                    "What breaks without it": "" if s.granted else s.breaks_without,
                }
                for s in report.scopes
            ],
            column_config={"Granted": st.column_config.CheckboxColumn(width="small")},
        )
        if report.missing_scopes:
            missing = "\n".join(
                f"- **{md(m.scope)}** is missing: {md(m.breaks_without)}"
                for m in report.missing_scopes
            )
            st.warning(f"{missing}\n\n{errors.SCOPE_ADVICE}", icon=":material/key:")


def connection_form(editing: Any, user: Any) -> None:
    """Add (editing=None) or edit a connection; the secret is write-only."""
    with st.form(f"conn_form_{editing.id if editing else 'new'}", clear_on_submit=editing is None):
        name = st.text_input("Name", value=editing.name if editing else "")
        auth_uri = st.text_input(
            "Auth Base URI",
            value=editing.auth_base_uri if editing else "",
            placeholder="https://<subdomain>.auth.marketingcloudapis.com/",
            help="From the Installed Package's API Integration component. A bare subdomain or "
            "the REST/SOAP URL works too: it is turned into the auth URL.",
        )
        client_id = st.text_input("Client ID", value=editing.client_id if editing else "")
        secret = st.text_input(
            "Client Secret",
            type="password",
            placeholder="Leave blank to keep the current secret" if editing else "",
            help="Write-only: stored encrypted and never shown again.",
        )
        account_id = st.text_input(
            "Account ID (MID, optional)", value=(editing.account_id or "") if editing else ""
        )
        allow_modeled = st.checkbox(
            "Allow modeled audiences",
            value=editing.allow_modeled if editing else False,
            help="Modeled audiences are built from a score; some destinations must not get them.",
        )
        saved = st.form_submit_button("Save connection", type="primary")
    if editing and st.button("Cancel editing", key=f"conn_cancel_{editing.id}"):
        st.session_state[state.CONN_EDIT_ID] = None
        st.rerun()
    if saved:
        form = uconn.ConnectionForm(name, auth_uri, client_id, secret, account_id, allow_modeled)
        save(editing, user, form)


def save(editing: Any, user: Any, form: uconn.ConnectionForm) -> None:
    """Save the form through the use case; show what to fix, or confirm and close the editor."""
    local = state.demo_local_address()  # demo mode: its own simulator is the one local address
    ok, problems = widgets.guard(
        uconn.save_connection,
        state.get_engine(),
        form,
        editing_id=editing.id if editing else None,
        who=user.username,
        local_address=local,
    )
    for problem in problems or []:
        st.error(md(problem), icon=":material/error:")
    if ok and not problems:
        st.session_state[state.CONN_EDIT_ID] = None
        st.toast(f"Saved {md(form.name.strip())}. Use Test to check it.", icon=":material/check:")
        st.rerun()
