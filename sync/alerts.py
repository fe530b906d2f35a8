"""Send one alert: e-mail over SMTP (stdlib smtplib) and a Slack-compatible webhook.

The webhook gets `{"text": ...}` as JSON, which Slack, Mattermost, Teams workflows and most
chat tools accept. It is posted with the standard library's urllib rather than `requests`:
`requests` belongs to the SFMC client's one transport (`sfmc/transport.py`), and an alert is
one small POST that needs none of its retries or sessions. Nothing here touches the store:
the runner hands in a `store.alerts.Delivery`-shaped object and records the outcome.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.request
from email.message import EmailMessage
from typing import Any

TIMEOUT_S = 10.0  # an unreachable server must not hold the worker for long


def send_alert(delivery: Any) -> list[str]:
    """Send `delivery` to each of its channels; one line per channel that failed (else empty).

    Never raises for a channel's failure: an alert that cannot be sent must not change the
    run, and the other channel still gets it. Messages name the channel and the server, never
    a password or the webhook URL (it is a secret).
    """
    problems = []
    if delivery.email_to:
        try:
            _send_email(delivery)
        except (OSError, smtplib.SMTPException) as exc:
            problems.append(
                f"E-mail via {delivery.smtp_host}:{delivery.smtp_port} failed "
                f"({type(exc).__name__}: {_short(exc)}): check the SMTP settings."
            )
    if delivery.webhook_url:
        try:
            _post_webhook(delivery.webhook_url, delivery.text)
        except (OSError, ValueError) as exc:
            problems.append(
                f"The webhook failed ({type(exc).__name__}: {_short(exc, delivery.webhook_url)}):"
                " check its URL, or make a new one in the chat tool."
            )
    return problems


def _short(exc: Exception, secret: str = "") -> str:
    text = str(exc).replace(secret, "<webhook URL>") if secret else str(exc)
    return text[:200]


def _send_email(d: Any) -> None:
    msg = EmailMessage()
    msg["Subject"] = d.subject
    msg["From"] = d.smtp_from
    msg["To"] = ", ".join(d.email_to)
    msg.set_content(d.text)
    with smtplib.SMTP(d.smtp_host, d.smtp_port, timeout=TIMEOUT_S) as smtp:
        if d.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if d.smtp_user:
            smtp.login(d.smtp_user, d.smtp_password)
        smtp.send_message(msg)


def _post_webhook(url: str, text: str) -> None:
    body = json.dumps({"text": text}).encode("utf-8")
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        if not 200 <= response.status < 300:
            msg = f"the server answered {response.status}"
            raise ValueError(msg)
