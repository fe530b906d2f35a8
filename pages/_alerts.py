"""Alert settings (a pathway's, or a connection's default): when to alert, e-mail, webhook, test."""

from __future__ import annotations

import streamlit as st

from store.alerts import AlertSettings
from ui import alerts as ualerts
from ui import state


def alert_settings(
    who: str, *, connection_id: int, pathway_id: int | None = None, key: str = "alerts"
) -> None:
    """The alert form with Save and "Send test alert"; secrets are typed, never shown again."""
    engine = state.get_engine()
    form = ualerts.load_form(engine, connection_id=connection_id, pathway_id=pathway_id)
    v = form.settings
    if pathway_id is None:
        st.caption(
            "The default of this connection's pathways that have no alert rule of their own."
        )
    elif form.inherited:
        st.caption("Uses its connection's default now; saving here gives it a rule of its own.")
    elif not form.saved:
        st.caption("No alerts yet. Choose when, and where to send them.")
    with st.form(f"{key}_form"):
        st.markdown("**Alert when a sync…**")
        c1, c2, c3, c4 = st.columns(4)
        on_failed = c1.checkbox("fails", v.on_failed)
        on_partial = c2.checkbox("partly fails", v.on_partial)
        on_confirm = c3.checkbox("waits for confirmation", v.on_confirm)
        on_recovered = c4.checkbox("works again", v.on_recovered)
        threshold = st.number_input(
            "Partly failed: alert when more than this share of rows was rejected (%)",
            min_value=0.0, max_value=100.0, value=float(v.partial_threshold_pct), step=1.0,
        )  # fmt: skip
        email_to = st.text_input("E-mail to (comma-separated)", v.email_to)
        h1, h2, h3 = st.columns([3, 1, 1])
        smtp_host = h1.text_input("SMTP server", v.smtp_host, placeholder="smtp.example.org")
        smtp_port = h2.number_input("Port", 1, 65535, int(v.smtp_port))
        starttls = h3.checkbox("STARTTLS", v.smtp_starttls)
        u1, u2, u3 = st.columns(3)
        smtp_from = u1.text_input("From", v.smtp_from, placeholder="pathways@example.org")
        smtp_user = u2.text_input("SMTP user (optional)", v.smtp_user)
        hint = "stored; leave empty to keep it" if form.has_password else "optional"
        password = u3.text_input(f"SMTP password ({hint})", type="password")
        hint = "stored; leave empty to keep it" if form.has_webhook else "optional"
        webhook = st.text_input(
            f"Webhook URL, Slack-compatible ({hint})", type="password",
            help='Gets {"text": "..."} as JSON: Slack, Mattermost and most chat tools accept it.',
        )  # fmt: skip
        remove = form.has_webhook and st.checkbox("Remove the stored webhook URL")
        saved = st.form_submit_button("Save alert settings", type="primary")
    if saved:
        settings = AlertSettings(
            on_failed=on_failed, on_partial=on_partial, partial_threshold_pct=threshold,
            on_confirm=on_confirm, on_recovered=on_recovered, email_to=email_to,
            smtp_host=smtp_host, smtp_port=int(smtp_port), smtp_user=smtp_user,
            smtp_password=password or None, smtp_from=smtp_from, smtp_starttls=starttls,
            webhook_url="" if remove else webhook or None,
        )  # fmt: skip
        try:
            ualerts.save_alerts(
                engine, settings, who, connection_id=None if pathway_id else connection_id,
                pathway_id=pathway_id,
            )  # fmt: skip
        except (ValueError, LookupError) as exc:
            st.error(str(exc).replace("\n", "  \n"), icon=":material/error:")
        else:
            st.success("Alert settings saved.", icon=":material/check:")
    if form.saved and st.button("Send test alert", key=f"{key}_test", icon=":material/send:"):
        problems = ualerts.send_test_alert(
            engine, who, connection_id=None if pathway_id else connection_id, pathway_id=pathway_id
        )
        for problem in problems:
            st.error(problem, icon=":material/error:")
        if not problems:
            st.success("Test alert sent: check the inbox and the chat channel.")
