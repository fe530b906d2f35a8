"""Connections page parts: the test report and the add/edit form (secret write-only)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from pages import _widgets as widgets
from sync.mapping import DE_KEY_TEMPLATE, DE_NAME_TEMPLATE
from sync.values import SFMC_ZONE
from ui import connections as uconn
from ui import state
from ui.text import code, md


def show_report(report: Any) -> None:
    """A connection test (`ConnectionReport` or its stored dict): verdict, fix, endpoints, scopes.

    A connection that signs in but lacks a scope every push needs is shown as failed, in red.
    """
    judged = uconn.verdict(report)
    get = report.get if isinstance(report, dict) else lambda k: getattr(report, k, None)
    if judged.ready:
        st.success(f"Connection works. {judged.reason}", icon=":material/check_circle:")
    else:
        st.error(f"Not usable yet: {md(judged.reason)}", icon=":material/error:")
        st.markdown(f"**How to fix it:** {judged.fix}")
    st.caption(
        f"Auth: {code(get('auth_url') or '—')} · REST: {code(get('rest_url') or '—')} · "
        f"SOAP: {code(get('soap_url') or '—')}"
    )
    rows = uconn.scope_rows(report)
    if rows:  # a static table: its long "What breaks" sentences wrap instead of being cut off
        widgets.static_table(rows)


def connection_form(editing: Any, user: Any) -> None:
    """Add (editing=None) or edit a connection; the secret is write-only."""
    # The form keeps what was typed (secret too) until it is saved; a new form key then empties it.
    generation = st.session_state.get(state.CONN_FORM_GEN, 0)
    with st.form(f"conn_form_{editing.id if editing else 'new'}_{generation}"):
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
        time_zone = st.text_input(
            "Time zone of dates (optional)",
            value=(editing.time_zone or "") if editing else "",
            placeholder=SFMC_ZONE,
            help="SFMC reads dates without a zone in this zone; dates with one are converted to "
            "it. Blank: SFMC's server time, CST (UTC-06:00). Or an IANA name: America/New_York.",
        )
        allow_modeled = st.checkbox(
            "Allow modeled audiences",
            value=editing.allow_modeled if editing else False,
            help="Modeled audiences are built from a score; some destinations must not get them.",
        )
        with st.expander("Defaults of new Data Extensions"):
            de_name = st.text_input(
                "Data Extension name pattern",
                value=(editing.de_name_template or "") if editing else "",
                placeholder=DE_NAME_TEMPLATE,
                help="{audience} is the audience's name. Blank: " + DE_NAME_TEMPLATE,
            )
            de_key = st.text_input(
                "External key pattern",
                value=(editing.de_key_template or "") if editing else "",
                placeholder=DE_KEY_TEMPLATE,
                help="{audienceId} (required) and {clientId}; cut to 36 characters. Blank: "
                + DE_KEY_TEMPLATE,
            )
        saved = st.form_submit_button("Save connection", type="primary")
    if editing and st.button("Cancel editing", key=f"conn_cancel_{editing.id}"):
        st.session_state[state.CONN_EDIT_ID] = None
        st.rerun()
    if saved:
        form = uconn.ConnectionForm(
            name, auth_uri, client_id, secret, account_id, allow_modeled, de_name, de_key, time_zone
        )
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
        st.session_state[state.CONN_FORM_GEN] = st.session_state.get(state.CONN_FORM_GEN, 0) + 1
        st.toast(f"Saved {md(form.name.strip())}. Use Test to check it.", icon=":material/check:")
        st.rerun()
