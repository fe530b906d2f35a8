"""Each method of sync end to end: real simulator over HTTP, real SQLite store, row by row."""

from __future__ import annotations

from sqlmodel import Session, select

from store.models import Pathway, RejectedRow
from store.queue import claim_next_run, enqueue_run, get_run, request_cancel
from store.status import pathway_status
from sync.runner import run_pathway
from sync.types import PushOptions
from sync.worker import default_client_factory
from tests.engine.conftest import point_pathway_at, set_faults, sim_rows

SMALL = PushOptions(batch_rows=7, in_flight=3, max_requests_per_s=0)


def people(n: int, start: int = 0, tag: str = "v1") -> list[dict[str, str]]:
    return [
        {"email": f"user{i}@example.org", "name": f"{tag}-{i}", "city": f"City {i % 4}"}
        for i in range(start, start + n)
    ]


def run(engine, pathway_id: int, **kwargs):
    queued = enqueue_run(engine, pathway_id, "manual", **kwargs)
    result = run_pathway(
        engine, queued.id, client_factory=default_client_factory, options=SMALL, chunk_size=10
    )
    return get_run(engine, queued.id), result


def de_key(engine, pathway_id: int) -> str:
    with Session(engine) as session:
        return session.get(Pathway, pathway_id).de_customer_key


def table(sim, key: str) -> dict[str, dict[str, str]]:
    return {r["Email"].lower(): dict(r) for r in sim_rows(sim, key)}


def rejected(engine, run_id: int) -> list[RejectedRow]:
    with Session(engine) as session:
        return list(session.exec(select(RejectedRow).where(RejectedRow.run_id == run_id)).all())


def test_upsert_creates_de_and_writes_every_good_row(engine, sim, make_pathway):
    rows = people(30)
    rows[3]["email"] = "not-an-email"  # preflight: InvalidEmailAddress
    rows[5]["name"] = "x" * 25  # preflight: MaxLengthExceeded (Text(20))
    rows[8]["email"] = "USER7@example.org"  # preflight: DuplicateKey of row 7 (case-insensitive)
    pid = make_pathway(rows)
    done, result = run(engine, pid)
    assert done.state == "succeeded", done.error
    key = de_key(engine, pid)
    got = table(sim, key)
    expected = {
        r["email"].lower(): {"Email": r["email"], "Name": r["name"], "City": r["city"]}
        for i, r in enumerate(rows)
        if i not in (3, 5, 8)
    }
    assert got == expected
    rej = {(r.row_values["email"], r.error_type, r.field) for r in rejected(engine, done.id)}
    assert rej == {
        ("not-an-email", "InvalidEmailAddress", "Email"),
        ("user5@example.org", "MaxLengthExceeded", "Name"),
        ("USER7@example.org", "DuplicateKey", "Email"),
    }
    assert (done.rows_succeeded, done.rows_failed, done.rows_read) == (27, 3, 30)
    assert done.api_calls > 0
    assert done.checkpoint["row"] == 30


def test_upsert_records_rows_the_simulator_rejects(engine, sim, make_pathway):
    set_faults(sim, deadlock_rate=0.5)
    rows = people(40)
    pid = make_pathway(rows)
    done, _ = run(engine, pid)
    assert done.state == "succeeded", done.error
    rej = rejected(engine, done.id)
    # Deadlocks are retried once: with 50% per try, some rows fail twice and are recorded.
    assert rej, "expected some rows to fail twice"
    assert all("Rerun the transaction" in r.error_details and r.retryable for r in rej)
    failed = {r.row_values["email"] for r in rej}
    got = table(sim, de_key(engine, pid))
    assert set(got) == {r["email"] for r in rows} - failed
    assert done.rows_succeeded + done.rows_failed == 40


