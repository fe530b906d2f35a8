"""Alert settings use cases: show, save and test a pathway's rule or a connection's default.

Plain Python (no Streamlit). Secrets typed in the form are encrypted by `store.alerts` and never
read back into the form: it only learns whether one is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlmodel import Session

from store import alerts
from store.audit import record_audit
from sync.alerts import send_alert

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

TEST_SUBJECT = "Pathways: test alert"


@dataclass(frozen=True)
class AlertForm:
    """What the settings form starts from: the stored values without their secrets."""

    settings: alerts.AlertSettings
    saved: bool
    has_password: bool
    has_webhook: bool
    inherited: bool = False  # a pathway without its own rule, showing its connection's default


def load_form(
    engine: Engine, *, connection_id: int | None = None, pathway_id: int | None = None
) -> AlertForm:
    """The form's starting values; a pathway without a rule starts from its connection's."""
    with Session(engine) as session:
        rule = alerts.get_rule(session=session, connection_id=connection_id, pathway_id=pathway_id)
        inherited = False
        if rule is None and pathway_id is not None and connection_id is not None:
            rule = alerts.get_rule(session=session, connection_id=connection_id)
            inherited = rule is not None
    if rule is None:
        return AlertForm(alerts.AlertSettings(), False, False, False)
    values = alerts.AlertSettings(
        on_failed=rule.on_failed,
        on_partial=rule.on_partial,
        partial_threshold_pct=rule.partial_threshold_pct,
        on_confirm=rule.on_confirm,
        on_recovered=rule.on_recovered,
        email_to=rule.email_to,
        smtp_host=rule.smtp_host,
        smtp_port=rule.smtp_port,
        smtp_user=rule.smtp_user,
        smtp_from=rule.smtp_from,
        smtp_starttls=rule.smtp_starttls,
    )
    return AlertForm(
        values,
        saved=not inherited,
        has_password=bool(rule.smtp_password_encrypted),
        has_webhook=bool(rule.webhook_url_encrypted),
        inherited=inherited,
    )


def save_alerts(
    engine: Engine,
    settings: alerts.AlertSettings,
    who: str,
    *,
    connection_id: int | None = None,
    pathway_id: int | None = None,
) -> None:
    """Store the rule (see `store.alerts.save_rule`: ValueError lists every problem)."""
    with Session(engine) as session:
        alerts.save_rule(
            settings, session=session, who=who, connection_id=connection_id, pathway_id=pathway_id
        )


def send_test_alert(
    engine: Engine, who: str, *, connection_id: int | None = None, pathway_id: int | None = None
) -> list[str]:
    """Send a test alert through the saved rule's channels; the problems, one per channel.

    Raises:
        LookupError: nothing is saved yet for this pathway or connection.
    """
    with Session(engine) as session:
        rule = alerts.get_rule(session=session, connection_id=connection_id, pathway_id=pathway_id)
        if rule is None:
            msg = "Save the alert settings first, then send a test alert."
            raise LookupError(msg)
        text = (
            "This is a test alert from Pathways. Alerts for this "
            f"{'pathway' if pathway_id else 'connection'} will arrive here."
        )
        problems = send_alert(alerts.delivery(rule, TEST_SUBJECT, text))
        detail = "; ".join(problems) or "sent"
        record_audit(who, "test alert", detail, session=session)
    return problems
