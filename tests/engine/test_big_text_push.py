"""Long text through the real engine, the real client and the in-process simulator, row by row."""

from __future__ import annotations

from typing import Any

import requests
from sqlmodel import Session

from store.models import Pathway
from store.queue import enqueue_run, get_run
from sync.runner import run_pathway
from sync.types import PushOptions
from sync.worker import default_client_factory
from tests.engine.conftest import sim_rows

# Large batches (the engine's default byte cap), no request pacing: the rows decide the size.
OPTIONS = PushOptions(max_requests_per_s=0)
TEXT_LEN = 4000
COLUMNS = ("email", "note", "tag")


def cjk_text(i: int) -> str:
    """About 4,000 CJK characters (3 bytes each in UTF-8, 6 when JSON-escaped as \\uXXXX)."""
    base = "".join(chr(0x4E00 + (i * 7 + j) % 20_000) for j in range(64))
    return (f"{i}:" + base * 63)[: TEXT_LEN - 5]


def mapping() -> list[dict[str, Any]]:
    return [
        {
            "ordinal": i,
            "source_column": col,
            "destination_field": col.title(),
            "field_type": "EmailAddress" if col == "email" else "Text",
            "length": 254 if col == "email" else TEXT_LEN,
            "precision": None,
            "scale": None,
            "required": col == "email",
            "is_primary_key": col == "email",
        }
        for i, col in enumerate(COLUMNS)
    ]


def push_and_compare(engine, sim, make_pathway, rows: list[dict[str, str]]) -> None:
    """Run a full push and check that the DE holds exactly `rows`, each once, as written."""
    pid = make_pathway(rows, mapping=mapping())
    queued = enqueue_run(engine, pid, "manual")
    run_pathway(engine, queued.id, client_factory=default_client_factory, options=OPTIONS)
    done = get_run(engine, queued.id)
    assert done.state == "succeeded", done.error
    assert (done.rows_succeeded, done.rows_failed) == (len(rows), 0)
    with Session(engine) as session:
        key = session.get(Pathway, pid).de_customer_key
    got = sim_rows(sim, key)
    assert len(got) == len(rows)
    expected = {r["email"]: {"Email": r["email"], "Note": r["note"], "Tag": r["tag"]} for r in rows}
    assert {r["Email"]: r for r in got} == expected


def row_submits(running) -> int:
    stats = requests.get(f"{running.base_url}/_sim/stats", timeout=10).json()
    return stats["by_endpoint"].get("PUT async rows", 0)


def test_long_cjk_rows_fit_the_async_byte_cap(engine, sim, make_pathway):
    """Bug: oversized async batches with long non-ASCII text.

    The engine sizes a batch with a UTF-8 byte estimate, but the body was sent with every
    non-ASCII character escaped (`\\uXXXX`, 6 bytes for a 3-byte CJK character), so ~290 rows of
    4,000 CJK characters estimated at 3.5 MB became a 7 MB body and `submit_rows` failed the
    whole run. Bodies are UTF-8 now: every row arrives, once, exactly as written.
    """
    rows = [
        {"email": f"user{i}@example.org", "note": cjk_text(i), "tag": f"标签{i}"}
        for i in range(400)
    ]
    push_and_compare(engine, sim, make_pathway, rows)


def test_batch_whose_escaped_json_exceeds_the_cap_is_split_not_failed(engine, sim, make_pathway):
    """Bug: oversized async batches when JSON escaping outgrows the engine's byte estimate.

    Quotes and backslashes take 2 bytes in JSON but 1 in the estimate: the first batch (500
    rows of ~4,000 such characters, estimated at 2 MB) encodes to more than 4 MB. The sender now
    splits it in halves instead of failing; nothing is lost or sent twice.
    """
    rows = [
        {"email": f"user{i}@example.org", "note": f"{i}:" + '"\\' * 1_995, "tag": f"t{i}"}
        for i in range(600)
    ]
    push_and_compare(engine, sim, make_pathway, rows)
    assert row_submits(sim) >= 3  # 500 rows split in two, then the last 100
