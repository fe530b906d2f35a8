"""Alerts: when a run fails, partly fails, waits for confirmation or recovers, tell people.

A rule (`AlertRule`) belongs to one pathway, or to a connection as the default of its pathways
that have none. Its SMTP password and webhook URL (a Slack-style URL is its own secret) are
stored encrypted (`store.crypto`) and never shown again. This module decides *whether* and
*what* to send (`delivery_for_run`); sending is I/O outside the store (`sync.alerts`).

Convention: ORM with a keyword-only `session` (see `store/__init__.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import Session, col, select

from store.audit import record_audit
from store.crypto import decrypt_secret, encrypt_secret
from store.models import AlertRule, Connection, Pathway, SyncRun, utcnow
from store.status import run_outcome

_EMAIL = re.compile(r"[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+")
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
FINISHED = ("succeeded", "failed", "needs_confirm")
KINDS = ("failed", "partial", "needs_confirm", "recovered")


@dataclass(frozen=True)
class AlertSettings:
    """What the settings form submits. A secret left None keeps the stored one; "" removes it."""

    on_failed: bool = True
    on_partial: bool = True
    partial_threshold_pct: float = 5.0
    on_confirm: bool = True
    on_recovered: bool = True
    email_to: str = ""
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: str | None = None
    smtp_from: str = ""
    smtp_starttls: bool = True
    webhook_url: str | None = None


@dataclass(frozen=True)
class Delivery:
    """One alert, ready to send: the words and where they go (secrets decrypted, in memory)."""

    subject: str
    text: str
    email_to: tuple[str, ...] = ()
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_from: str = ""
    smtp_starttls: bool = True
    webhook_url: str = field(default="", repr=False)


def recipients(email_to: str) -> list[str]:
    """The addresses of a comma- or semicolon-separated list."""
    return [a.strip() for a in re.split(r"[,;]", email_to) if a.strip()]


def check_settings(s: AlertSettings, *, has_webhook: bool) -> list[str]:
    """Every problem of `s`, each saying what to change (empty when it can be saved).

    Args:
        s: the submitted settings.
        has_webhook: a stored webhook URL exists (kept when `s.webhook_url` is None).
    """
    problems = []
    if not 0 <= s.partial_threshold_pct <= 100:
        problems.append("The partly-failed threshold is a share of rows: give 0 to 100 (%).")
    bad = [a for a in recipients(s.email_to) if not _EMAIL.fullmatch(a)]
    if bad:
        problems.append(f"Not e-mail addresses: {', '.join(bad)}. Use name@example.org, ...")
    if recipients(s.email_to):
        if not _HOST.fullmatch(s.smtp_host.strip()):
            problems.append("E-mail needs the SMTP server's host name (e.g. smtp.example.org).")
        if not 1 <= s.smtp_port <= 65535:
            problems.append("The SMTP port is 1 to 65535 (587 with STARTTLS, 25 without).")
        if not _EMAIL.fullmatch(s.smtp_from.strip()):
            problems.append("E-mail needs a sender address (From), e.g. pathways@example.org.")
    if s.webhook_url:
        problems += _webhook_problems(s.webhook_url.strip())
    webhook = bool(s.webhook_url) or (has_webhook and s.webhook_url is None)
    if not recipients(s.email_to) and not webhook:
        problems.append("Give at least one e-mail address or a webhook URL to send alerts to.")
    if s.smtp_password and not s.smtp_user.strip():
        problems.append("An SMTP password needs its SMTP user name.")
    return problems


def _webhook_problems(url: str) -> list[str]:
    parts = urlsplit(url)
    local = parts.hostname in _LOCAL_HOSTS
    if any(c.isspace() for c in url) or not parts.hostname:
        return ["The webhook URL is not a URL: paste it whole, e.g. https://hooks.slack.com/..."]
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        return ["The webhook URL must start with https:// (http:// only for this computer)."]
    if parts.username or parts.password:
        return ["The webhook URL must not contain a user name or password before the host."]
    return []


def get_rule(
    *, session: Session, connection_id: int | None = None, pathway_id: int | None = None
) -> AlertRule | None:
    """The rule of exactly this pathway, or (without a pathway) this connection's default."""
    stmt = select(AlertRule).where(AlertRule.pathway_id == pathway_id)
    if pathway_id is None:
        stmt = stmt.where(AlertRule.connection_id == connection_id)
    return session.exec(stmt).first()


def effective_rule(pathway: Pathway, *, session: Session) -> AlertRule | None:
    """The pathway's own rule, else its connection's default, else None (no alerts)."""
    return get_rule(session=session, pathway_id=pathway.id) or get_rule(
        session=session, connection_id=pathway.connection_id
    )


