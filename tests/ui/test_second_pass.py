"""Issue 16's fixes in the use cases, without Streamlit: status words, connection verdicts,
DE ownership, key spaces, sampled reject counts, progress words, the Mirror stop note and the
raw rejected-rows download."""

from __future__ import annotations

import csv
import io
from types import SimpleNamespace

import pytest
from sqlmodel import Session

from sfmc.scopes import scope_checklist
from sfmc.types import ConnectionReport
from store import connections, queue, reports
from store.audit import list_audit
from store.ledger import commit_checkpoint
from store.status import pathway_status, run_outcome
from sync import destinations as dest
from ui import connections as uconn
from ui import keys as ukeys
from ui import pathways as upath
from ui import rejects
from ui import runs as uruns

SETTINGS = {
    "kind": dest.DATA_EXTENSION,
    "de_name": "Pathways - Everyone",
    "de_key": "pathways_everyone",
    "primary_keys": ["email"],
    "category_id": 100,
    "mapping": [{"source_column": "email", "destination_field": "Email"}],
}


def _run(**figures):
    base = {
        "state": "succeeded",
        "dry_run": False,
        "rows_succeeded": 0,
        "rows_failed": 0,
        "rows_skipped": 0,
        "rows_deleted": 0,
    }
    return {**base, **figures}


@pytest.mark.parametrize(
    ("figures", "word", "tone"),
    [
        ({"rows_succeeded": 0, "rows_failed": 13}, "Failed", "red"),
        ({"rows_succeeded": 5, "rows_failed": 2}, "Partly failed", "orange"),
        ({"rows_skipped": 40}, "Up to date", "green"),
        ({"rows_succeeded": 40}, "Synced", "green"),
        ({"rows_deleted": 3}, "Synced", "green"),
        ({"state": "needs_confirm"}, "Waiting for confirmation", "orange"),
        ({"state": "failed"}, "Failed", "red"),
        ({"state": "queued"}, "Queued", "blue"),
        ({"state": "running"}, "Syncing", "blue"),
        ({"state": "cancelled"}, "Cancelled", "gray"),
        ({"dry_run": True, "rows_failed": 60}, "Dry run done", "green"),
    ],
)
def test_run_outcome_says_what_happened(figures, word, tone):
    outcome = run_outcome(_run(**figures))
    assert (outcome.word, outcome.tone) == (word, tone)


def test_run_outcome_counts_in_words():
    assert run_outcome(_run(rows_failed=13)).counts == "13 rejected"
    assert (
        run_outcome(_run(rows_succeeded=1200, rows_failed=3)).counts == "1,200 written, 3 rejected"
    )
    assert run_outcome(_run()).counts == "nothing to send"
    assert run_outcome(_run(state="running")).counts == "started"  # not "nothing to send"


def test_pathway_status_words_follow_its_last_run(workspace):
    ws = workspace
    pid, run = uruns.push(ws.engine, ws.audience, ws.connection, SETTINGS, "sam")
    assert pathway_status(ws.engine, pid).outcome.word == "Queued"
    queue.finish_run(ws.engine, run.id, "succeeded")
    with ws.engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE syncrun SET rows_failed = 13 WHERE id = {run.id}")
    assert pathway_status(ws.engine, pid).outcome.word == "Failed"
    upath.set_paused(ws.engine, pid, True, label="x", who="sam")
    assert pathway_status(ws.engine, pid).outcome.word == "Paused"


def _report(granted, ok=True):
    return ConnectionReport(ok=ok, reason="Connected.", scopes=scope_checklist(granted))


def test_a_connection_without_a_required_scope_is_not_ok_and_says_the_fix():
    judged = uconn.verdict(_report({"data_extensions_read", "saved_content_read"}))
    assert not judged.ready
    assert "Data Extensions: Write" in judged.reason
    assert "data_extensions_write" not in judged.reason + judged.fix
    assert "Installed Packages" in judged.fix
    everything = {s.scope for s in scope_checklist(())}
    assert uconn.verdict(_report(everything)).ready


def test_a_failed_test_whose_reason_is_its_fix_gets_the_general_fix():
    report = ConnectionReport(ok=False, reason="Method Not Allowed", fix="Method Not Allowed")
    judged = uconn.verdict(report)
    assert judged.reason == "Method Not Allowed"
    assert judged.fix == uconn.GENERIC_FIX


