"""Bad alert settings: each refused with what to fix, and the stored rule stays as it was."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from store import connections
from store.alerts import AlertSettings
from store.audit import list_audit
from store.models import AlertRule
from ui.alerts import save_alerts

MAIL = {"email_to": "ops@example.org", "smtp_host": "smtp.example.org",
        "smtp_from": "pathways@example.org"}  # fmt: skip
HOOK = "https://hooks.slack.com/services/T0/B0/x"

CASES = {
    "no channel at all": ({}, "at least one e-mail address or a webhook URL"),
    "recipient without @": ({**MAIL, "email_to": "ops.example.org"}, "Not e-mail addresses"),
    "one bad recipient among good": (
        {**MAIL, "email_to": "a@example.org, b@"}, "Not e-mail addresses: b@"),
    "e-mail without SMTP server": ({**MAIL, "smtp_host": ""}, "SMTP server's host name"),
    "SMTP host with a space": ({**MAIL, "smtp_host": "smtp example"}, "SMTP server's host name"),
    "SMTP port 0": ({**MAIL, "smtp_port": 0}, "port is 1 to 65535"),
    "SMTP port 70000": ({**MAIL, "smtp_port": 70000}, "port is 1 to 65535"),
    "e-mail without From": ({**MAIL, "smtp_from": ""}, "sender address (From)"),
    "password without user": ({**MAIL, "smtp_password": "x"}, "needs its SMTP user name"),
    "threshold above 100": ({"webhook_url": HOOK, "partial_threshold_pct": 150}, "0 to 100"),
    "negative threshold": ({"webhook_url": HOOK, "partial_threshold_pct": -1}, "0 to 100"),
    "webhook over plain http": (
        {"webhook_url": "http://hooks.example.org/x"}, "must start with https://"),
    "webhook not a URL": ({"webhook_url": "hooks.slack.com/x y"}, "is not a URL"),
    "webhook with a password": (
        {"webhook_url": "https://u:p@hooks.example.org/x"}, "must not contain a user name"),
    "webhook javascript:": ({"webhook_url": "javascript:alert(1)"}, "is not a URL"),
}  # fmt: skip


@pytest.fixture
def conn_id(engine):
    with Session(engine) as s:
        conn = connections.create_connection(
            "Main", "https://mc0123.auth.marketingcloudapis.com/", "id", "secret", session=s
        )
        return conn.id


def _stored(engine):
    with Session(engine) as s:
        rules = [r.model_dump() for r in s.exec(select(AlertRule))]
        return rules, len(list_audit(session=s))


@pytest.mark.parametrize("case", list(CASES))
def test_refused_with_what_to_fix_nothing_changed(engine, conn_id, case):
    save_alerts(engine, AlertSettings(**MAIL), "ada", connection_id=conn_id)
    before = _stored(engine)
    values, message = CASES[case]
    with pytest.raises(ValueError, match=re.escape(message)):
        save_alerts(engine, AlertSettings(**values), "ada", connection_id=conn_id)
    assert _stored(engine) == before


def test_a_pathway_that_is_gone(engine, conn_id):
    before = _stored(engine)
    with pytest.raises(LookupError, match="no longer exists: reload the page"):
        save_alerts(engine, AlertSettings(webhook_url=HOOK), "ada", pathway_id=999)
    assert _stored(engine) == before
