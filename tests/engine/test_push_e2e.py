"""Each method of sync end to end: real simulator over HTTP, real SQLite store, row by row."""

from __future__ import annotations

from sqlmodel import Session, select

from sfmc.push import PushOptions, run_pathway
from sfmc.worker import default_client_factory
from store import runs
from store.models import Pathway, RejectedRow
from tests.engine.conftest import set_faults, sim_rows

SMALL = PushOptions(batch_rows=7, in_flight=3, max_requests_per_s=0)


def people(n: int, start: int = 0, tag: str = "v1") -> list[dict[str, str]]:
    return [
        {"email": f"user{i}@example.org", "name": f"{tag}-{i}", "city": f"City {i % 4}"}
        for i in range(start, start + n)
    ]


def run(engine, pathway_id: int, **kwargs):
    queued = runs.enqueue_run(engine, pathway_id, "manual", **kwargs)
    result = run_pathway(
        engine, queued.id, client_factory=default_client_factory, options=SMALL, chunk_size=10
    )
    return runs.get_run(engine, queued.id), result


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