def test_mirror_deletes_rows_not_in_audience_and_guard_needs_confirm(engine, sim, make_pathway):
    pid = make_pathway(people(20), method="mirror")
    first, _ = run(engine, pid)
    assert first.state == "succeeded", first.error
    key = de_key(engine, pid)
    assert len(table(sim, key)) == 20
    # Shrink the audience to 12 rows (8 leave = 40% of the DE: under the 50% guard).
    with Session(engine) as session:
        p = session.get(Pathway, pid)
        aud = p.audience_id
    from store.audiences import update_audience

    with Session(engine) as session:
        update_audience(
            aud,
            filters=[
                {
                    "column": "email",
                    "op": "not_in",
                    "value": [f"user{i}@example.org" for i in range(12, 20)],
                }
            ],
            session=session,
        )
    second, _ = run(engine, pid)
    assert second.state == "succeeded", second.error
    assert second.rows_deleted == 8
    assert set(table(sim, key)) == {f"user{i}@example.org" for i in range(12)}
    # Now keep only 3: deleting 9 of 12 (75%) is over the guard.
    with Session(engine) as session:
        update_audience(
            aud,
            filters=[
                {"column": "email", "op": "in", "value": [f"user{i}@example.org" for i in range(3)]}
            ],
            session=session,
        )
    third, _ = run(engine, pid)
    assert third.state == "needs_confirm"
    assert third.plan["delete"] == 9
    assert "9 of the 12" in third.message
    assert len(table(sim, key)) == 12  # nothing changed
    assert pathway_status(engine, pid).status == "Error"
    fourth, _ = run(engine, pid, confirm_deletes=True)
    assert fourth.state == "succeeded", fourth.error
    assert set(table(sim, key)) == {f"user{i}@example.org" for i in range(3)}


def test_append_inserts_only_new_keys_and_skips_existing(engine, sim, make_pathway):
    pid = make_pathway(people(10, tag="old"), method="append")
    first, _ = run(engine, pid)
    assert first.state == "succeeded", first.error
    key = de_key(engine, pid)
    # A new data set version: 10 known rows with changed names + 5 new rows.
    new_rows = people(15, tag="new")
    pid2 = _same_de_pathway(engine, make_pathway, new_rows, key, "append")
    second, _ = run(engine, pid2)
    assert second.state == "succeeded", second.error
    got = table(sim, key)
    assert {e: r["Name"] for e, r in got.items()} == {
        f"user{i}@example.org": (f"old-{i}" if i < 10 else f"new-{i}") for i in range(15)
    }
    assert (second.rows_succeeded, second.rows_skipped, second.rows_failed) == (5, 10, 0)


def _same_de_pathway(engine, make_pathway, rows, key, method):
    return make_pathway(rows, method=method, key=key)


def test_update_only_updates_existing_and_reports_not_found(engine, sim, make_pathway):
    pid = make_pathway(people(6, tag="old"))
    first, _ = run(engine, pid)
    key = de_key(engine, pid)
    pid2 = _same_de_pathway(engine, make_pathway, people(9, tag="new"), key, "update_only")
    second, _ = run(engine, pid2)
    assert second.state == "succeeded", second.error
    got = table(sim, key)
    assert {e: r["Name"] for e, r in got.items()} == {
        f"user{i}@example.org": f"new-{i}" for i in range(6)
    }
    rej = rejected(engine, second.id)
    assert sorted(r.row_values["email"] for r in rej) == [f"user{i}@example.org" for i in (6, 7, 8)]
    assert {r.error_type for r in rej} == {"NotFound"}
    assert (second.rows_succeeded, second.rows_failed) == (6, 3)


def test_update_only_refuses_unmatched_keys_locally_and_bounds_batches(
    engine, sim, make_pathway, monkeypatch
):
    """An unmatched key is NotFound whatever its values; nothing is lost; batches stay small.

    Batches are closed after `batch_rows` audience rows, not only rows to send: here 3 of 16
    rows are sent, so a batch closed by rows to send alone would hold all 16.
    """
    pid = make_pathway(people(3, tag="old"))
    run(engine, pid)
    key = de_key(engine, pid)
    rows = people(3, tag="new") + people(10, start=3)
    rows[1]["name"] = "x" * 25  # matched, own value wrong: MaxLengthExceeded
    rows[4]["name"] = "y" * 25  # unmatched: NotFound all the same
    rows.append({"email": "USER2@example.org", "name": "dup", "city": "C"})  # matched duplicate
    rows.append({"email": "user5@example.org", "name": "dup", "city": "C"})  # unmatched duplicate
    rows.append({"email": "", "name": "no key", "city": "C"})  # no key: said so
    pid2 = _same_de_pathway(engine, make_pathway, rows, key, "update_only")
    dry, _ = run(engine, pid2, dry_run=True)
    assert (dry.plan["update"], dry.plan["create"], dry.plan["reject"]) == (2, 0, 14)
    import sync.push

    held: list[int] = []
    add = sync.push.Pipeline.add
    monkeypatch.setattr(
        sync.push.Pipeline, "add", lambda self, batch: (held.append(batch.n_rows), add(self, batch))
    )
    done, _ = run(engine, pid2)
    assert done.state == "succeeded", done.error
    assert max(held) <= SMALL.batch_rows
    assert sum(held) == len(rows)
    assert table(sim, key) == {
        "user0@example.org": {"Email": "user0@example.org", "Name": "new-0", "City": "City 0"},
        "user1@example.org": {"Email": "user1@example.org", "Name": "old-1", "City": "City 1"},
        "user2@example.org": {"Email": "user2@example.org", "Name": "new-2", "City": "City 2"},
    }
    got = sorted((r.row_values["email"] or "", r.error_type) for r in rejected(engine, done.id))
    unmatched = [(f"user{i}@example.org", "NotFound") for i in (3, 4, 5, 5, *range(6, 13))]
    assert [g for g in got if g[0]] == sorted(
        [("USER2@example.org", "DuplicateKey"), ("user1@example.org", "MaxLengthExceeded")]
        + unmatched
    )
    assert got[0][0] == ""
    assert got[0][1] != "NotFound"  # a missing key is named as such
    assert (done.rows_succeeded, done.rows_failed) == (2, 14)


