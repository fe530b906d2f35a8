"""Dates the importer read are the dates a push sends (the "Monthly givers" InvalidDate bug)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, select

from simulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from store.audiences import create_audience
from store.connections import create_connection
from store.datasets import get_dataset_by_name
from store.demo import DEMO_AUDIENCES, DONOR_COLUMNS, donor_rows
from store.importer import import_file
from store.models import RejectedRow
from store.pathways import create_pathway, set_mapping
from store.queue import enqueue_run, get_run
from sync.mapping import suggest_mapping
from sync.runner import run_pathway
from sync.types import PushOptions
from sync.worker import default_client_factory
from tests.engine.conftest import ROOT_FOLDER, sim_rows

SMALL = PushOptions(batch_rows=50, in_flight=2, max_requests_per_s=0)
# The formats the demo generator writes `donor_since` in (store/demo.py).
_DEMO_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%d %b %Y", "%Y/%m/%d")


def _true_date(text: str) -> date:
    for fmt in _DEMO_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()  # a calendar date
        except ValueError:
            continue
    msg = f"not a demo date: {text!r}"
    raise AssertionError(msg)


def _true_date_format(text: str) -> str:
    for fmt in _DEMO_FORMATS:
        try:
            datetime.strptime(text, fmt)
        except ValueError:
            continue
        return fmt
    return "?"


def _push(engine, sim, header: list[str], rows: list[list[str]], *, filters, key_column: str):
    """Import rows as a data set, push the audience with the suggested mapping; run + DE rows."""
    tag = uuid.uuid4().hex[:8]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    import_file(engine, out.getvalue().encode(), name=f"ds_{tag}", filename=f"{tag}.csv")
    with Session(engine) as session:
        ds = get_dataset_by_name(f"ds_{tag}", session=session)
        assert ds is not None
        audience = create_audience(f"aud_{tag}", ds.id, filters=filters, session=session)
        conn = create_connection(
            f"conn_{tag}", sim.auth_uri, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, session=session
        )
        mapping = suggest_mapping(ds.columns, primary_key=key_column)
        pathway = create_pathway(
            audience.id,
            conn.id,
            f"AVID - {tag}",
            f"avid_dates_{tag}",
            session=session,
            method="upsert",
            category_id=ROOT_FOLDER,
            primary_keys=[m.destination_field for m in mapping if m.is_primary_key],
        )
        set_mapping(
            pathway.id,
            [{"ordinal": i, **vars(m)} for i, m in enumerate(mapping)],
            session=session,
        )
        columns = {c["name"]: c for c in ds.columns}
        key = pathway.de_customer_key
        pathway_id = pathway.id
    queued = enqueue_run(engine, pathway_id, "manual")
    run_pathway(
        engine, queued.id, client_factory=default_client_factory, options=SMALL, chunk_size=100
    )
    done = get_run(engine, queued.id)
    with Session(engine) as session:
        rejected = list(
            session.exec(select(RejectedRow).where(RejectedRow.run_id == queued.id)).all()
        )
    return done, rejected, sim_rows(sim, key), columns


def _day(value: Any) -> date:
    """The calendar day of a DE Date value, whatever way the simulator spells it."""
    text = str(value)
    for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    msg = f"unexpected Date text from the simulator: {text!r}"
    raise AssertionError(msg)


def test_monthly_givers_dates_the_importer_read_are_not_rejected(engine, sim):
    """Bug: pushing demo "Monthly givers" rejected ~52% of rows as InvalidDate.

    The importer reads `12 Mar 2021` and `2021/03/12` as dates (and filters compare them as
    dates), but the engine re-parsed the text with SFMC's narrower rules (ISO or US only) and
    refused them. Now the push sends the importer's ISO date, so no importer-typed date is
    refused and the DE holds the same day the data set means.
    """
    donors = list(donor_rows(300, seed=11))
    filters = {name: f for name, f, _modeled in DEMO_AUDIENCES}["Monthly givers"]
    done, rejected, de_rows, columns = _push(
        engine, sim, DONOR_COLUMNS, donors, filters=filters, key_column="donor_id"
    )
    assert columns["donor_since"]["type"] == "date"
    assert not columns["donor_since"].get("dayfirst")
    assert done.state == "succeeded", done.error
    assert not [r for r in rejected if r.error_type == "InvalidDate"]
    since = {d[0]: d[7] for d in donors}
    seen = {_true_date_format(t) for t in since.values()}
    assert seen == set(_DEMO_FORMATS)  # the audience holds every demo format
    assert de_rows, "nothing reached the DE"
    for row in de_rows:
        donor_id = row["donor_id"]
        assert _day(row["donor_since"]) == _true_date(since[donor_id]), donor_id


def test_day_first_columns_keep_their_order_and_non_dates_stay_invalid(engine, sim):
    """A day-first column is sent day-first; a cell the importer did not read stays InvalidDate."""
    header = ["donor_id", "joined"]
    texts = [f"{d:02d}/04/2021" for d in range(1, 13)] + ["13/02/2021", "25 Dec 2020"]
    rows = [[f"{i:04d}", t] for i, t in enumerate(texts)] + [["9999", "sometime soon"]]
    done, rejected, de_rows, columns = _push(
        engine, sim, header, rows, filters=[], key_column="donor_id"
    )
    assert columns["joined"]["type"] == "date"
    assert columns["joined"]["dayfirst"] is True
    assert done.state == "succeeded", done.error
    got = {r["donor_id"]: _day(r["joined"]) for r in de_rows}
    expected = {f"{i:04d}": date(2021, 4, i + 1) for i in range(12)}  # 03/04 is 3 April
    expected |= {"0012": date(2021, 2, 13), "0013": date(2020, 12, 25)}
    assert got == expected
    assert [(r.row_values["donor_id"], r.error_type, r.field) for r in rejected] == [
        ("9999", "InvalidDate", "joined")
    ]
    assert rejected[0].row_values["joined"] == "sometime soon"
