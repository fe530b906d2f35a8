"""Incremental re-syncs skip unchanged rows in SQL: only new, changed or refused rows are read.

Real simulator over HTTP, real SQLite store; the rows the store hands to the engine are
recorded by wrapping `store.audience_rows.iter_rows` (the real function runs).
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from store import audience_rows
from store.audiences import update_audience
from store.models import Audience, DataSet, Pathway
from store.pathways import set_mapping
from store.queue import enqueue_run, get_run
from tests.engine.conftest import point_pathway_at, set_faults, text_mapping
from tests.engine.test_push_e2e import de_key, people, rejected, run, table


def data_table(engine, pathway_id: int) -> str:
    with Session(engine) as session:
        pathway = session.get(Pathway, pathway_id)
        ds = session.get(DataSet, session.get(Audience, pathway.audience_id).dataset_id)
        return ds.table_name


def update_rows(engine, pathway_id: int, assignments: str, where: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(f'UPDATE "{data_table(engine, pathway_id)}" SET {assignments} WHERE {where}')
        )


@pytest.fixture
def reads(monkeypatch) -> dict[str, list[int]]:
    """`_row`s the store yields per kind of read: "changed" (incremental) or "all"."""
    seen: dict[str, list[int]] = {"changed": [], "all": []}
    real = audience_rows.iter_rows

    def spy(*args: Any, **kwargs: Any):
        kind = "changed" if kwargs.get("row_filter") is not None else "all"
        for chunk in real(*args, **kwargs):
            if kwargs.get("columns") is None:  # not the key-only pre-pass
                seen[kind].extend(r["_row"] for r in chunk)
            yield chunk

    monkeypatch.setattr(audience_rows, "iter_rows", spy)
    return seen


def expected_de(rows: list[dict[str, str]], bad: set[int]) -> dict[str, dict[str, str]]:
    return {
        r["email"].lower(): {"Email": r["email"], "Name": r["name"], "City": r["city"]}
        for i, r in enumerate(rows)
        if i not in bad
    }


def test_resync_reads_and_sends_only_changed_and_refused_rows(engine, sim, make_pathway, reads):
    rows = people(40)
    rows[4]["email"] = "not-an-email"  # refused by preflight: read again every time
    rows[9]["email"] = "USER8@example.org"  # DuplicateKey of row 8 (index 8 = _row 9)
    pid = make_pathway(rows)
    first, _ = run(engine, pid)
    assert first.state == "succeeded", first.error
    assert (first.rows_succeeded, first.rows_failed) == (38, 2)
    assert len(reads["all"]) == 40
    assert not reads["changed"]

    # Nothing changed: only the two refused rows are read.
    reads["all"].clear()
    again, _ = run(engine, pid)
    assert sorted(reads["changed"]) == [5, 10]
    assert not reads["all"]
    assert (again.rows_sent, again.rows_skipped, again.rows_failed) == (0, 38, 2)
    assert again.rows_read == again.rows_total == 40

    # Change three rows (_row 3, 21 and 31): one new name, one new key, one taking the key of
    # an earlier unchanged row (a duplicate, as a full pass would say).
    reads["changed"].clear()
    update_rows(engine, pid, "name = 'changed'", "_row = 3")
    update_rows(engine, pid, "email = 'moved@example.org'", "_row = 21")
    update_rows(engine, pid, "email = 'User1@example.org'", "_row = 31")
    third, _ = run(engine, pid)
    assert third.state == "succeeded", third.error
    assert sorted(reads["changed"]) == [3, 5, 10, 21, 31]
    assert (third.rows_sent, third.rows_failed, third.rows_skipped) == (2, 3, 35)
    assert third.rows_total == third.rows_read == 40
    expected = expected_de(rows, {4, 9})  # Upsert never deletes: old keys stay
    expected["user2@example.org"]["Name"] = "changed"
    expected["moved@example.org"] = {**expected["user20@example.org"], "Email": "moved@example.org"}
    assert table(sim, de_key(engine, pid)) == expected
    dup = [r for r in rejected(engine, third.id) if r.row_values["email"] == "User1@example.org"]
    assert [r.error_type for r in dup] == ["DuplicateKey"]

    # The same again reads only the refused rows; a full re-send reads and sends everything.
    reads["changed"].clear()
    fourth, _ = run(engine, pid)
    assert sorted(reads["changed"]) == [5, 10, 31]
    assert fourth.rows_sent == 0
    full, _ = run(engine, pid, full_resend=True)
    assert full.rows_sent == 37
    assert len(reads["all"]) == 40


def test_unmapped_change_is_read_once_then_skipped(engine, sim, make_pathway, reads):
    rows = [{**r, "note": "n"} for r in people(12)]
    pid = make_pathway(rows)
    with Session(engine) as session:
        set_mapping(pid, text_mapping(["email", "name", "city"]), session=session)
    run(engine, pid)
    update_rows(engine, pid, "note = 'other'", "_row IN (2, 5)")
    second, _ = run(engine, pid)
    assert sorted(reads["changed"]) == [2, 5]
    assert (second.rows_sent, second.rows_skipped) == (0, 12)  # same mapped values
    reads["changed"].clear()
    third, _ = run(engine, pid)
    assert reads["changed"] == []  # their new revision is in the ledger now
    assert third.rows_skipped == 12


def test_dry_run_reports_the_incremental_plan(engine, sim, make_pathway, reads):
    pid = make_pathway(people(15))
    run(engine, pid)
    update_rows(engine, pid, "name = 'changed'", "_row IN (4, 9)")
    dry, result = run(engine, pid, dry_run=True)
    assert sorted(reads["changed"]) == [4, 9]
    assert result.plan["update"] == 2
    assert result.plan["unchanged"] == 13
    real, _ = run(engine, pid)
    assert (real.rows_sent, real.rows_skipped) == (2, 13)


def test_mapping_or_filter_change_forces_a_full_pass(engine, sim, make_pathway, reads):
    rows = people(20)
    pid = make_pathway(rows)
    run(engine, pid)
    # Name now comes from the city column: every row's values change.
    mapping = text_mapping(["email", "name", "city"])
    mapping[1]["source_column"] = "city"
    with Session(engine) as session:
        set_mapping(pid, mapping, session=session)
    reads["all"].clear()
    second, _ = run(engine, pid)
    assert second.state == "succeeded", second.error
    assert len(reads["all"]) == 20  # the ledger's source rows were forgotten
    assert second.rows_sent == 20
    got = table(sim, de_key(engine, pid))
    assert got == {
        r["email"]: {"Email": r["email"], "Name": r["city"], "City": r["city"]} for r in rows
    }
    # A filter change: every row is read once (values unchanged: nothing sent), then skipped.
    with Session(engine) as session:
        audience_id = session.get(Pathway, pid).audience_id
        update_audience(
            audience_id,
            session=session,
            filters=[{"column": "city", "op": "not_equals", "value": "City 3"}],
        )
    reads["all"].clear()
    third, _ = run(engine, pid)
    assert len(reads["all"]) == 15
    assert (third.rows_sent, third.rows_skipped) == (0, 15)
    reads["changed"].clear()
    fourth, _ = run(engine, pid)
    assert reads["changed"] == []
    assert fourth.rows_skipped == 15


def test_killed_incremental_run_resumes_without_loss(env, engine, make_pathway):
    import signal

    from simulator import SimulatorConfig, start_simulator
    from tests.engine.test_resume_kill import ROOT, _worker

    config = SimulatorConfig(latency_ms=0, soap_latency_ms=0, async_rows_per_s=2_000, rate_limit=0)
    with start_simulator(config) as slow:
        rows = people(6_000)
        rows[10]["email"] = "broken-10"
        pid = make_pathway(rows)
        key = point_pathway_at(engine, pid, slow.auth_uri)
        worker_env = {**os.environ, "DATABASE_URL": str(engine.url), "PYTHONPATH": str(ROOT)}
        enqueue_run(engine, pid)
        assert _worker(worker_env, "--exit-when-idle").wait(timeout=120) == 0
        # Every 3rd row changes: 2,000 rows to send, killed after the first checkpoint.
        update_rows(engine, pid, "name = 'again-' || name", "_row % 3 = 0")
        again = enqueue_run(engine, pid)
        first = _worker(worker_env, "--worker-id", "doomed")
        try:
            deadline = time.monotonic() + 60
            while get_run(engine, again.id).checkpoint.get("row", 0) <= 0:
                assert time.monotonic() < deadline, "no checkpoint"
                time.sleep(0.02)
            os.kill(first.pid, signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            if first.poll() is None:
                first.kill()
        killed = get_run(engine, again.id)
        assert killed.state == "running"
        assert 0 < killed.checkpoint["row"] < 6_000
        time.sleep(1.2)
        second = _worker(
            worker_env, "--worker-id", "rescuer", "--stale-after", "1", "--exit-when-idle"
        )
        assert second.wait(timeout=120) == 0
        done = get_run(engine, again.id)
        assert done.state == "succeeded", done.error
        for i, r in enumerate(rows):
            if (i + 1) % 3 == 0:
                r["name"] = "again-" + r["name"]
        assert table(slow, key) == expected_de(rows, {10})
        # Every audience row is accounted for exactly once across the two workers.
        assert done.rows_read == done.rows_total == 6_000
        assert done.rows_succeeded + done.rows_failed + done.rows_skipped == 6_000
        assert done.rows_failed == 1
        assert done.rows_succeeded == 2_000  # the changed rows, each counted once


def _refusals(engine, pathway_id: int) -> dict[int, tuple[int, str]]:
    from store.models import PreflightRefusal

    with Session(engine) as session:
        found = session.exec(
            select(PreflightRefusal).where(PreflightRefusal.pathway_id == pathway_id)
        ).all()
        return {r.source_row: (r.source_rev, r.error_type) for r in found}


def _rejects(engine, run_id: int) -> list[tuple[str, str, str | None, str]]:
    return sorted(
        (r.row_values["email"], r.error_type, r.field, r.error_details)
        for r in rejected(engine, run_id)
    )


def test_rows_preflight_refused_are_not_checked_again_but_stay_rejected(
    engine, sim, make_pathway, reads, monkeypatch
):
    from sync.preflight import Preflight

    checked: list[object] = []
    real_check = Preflight.check

    def spy(self, values, *args):
        checked.append(values.get("Email"))
        return real_check(self, values, *args)

    monkeypatch.setattr(Preflight, "check", spy)
    rows = people(30)
    rows[4]["email"] = "not-an-email"  # InvalidEmailAddress: remembered (_row 5)
    rows[6]["name"] = "x" * 25  # MaxLengthExceeded (Text(20)): remembered (_row 7)
    rows[9]["email"] = "USER8@example.org"  # DuplicateKey: depends on row 9, checked again
    pid = make_pathway(rows)
    first, _ = run(engine, pid)
    assert (first.rows_succeeded, first.rows_failed) == (27, 3)
    assert _refusals(engine, pid) == {5: (0, "InvalidEmailAddress"), 7: (0, "MaxLengthExceeded")}

    # Nothing changed: the two remembered rows are not checked again, yet the run's rejected
    # rows are the same records (copied in SQL) and the counts add up.
    checked.clear()
    again, _ = run(engine, pid)
    assert again.state == "succeeded", again.error
    assert "not-an-email" not in checked
    assert "user6@example.org" not in checked
    assert 10 in reads["changed"]  # the duplicate is read and found duplicate again
    assert _rejects(engine, again.id) == _rejects(engine, first.id)
    assert {r.run_id for r in rejected(engine, again.id)} == {again.id}
    assert (again.rows_sent, again.rows_skipped, again.rows_failed) == (0, 27, 3)
    assert again.rows_read == again.rows_total == 30

    # The bad email is fixed (a new revision): checked and sent. Another row turns bad: it is
    # refused and remembered at its new revision. The long name is unchanged: still copied.
    update_rows(engine, pid, "email = 'fixed@example.org'", "_row = 5")
    update_rows(engine, pid, "email = 'broken'", "_row = 12")
    checked.clear()
    third, _ = run(engine, pid)
    assert third.state == "succeeded", third.error
    assert "fixed@example.org" in checked
    assert "broken" in checked
    assert "user6@example.org" not in checked
    assert (third.rows_sent, third.rows_failed) == (1, 3)
    assert third.rows_succeeded + third.rows_failed + third.rows_skipped == 30
    assert {row: t for row, (_, t) in _refusals(engine, pid).items() if row != 5} == {
        7: "MaxLengthExceeded",
        12: "InvalidEmailAddress",
    }
    assert {e for e, *_ in _rejects(engine, third.id)} == {
        "broken",
        "user6@example.org",
        "USER8@example.org",
    }
    expected = expected_de(rows, {4, 6, 9})
    expected["fixed@example.org"] = {**expected_de(rows, set())["not-an-email"]}
    expected["fixed@example.org"]["Email"] = "fixed@example.org"
    # Upsert never deletes: user11 (now "broken" in the store) stays in the DE.
    assert table(sim, de_key(engine, pid)) == expected

    # A mapping change forgets the refusals: every row is checked again.
    mapping = text_mapping(["email", "name", "city"])
    mapping[1]["length"] = 40  # the DE's Name stays Text(20): the long name is still refused
    with Session(engine) as session:
        set_mapping(pid, mapping, session=session)
    checked.clear()
    fourth, _ = run(engine, pid)
    assert fourth.state == "succeeded", fourth.error
    assert "user6@example.org" in checked
    assert {e for e, *_ in _rejects(engine, fourth.id)} == {
        "broken",
        "user6@example.org",
        "USER8@example.org",
    }


def test_rows_sfmc_refused_are_retried(engine, sim, make_pathway):
    set_faults(sim, deadlock_rate=0.5)
    pid = make_pathway(people(30))
    first, _ = run(engine, pid)
    failed = {r.row_values["email"] for r in rejected(engine, first.id)}
    assert failed, "expected some rows to fail twice"
    assert _refusals(engine, pid) == {}  # SFMC's refusals are not remembered
    set_faults(sim, deadlock_rate=0.0)
    second, _ = run(engine, pid)
    assert second.state == "succeeded", second.error
    assert second.rows_failed == 0
    assert second.rows_sent == len(failed)
    assert set(table(sim, de_key(engine, pid))) == {r["email"] for r in people(30)}
