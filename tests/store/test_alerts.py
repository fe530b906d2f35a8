"""store.alerts: which run calls for which alert, rules per pathway or connection, secrets."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from store import connections
from store.alerts import AlertSettings, alert_kind, delivery, effective_rule, get_rule, save_rule
from store.models import AlertRule, Audience, DataSet, Pathway


def _run(state="succeeded", written=100, rejected=0, dry_run=False, **kw):
    return SimpleNamespace(
        state=state, rows_succeeded=written, rows_failed=rejected, rows_deleted=0,
        rows_skipped=0, rows_total=written + rejected, dry_run=dry_run, **kw,
    )  # fmt: skip


RULE = AlertRule(partial_threshold_pct=5.0)


@pytest.mark.parametrize(
    ("run", "previous", "kind"),
    [
        (_run("failed", 0, 0), None, "failed"),
        (_run(written=0, rejected=13), None, "failed"),  # every row refused
        (_run(written=90, rejected=10), None, "partial"),  # 10% > 5%
        (_run(written=99, rejected=1), None, None),  # 1% is under the threshold
        (_run("needs_confirm", 0), None, "needs_confirm"),
        (_run(), _run("failed", 0), "recovered"),
        (_run(), _run(written=50, rejected=50), "recovered"),
        (_run(), _run(), None),  # nothing to report
        (_run(), _run(written=99, rejected=1), None),  # the one before was under the threshold
        (_run("failed", 0, dry_run=True), None, None),  # dry runs never alert
        (_run("cancelled"), None, None),
    ],
)
def test_which_run_calls_for_which_alert(run, previous, kind):
    assert alert_kind(run, previous, RULE) == kind


def test_switched_off_kinds_stay_silent():
    quiet = AlertRule(on_failed=False, on_partial=False, on_confirm=False, on_recovered=False)
    for run, previous in [
        (_run("failed", 0), None),
        (_run(written=50, rejected=50), None),
        (_run("needs_confirm", 0), None),
        (_run(), _run("failed", 0)),
    ]:
        assert alert_kind(run, previous, quiet) is None


@pytest.fixture
def pathway(session):
    conn = connections.create_connection(
        "Main", "https://mc0123.auth.marketingcloudapis.com/", "id", "secret", session=session
    )
    ds = DataSet(name="Donors", table_name="ds_1", source_filename="donors.csv")
    session.add(ds)
    session.commit()
    aud = Audience(name="All", dataset_id=ds.id)
    session.add(aud)
    session.commit()
    p = Pathway(audience_id=aud.id, connection_id=conn.id, de_customer_key="k", de_name="All")
    session.add(p)
    session.commit()
    return p


def test_a_pathway_rule_overrides_its_connections_default(session, pathway):
    hook = "https://hooks.slack.com/services/T0/B0/connection"
    save_rule(AlertSettings(webhook_url=hook), session=session, who="ada",
              connection_id=pathway.connection_id)  # fmt: skip
    assert effective_rule(pathway, session=session).connection_id == pathway.connection_id
    own = "https://hooks.slack.com/services/T0/B0/pathway"
    save_rule(AlertSettings(webhook_url=own, on_recovered=False), session=session, who="ada",
              pathway_id=pathway.id)  # fmt: skip
    rule = effective_rule(pathway, session=session)
    assert (rule.pathway_id, rule.on_recovered) == (pathway.id, False)
    assert delivery(rule, "s", "t").webhook_url == own
    assert get_rule(session=session, connection_id=pathway.connection_id).pathway_id is None


def test_secrets_are_encrypted_kept_and_removed(session, pathway):
    conn = pathway.connection_id
    save_rule(
        AlertSettings(email_to="ops@example.org", smtp_host="smtp.example.org", smtp_user="u",
                      smtp_password="pa55word!", smtp_from="p@example.org"),
        session=session, who="ada", connection_id=conn,
    )  # fmt: skip
    rule = get_rule(session=session, connection_id=conn)
    assert "pa55word!" not in (rule.smtp_password_encrypted or "")
    assert "pa55word!" not in repr(rule)
    assert delivery(rule, "s", "t").smtp_password == "pa55word!"
    assert "pa55word!" not in repr(delivery(rule, "s", "t"))
    # Saving again without typing the password keeps it; "" removes it.
    save_rule(AlertSettings(email_to="ops@example.org", smtp_host="smtp.example.org",
                            smtp_user="u", smtp_from="p@example.org"),
              session=session, who="ada", connection_id=conn)  # fmt: skip
    assert delivery(get_rule(session=session, connection_id=conn), "s", "t").smtp_password
    save_rule(AlertSettings(email_to="ops@example.org", smtp_host="smtp.example.org",
                            smtp_password="", smtp_from="p@example.org"),
              session=session, who="ada", connection_id=conn)  # fmt: skip
    assert get_rule(session=session, connection_id=conn).smtp_password_encrypted is None


def test_deleting_the_pathway_or_connection_deletes_its_rules(session, pathway):
    from store.connections import delete_connection
    from store.pathways import delete_pathway

    hook = AlertSettings(webhook_url="https://hooks.slack.com/services/T0/B0/x")
    save_rule(hook, session=session, who="ada", pathway_id=pathway.id)
    save_rule(hook, session=session, who="ada", connection_id=pathway.connection_id)
    conn = pathway.connection_id
    delete_pathway(pathway.id, session=session)
    assert get_rule(session=session, pathway_id=pathway.id) is None
    delete_connection(conn, session=session)
    assert get_rule(session=session, connection_id=conn) is None
