"""Alerts reach a real SMTP server (aiosmtpd) and a real HTTP receiver when a run fails.

The run goes through `sync.runner.run_pathway` like any worker run; its client cannot reach
SFMC, so it fails, and the pathway's connection default sends the alert.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import Session

from store.alerts import AlertSettings
from store.audit import list_audit
from store.models import AlertRule
from sync.runner import run_pathway
from tests.ui.test_runs import SETTINGS
from ui import alerts as ualerts
from ui import runs as uruns
from ui.alerts import TEST_SUBJECT


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], str]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.content.decode())
        )
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, _Inbox]]:
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller.port, inbox
    controller.stop()


@pytest.fixture
def hook() -> Iterator[tuple[str, list[dict]]]:
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"type": self.headers["Content-Type"], "json": json.loads(body)})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hooks/T000/B000/secret-part", received
    server.shutdown()
    server.server_close()


def _unreachable(connection):
    raise ConnectionError("Marketing Cloud could not be reached (connection refused)")


def _settings(port: int, url: str, **extra) -> AlertSettings:
    return AlertSettings(
        email_to="ops@example.org, dana@example.org",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_from="pathways@example.org",
        smtp_starttls=False,
        webhook_url=url,
        **extra,
    )


def test_a_failed_run_alerts_by_email_and_webhook(workspace, smtp, hook):
    port, inbox = smtp
    url, received = hook
    ws = workspace
    ualerts.save_alerts(ws.engine, _settings(port, url), "ada", connection_id=ws.connection["id"])
    with Session(ws.engine) as s:  # the webhook URL is a secret: stored encrypted only
        rule = s.get(AlertRule, 1)
        assert url not in rule.webhook_url_encrypted
    _pid, run = uruns.push(ws.engine, ws.audience, ws.connection, SETTINGS, "sam")
    result = run_pathway(ws.engine, run.id, client_factory=_unreachable)
    assert result.state == "failed"
    assert len(inbox.messages) == 1
    sender, to, content = inbox.messages[0]
    assert (sender, to) == ("pathways@example.org", ["ops@example.org", "dana@example.org"])
    assert "Subject: Pathways: the sync of AVID - Everyone failed" in content
    assert "could not be reached" in content
    assert len(received) == 1
    assert received[0]["type"] == "application/json"
    assert set(received[0]["json"]) == {"text"}
    assert f"Failed: run {run.id}" in received[0]["json"]["text"]
    with Session(ws.engine) as s:
        assert "alert sent" in [e.action for e in list_audit(session=s)]


def test_test_alert_and_a_broken_channel(workspace, smtp, hook):
    port, inbox = smtp
    url, received = hook
    ws = workspace
    conn = ws.connection["id"]
    with pytest.raises(LookupError, match="Save the alert settings first"):
        ualerts.send_test_alert(ws.engine, "ada", connection_id=conn)
    ualerts.save_alerts(ws.engine, _settings(port, url), "ada", connection_id=conn)
    assert ualerts.send_test_alert(ws.engine, "ada", connection_id=conn) == []
    assert inbox.messages[0][2].count(f"Subject: {TEST_SUBJECT}") == 1
    assert "test alert" in received[0]["json"]["text"]
    # The SMTP server goes away: the webhook still gets it, the problem names the server only.
    dead = _free_port()
    ualerts.save_alerts(ws.engine, _settings(dead, None), "ada", connection_id=conn)
    problems = ualerts.send_test_alert(ws.engine, "ada", connection_id=conn)
    assert len(problems) == 1
    assert f"127.0.0.1:{dead}" in problems[0]
    assert len(received) == 2  # the stored webhook URL was kept (None keeps it)


def test_an_alert_that_cannot_be_sent_leaves_the_run_as_it_was(workspace):
    ws = workspace
    nobody_listens = f"http://127.0.0.1:{_free_port()}/hooks/T000/B000/secret-part"
    settings = AlertSettings(webhook_url=nobody_listens)
    ualerts.save_alerts(ws.engine, settings, "ada", connection_id=ws.connection["id"])
    _pid, run = uruns.push(ws.engine, ws.audience, ws.connection, SETTINGS, "sam")
    result = run_pathway(ws.engine, run.id, client_factory=_unreachable)
    assert result.state == "failed"
    with Session(ws.engine) as s:
        failed = [e.detail for e in list_audit(session=s) if e.action == "alert failed"]
    assert len(failed) == 1
    assert "secret-part" not in failed[0]
    assert "webhook failed" in failed[0]
