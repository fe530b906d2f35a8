"""Bad column mappings: refused before anything is written, or rejected per row with the reason."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlmodel import Session, select

from simulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from store.audiences import create_audience
from store.connections import create_connection
from store.datasets import get_dataset_by_name
from store.importer import import_file
from store.models import ColumnMapping, RejectedRow
from store.pathways import create_pathway, set_mapping
from store.queue import enqueue_run, get_run
from sync.runner import run_pathway
from sync.worker import default_client_factory
from tests.badinput.conftest import sim_des

CSV = b"email,name,joined,amount\nann@example.org,Ann,2024-01-31,12.5\nbob@example.org,Bob,2023-12-01,abc\n"


def col(source: str, dest: str, ftype: str = "Text", **extra: Any) -> dict[str, Any]:
    return {"source_column": source, "destination_field": dest, "field_type": ftype, **extra}


EMAIL_PK = col("email", "Email", "EmailAddress", length=254, is_primary_key=True, required=True)


def make_pathway(engine, sim, mapping: list[dict[str, Any]]) -> tuple[int, str]:
    tag = uuid.uuid4().hex[:8]
    import_file(engine, CSV, name=f"ds {tag}", filename="d.csv")
    with Session(engine) as session:
        ds = get_dataset_by_name(f"ds {tag}", session=session)
        audience = create_audience(f"aud {tag}", ds.id, session=session)
        conn = create_connection(
            f"c {tag}", sim.auth_uri, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, session=session
        )
        key = f"bad_{tag}"
        pathway = create_pathway(
            audience.id, conn.id, f"Bad {tag}", key, session=session, category_id=1000
        )
        set_mapping(pathway.id, mapping, session=session)
        return pathway.id, key


def run(engine, pathway_id: int):
    queued = enqueue_run(engine, pathway_id, "manual")
    run_pathway(engine, queued.id, client_factory=default_client_factory)
    return get_run(engine, queued.id)


REFUSED = {
    "no primary key": (
        [col("email", "Email", "EmailAddress", length=254), col("name", "Name", length=50)],
        ("No mapped column is marked as primary key", "mark the column"),
    ),
    "date primary key": (
        [col("joined", "Joined", "Date", is_primary_key=True, required=True)],
        ("Date",),
    ),
    "text longer than SFMC allows": (
        [EMAIL_PK, col("name", "Name", length=5000)],
        ("4000",),
    ),
    "unknown source column": (
        [EMAIL_PK, col("no_such_column", "Ghost", length=50)],
        ("no_such_column",),
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_unusable_mapping_fails_the_run_with_the_fix_and_leaves_sfmc_untouched(engine, sim, case):
    mapping, says = REFUSED[case]
    pid, key = make_pathway(engine, sim, mapping)
    done = run(engine, pid)
    assert done.state == "failed"
    for text in says:
        assert text in done.error, done.error
    assert "Traceback" not in done.error
    assert key not in {d["customerKey"] for d in sim_des(sim)}  # no DE created half-way


def test_two_fields_with_one_name_are_refused_and_the_old_mapping_kept(engine, sim):
    pid, _ = make_pathway(engine, sim, [EMAIL_PK, col("name", "Name", length=50)])
    bad = [EMAIL_PK, col("name", "Name", length=50), col("joined", "name", length=20)]
    with Session(engine) as session, pytest.raises(ValueError, match="is mapped twice; keep one"):
        set_mapping(pid, bad, session=session)
    with Session(engine) as session:
        kept = session.exec(select(ColumnMapping).where(ColumnMapping.pathway_id == pid)).all()
    assert [m.destination_field for m in kept] == ["Email", "Name"]


def test_type_that_cannot_hold_the_data_rejects_those_rows_with_field_and_reason(engine, sim):
    mapping = [EMAIL_PK, col("amount", "Amount", "Decimal", precision=10, scale=2)]
    pid, key = make_pathway(engine, sim, mapping)
    done = run(engine, pid)
    assert done.state == "succeeded", done.error
    with Session(engine) as session:
        rejected = session.exec(select(RejectedRow).where(RejectedRow.run_id == done.id)).all()
    assert [(r.row_values["email"], r.field, r.error_type) for r in rejected] == [
        ("bob@example.org", "Amount", "InvalidDecimal")
    ]
    assert "abc" in rejected[0].error_details or "decimal" in rejected[0].error_details.lower()
    assert (done.rows_succeeded, done.rows_failed) == (1, 1)