def save_rule(
    s: AlertSettings,
    *,
    session: Session,
    who: str,
    connection_id: int | None = None,
    pathway_id: int | None = None,
) -> AlertRule:
    """Check and store a pathway's rule or a connection's default (secrets encrypted), audited.

    Raises:
        LookupError: the pathway or connection does not exist.
        ValueError: the settings have problems; all of them, one per line. Nothing is written.
    """
    owner = (
        session.get(Pathway, pathway_id) if pathway_id else session.get(Connection, connection_id)
    )
    if owner is None or (pathway_id is None) == (connection_id is None):
        msg = "That pathway or connection no longer exists: reload the page."
        raise LookupError(msg)
    rule = get_rule(session=session, connection_id=connection_id, pathway_id=pathway_id)
    rule = rule or AlertRule(
        connection_id=None if pathway_id else connection_id, pathway_id=pathway_id
    )
    problems = check_settings(s, has_webhook=bool(rule.webhook_url_encrypted))
    if problems:
        raise ValueError("\n".join(problems))
    for name in ("on_failed", "on_partial", "partial_threshold_pct", "on_confirm", "on_recovered"):
        setattr(rule, name, getattr(s, name))
    rule.email_to = ", ".join(recipients(s.email_to))
    rule.smtp_host, rule.smtp_port = s.smtp_host.strip(), s.smtp_port
    rule.smtp_user, rule.smtp_from = s.smtp_user.strip(), s.smtp_from.strip()
    rule.smtp_starttls = s.smtp_starttls
    if s.smtp_password is not None:
        rule.smtp_password_encrypted = encrypt_secret(s.smtp_password) if s.smtp_password else None
    if s.webhook_url is not None:
        url = s.webhook_url.strip()
        rule.webhook_url_encrypted = encrypt_secret(url) if url else None
    rule.updated_at = utcnow()
    session.add(rule)
    session.commit()
    session.refresh(rule)
    scope = f"pathway {pathway_id}" if pathway_id else f"connection {connection_id} (default)"
    record_audit(who, "save alerts", scope, session=session)
    return rule


def delivery(rule: AlertRule, subject: str, text: str) -> Delivery:
    """An alert for `rule`'s channels, its secrets decrypted (for sending, never for showing)."""
    return Delivery(
        subject=subject,
        text=text,
        email_to=tuple(recipients(rule.email_to)),
        smtp_host=rule.smtp_host,
        smtp_port=rule.smtp_port,
        smtp_user=rule.smtp_user,
        smtp_password=decrypt_secret(rule.smtp_password_encrypted, what="SMTP password")
        if rule.smtp_password_encrypted
        else "",
        smtp_from=rule.smtp_from,
        smtp_starttls=rule.smtp_starttls,
        webhook_url=decrypt_secret(rule.webhook_url_encrypted, what="webhook URL")
        if rule.webhook_url_encrypted
        else "",
    )


def alert_kind(run: Any, previous: Any, rule: AlertRule) -> str | None:
    """Which alert a finished run calls for under `rule` ("failed", "partial", ...), or None.

    Partly failed counts only above the rule's threshold (rejected rows as a share of the rows
    written or rejected); recovered is a clean run after a failed or partly failed one.
    """
    if run.dry_run or run.state not in FINISHED:
        return None
    word = run_outcome(run).word
    if word == "Failed":
        return "failed" if rule.on_failed else None
    if word == "Waiting for confirmation":
        return "needs_confirm" if rule.on_confirm else None
    if word == "Partly failed" and _share(run) > rule.partial_threshold_pct:
        return "partial" if rule.on_partial else None
    if word == "Partly failed" or previous is None or not rule.on_recovered:
        return None
    before = run_outcome(previous).word
    bad_before = before == "Failed" or (
        before == "Partly failed" and _share(previous) > rule.partial_threshold_pct
    )
    return "recovered" if bad_before else None


def _share(run: Any) -> float:
    rejected = run.rows_failed or 0
    return 100.0 * rejected / max(1, (run.rows_succeeded or 0) + rejected)


def delivery_for_run(engine: Any, run_id: int) -> Delivery | None:
    """The alert a just-finished run calls for, ready to send, or None (`alert_kind`)."""
    with Session(engine) as session:
        run = session.get(SyncRun, run_id)
        pathway = session.get(Pathway, run.pathway_id) if run is not None else None
        rule = effective_rule(pathway, session=session) if pathway is not None else None
        if rule is None:
            return None
        previous = session.exec(
            select(SyncRun)
            .where(
                SyncRun.pathway_id == run.pathway_id,
                col(SyncRun.id) < run_id,
                col(SyncRun.dry_run).is_(False),
                col(SyncRun.state).in_(FINISHED),
            )
            .order_by(col(SyncRun.id).desc())
        ).first()
        kind = alert_kind(run, previous, rule)
        if kind is None:
            return None
        subject, text = describe(run, pathway, kind)
        return delivery(rule, subject, text)


def describe(run: SyncRun, pathway: Pathway, kind: str) -> tuple[str, str]:
    """The alert's subject and text: what happened, the counts, the error, where to look."""
    name = pathway.de_name or pathway.de_customer_key or f"pathway {pathway.id}"
    outcome = run_outcome(run)
    heads = {
        "failed": f"Pathways: the sync of {name} failed",
        "partial": f"Pathways: the sync of {name} partly failed",
        "needs_confirm": f"Pathways: the sync of {name} waits for confirmation",
        "recovered": f"Pathways: the sync of {name} works again",
    }
    lines = [
        f"{outcome.word}: run {run.id} of {name}.",
        f"Written {run.rows_succeeded or 0:,}, rejected {run.rows_failed or 0:,}, "
        f"deleted {run.rows_deleted or 0:,}, unchanged or skipped {run.rows_skipped or 0:,}.",
    ]
    if run.error or run.message:
        lines.append(str(run.error or run.message))
    if kind == "needs_confirm":
        lines.append("Nothing was deleted. Staff confirm the deletes on Manage Pathways.")
    elif kind != "recovered":
        lines.append("Manage Pathways shows the run's details, its rejected rows and the fix.")
    return heads[kind], "\n".join(lines)
