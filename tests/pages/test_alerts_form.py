"""The alert settings form (AppTest): save, a refusal that lists what to fix, the test button."""

from __future__ import annotations

from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from store.alerts import get_rule


def _form(conn_id: int) -> None:
    from pages._alerts import alert_settings

    alert_settings("ada", connection_id=conn_id, key="t")


def _connection() -> int:
    from store import connections
    from ui import state

    with Session(state.get_engine()) as s:
        uri = "https://mc0123.auth.marketingcloudapis.com/"
        return connections.create_connection("Main", uri, "id", "secret", session=s).id


def test_save_refuse_and_keep_the_secret(store_env):
    from ui import state

    conn_id = _connection()
    at = AppTest.from_function(_form, args=(conn_id,), default_timeout=30).run()
    assert not at.exception
    assert not [b for b in at.button if b.label == "Send test alert"]  # nothing saved yet
    inputs = {t.label.split(" (")[0]: t for t in at.text_input}
    inputs["E-mail to"].input("ops@example")
    at.button[0].click().run()  # Save (the form's submit button)
    errors = " ".join(e.value for e in at.error)
    assert "Not e-mail addresses: ops@example" in errors
    assert "SMTP server's host name" in errors
    with Session(state.get_engine()) as s:
        assert get_rule(session=s, connection_id=conn_id) is None  # nothing saved
    hook = "https://hooks.slack.com/services/T0/B0/typed-secret"
    inputs = {t.label.split(" (")[0]: t for t in at.text_input}
    inputs["E-mail to"].input("")
    inputs["Webhook URL, Slack-compatible"].input(hook)
    at.button[0].click().run()
    assert any("saved" in s.value for s in at.success)
    at.run()
    assert hook not in str([t.value for t in at.text_input])  # never shown again
    assert any("stored; leave empty to keep it" in t.label for t in at.text_input)
    assert [b for b in at.button if b.label == "Send test alert"]