def test_dry_run_reports_plan_and_writes_nothing(engine, sim, make_pathway):
    pid = make_pathway(people(8))
    first, _ = run(engine, pid)
    key = de_key(engine, pid)
    rows = people(12, tag="v2")
    rows[11]["email"] = "broken"
    pid2 = _same_de_pathway(engine, make_pathway, rows, key, "mirror")
    before = table(sim, key)
    dry, _ = run(engine, pid2, dry_run=True)
    assert dry.state == "succeeded", dry.error
    assert table(sim, key) == before
    plan = dry.plan
    assert (plan["create"], plan["update"], plan["delete"], plan["reject"]) == (3, 8, 0, 1)
    assert plan["rejects"][0]["error_type"] == "InvalidEmailAddress"
    assert plan["de_exists"] is True
    # A dry run on a pathway whose DE does not exist yet creates nothing either.
    pid3 = make_pathway(people(4))
    dry3, _ = run(engine, pid3, dry_run=True)
    assert dry3.plan["create"] == 4
    assert dry3.plan["de_exists"] is False
    assert sim.state.get_de(de_key(engine, pid3)) is None


def test_incremental_resync_sends_only_changed_rows(engine, sim, make_pathway):
    pid = make_pathway(people(10))
    first, _ = run(engine, pid)
    assert first.rows_succeeded == 10
    again, _ = run(engine, pid)
    assert (again.rows_sent, again.rows_skipped) == (0, 10)
    # Change two rows in the data set behind the audience.
    with Session(engine) as session:
        from store.models import Audience, DataSet

        ds = session.get(
            DataSet, session.get(Audience, session.get(Pathway, pid).audience_id).dataset_id
        )
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(
            text(
                f"UPDATE \"{ds.table_name}\" SET name = 'changed' WHERE email IN ('user1@example.org', 'user2@example.org')"
            )
        )
    third, _ = run(engine, pid)
    assert (third.rows_sent, third.rows_skipped) == (2, 8)
    got = table(sim, de_key(engine, pid))
    assert got["user1@example.org"]["Name"] == "changed"
    full, _ = run(engine, pid, full_resend=True)
    assert full.rows_sent == 10


def test_cancel_stops_between_batches(engine, sim, make_pathway):
    pid = make_pathway(people(60))
    queued = enqueue_run(engine, pid)
    claim_next_run(engine, "w")
    seen = []

    def stop_after_first(progress):
        seen.append(progress)
        if len(seen) == 1:
            request_cancel(engine, queued.id)

    run_pathway(
        engine,
        queued.id,
        client_factory=default_client_factory,
        worker_id="w",
        options=SMALL,
        chunk_size=10,
        on_progress=stop_after_first,
    )
    done = get_run(engine, queued.id)
    assert done.state == "cancelled"
    stored = len(sim_rows(sim, de_key(engine, pid)))
    assert 0 < stored < 60
    assert done.rows_succeeded == stored


def test_request_sfmc_never_finishes_fails_the_run_with_advice(engine, make_pathway):
    from simulator import SimulatorConfig, start_simulator

    config = SimulatorConfig(latency_ms=0, soap_latency_ms=0, async_rows_per_s=0.5, rate_limit=0)
    with start_simulator(config) as stuck:
        pid = make_pathway(people(5))
        point_pathway_at(engine, pid, stuck.auth_uri)
        queued = enqueue_run(engine, pid)
        options = PushOptions(status_timeout=0.5, max_requests_per_s=0)
        run_pathway(engine, queued.id, client_factory=default_client_factory, options=options)
    done = get_run(engine, queued.id)
    assert done.state == "failed"
    assert "has not finished async request" in done.error
    assert "run the sync again later" in done.error