def test_record_test_stores_not_ok_for_a_missing_scope_and_the_badge_is_red(workspace):
    ws = workspace
    uconn.record_test(ws.engine, ws.connection["id"], _report({"data_extensions_read"}), "ada")
    with Session(ws.engine) as session:  # the test is in the audit log, with its verdict
        (event,) = list_audit(session=session, who="ada")
    assert (event.action, event.detail) == ("test connection", "Main: not ready")
    with Session(ws.engine) as session:
        conn = connections.get_connection(ws.connection["id"], session=session)
    assert conn.last_test_ok is False
    assert uconn.health(conn) == ("red", "missing a required scope")
    rows = uconn.scope_rows(conn.last_test_report)
    assert rows[0]["Scope"] == "Data Extensions: Read"
    assert rows[1]["What breaks without it"]  # the write scope is missing: say what breaks


def test_connection_form_problems_come_back_as_words_not_errors(workspace):
    ws = workspace
    form = uconn.ConnectionForm("Bad", "http://evil.example.com/", "abc", "def")
    problems = uconn.save_connection(ws.engine, form, editing_id=None, who="a", local_address=None)
    assert problems
    assert "https://" in problems[0]
    assert "while trying" not in problems[0]


def test_de_name_and_key_patterns_per_connection(workspace):
    ws = workspace
    form = uconn.ConnectionForm(
        "Team",
        "https://mc0123456789.auth.marketingcloudapis.com/",
        "cid",
        "secret",
        de_name_template="Team - {audience}",
        de_key_template="team_{audienceId}",
    )
    assert (
        uconn.save_connection(ws.engine, form, editing_id=None, who="a", local_address=None) == []
    )
    rows = {r["name"]: r for r in uconn.connection_rows(ws.engine)}
    assert rows["Team"]["de_name_template"] == "Team - {audience}"
    assert rows["Main"]["de_key_template"].startswith("pathways_")
    bad = uconn.template_problems("{who}", "team_{clientId}")
    assert len(bad) == 2
    assert "{audienceId}" in bad[1]


def test_one_data_extension_has_one_owning_pathway(workspace):
    ws = workspace
    upath.create_pathway(ws.engine, ws.audience, ws.connection, SETTINGS, "sam")
    owners = upath.de_owners(ws.engine, ws.connection["id"])
    assert owners == {"pathways_everyone": "Everyone → Pathways - Everyone"}
    problem = upath.ownership_problem(owners, dest.DATA_EXTENSION, " Pathways_Everyone ")
    assert "Everyone → Pathways - Everyone" in problem
    assert upath.ownership_problem(owners, dest.MEMBERSHIP_FLAG, "pathways_everyone")
    assert (
        upath.ownership_problem(owners, dest.MEMBERSHIP_FLAG, "pathways_everyone", shared=True)
        is None
    )
    other = {"id": ws.audience["id"] + 100, "name": "Other"}
    with pytest.raises(ValueError, match="already belongs"):
        upath.create_pathway(ws.engine, other, ws.connection, SETTINGS, "sam")


def test_key_values_with_spaces_are_counted_and_trimmed(engine):
    from store import audiences
    from store.importer import import_file

    data = b"email,name\n  spaced@example.org  ,A\nok@example.org,B\n spaced2@example.org,C\n"
    report = import_file(engine, data, name="Spaced", filename="spaced.csv")
    with Session(engine) as session:
        aud = audiences.create_audience("Spaced", report.dataset_id, session=session)
    assert ukeys.spaced_keys(engine, aud.id, ["email"]) == {"email": 2}
    assert "2 value(s) of email" in ukeys.warning({"email": 2})
    assert ukeys.trim_keys(engine, aud.id, ["email"], who="sam") == 2
    assert ukeys.spaced_keys(engine, aud.id, ["email"]) == {}
    with pytest.raises(ValueError, match="no column"):
        ukeys.spaced_keys(engine, aud.id, ["nope"])


def test_sampled_reject_counts_say_they_are_a_sample():
    lines = rejects.rejected_help({"InvalidEmailAddress": 8}, sample=20)
    assert lines == [
        "**8 in the sample × InvalidEmailAddress**: the value is not a valid email address: "
        "fix it in the data or map it as Text."
    ]
    assert "in a sample of the first 20 of the 3,141" in rejects.sample_heading(20, 3141)
    rows = rejects.plan_reject_rows([{"row": 1, "error_type": "X", "error_details": "d"}])
    assert rows == [{"Row": 1, "Problem": "X", "Details": "d"}]


def test_progress_words_before_the_first_figures():
    run = SimpleNamespace(
        dry_run=False,
        rows_total=0,
        rows_succeeded=0,
        rows_failed=0,
        rows_skipped=0,
        rows_sent=0,
        rows_per_s=0.0,
        eta_s=None,
    )
    assert "0 / 0" not in uruns.progress_text(run)
    assert "started" in uruns.progress_text(run)
    run.rows_total, run.rows_sent, run.rows_per_s, run.eta_s = 5000, 1000, 900.0, 65
    assert (
        uruns.progress_text(run)
        == "Processing: 1,000 of 5,000 rows · 900 rows/s · about 1m 05s left"
    )


def test_a_dry_run_says_the_mirror_sync_will_stop():
    plan = {"delete": 29122, "de_rows": 46859}
    note = uruns.mirror_stop_note(plan, "mirror", 0.5)
    assert "will stop" in note
    assert "29,122 of the 46,859" in note
    assert "50%" in note
    assert uruns.mirror_stop_note(plan, "mirror", 0.7) is None
    assert uruns.mirror_stop_note(plan, "upsert", 0.5) is None


def test_confirming_the_deletes_queues_a_confirmed_sync_once(workspace):
    ws = workspace
    pid, run = uruns.push(ws.engine, ws.audience, ws.connection, SETTINGS, "sam")
    queue.finish_run(ws.engine, run.id, "needs_confirm", message="Would delete 90% of rows.")
    confirmed = uruns.confirm_deletes(ws.engine, run, "sam")
    assert (confirmed.pathway_id, confirmed.confirm_deletes) == (pid, True)
    queue.finish_run(ws.engine, confirmed.id, "succeeded")
    with pytest.raises(ValueError, match="no longer waiting"):
        uruns.confirm_deletes(ws.engine, confirmed, "sam")


def test_raw_download_keeps_values_the_safe_one_escapes(workspace):
    ws = workspace
    pid, run = uruns.push(ws.engine, ws.audience, ws.connection, SETTINGS, "sam")
    claimed = queue.claim_next_run(ws.engine, "w1")
    assert claimed.id == run.id
    refusal = {
        "row_values": {"phone": "+15280502514"},
        "primary_key": "k",
        "error_type": "InvalidPhone",
        "error_details": "bad",
        "field": "phone",
        "retryable": False,
    }
    commit_checkpoint(
        ws.engine,
        run.id,
        pathway_id=pid,
        checkpoint_row=1,
        counters={"rows_failed": 1},
        rejected=[refusal],
    )
    safe = list(
        csv.DictReader(
            io.StringIO(reports.rejected_rows_csv(ws.engine, run.id).decode("utf-8-sig"))
        )
    )
    raw = list(
        csv.DictReader(
            io.StringIO(
                reports.rejected_rows_csv(ws.engine, run.id, safe=False).decode("utf-8-sig")
            )
        )
    )
    assert safe[0]["phone"] == "'+15280502514"
    assert raw[0]["phone"] == "+15280502514"


def test_errors_name_scopes_as_marketing_cloud_labels_them():
    from sfmc.errors import SfmcAuthError
    from ui.errors import error_help

    exc = SfmcAuthError("give the Installed Package the data_extensions_write scope.", kind="scope")
    shown = error_help(exc)
    assert "Data Extensions: Write" in shown
    assert "data_extensions_write" not in shown


def test_a_run_of_a_second_pathway_on_an_owned_data_extension_is_refused(workspace):
    """Pathways made before the wizard refused sharing: the run stops before sending."""
    from store.pathways import create_pathway
    from sync.run_store import load_run_context
    from sync.types import SetupError

    ws = workspace
    with Session(ws.engine) as session:
        first = create_pathway(
            ws.audience["id"], ws.connection["id"], "All", "shared_key", session=session
        ).id
        second = create_pathway(
            ws.audience["id"], ws.connection["id"], "Monthly", "SHARED_KEY", method="mirror",
            session=session,
        ).id  # fmt: skip
    owner_run = queue.enqueue_run(ws.engine, first, "manual")
    assert load_run_context(ws.engine, owner_run.id).pathway.id == first
    run = queue.enqueue_run(ws.engine, second, "manual")
    with pytest.raises(SetupError, match="belongs to the earlier pathway 'All'") as caught:
        load_run_context(ws.engine, run.id)
    assert caught.value.kind == "de_owned"
    assert caught.value.detail == {"owner_pathway_id": first}
