"""The demo's history: three pathways with real runs, so every page shows what it is for.

Made once, right after the demo's donors (`store.demo.start_demo_workspace`, in its thread):

- a clean pathway (Monthly givers keyed by donor id: every row lands);
- a pathway with rejected rows (Lapsed donors keyed by email: the donors' invalid and
  duplicate addresses are refused, each with SFMC's reason, in the rejected-rows download);
- a Mirror pathway waiting for a confirmation: its audience is narrowed after the first run,
  so the second run would delete most of the Data Extension and stops at the delete guard.

The runs are only queued here: the app's worker pushes them to the embedded simulator like any
other run (real requests, real results), and this thread waits for each one it depends on.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from store.audiences import create_audience, update_audience
from store.models import Pathway
from store.pathways import create_pathway, set_mapping
from store.queue import FINAL_STATES, enqueue_run, get_run

# The demo simulator's seeded folder "Data Extensions/Fundraising" (seed "demo"; a test keeps
# it so). Copied because store/ must not import simulator.
DEMO_FOLDER_ID = 1001
DEMO_FOLDER_PATH = "Data Extensions/Fundraising"
MIRROR_AUDIENCE = "Likely donors (score)"
MIRROR_FILTERS = ({"column": "propensity_score", "op": "greater_than", "value": "0.5"},)
NARROWED_FILTERS = ({"column": "propensity_score", "op": "greater_than", "value": "0.9"},)
RUN_WAIT_SECONDS = 600.0

_BY_DONOR_ID = [
    {"source_column": "donor_id", "destination_field": "DonorId", "field_type": "Text",
     "length": 20, "required": True, "is_primary_key": True},
    {"source_column": "first_name", "destination_field": "FirstName", "field_type": "Text",
     "length": 100},
    {"source_column": "country", "destination_field": "Country", "field_type": "Text",
     "length": 10},
]  # fmt: skip
_BY_EMAIL = [
    {"source_column": "email", "destination_field": "Email", "field_type": "EmailAddress",
     "length": 254, "required": True, "is_primary_key": True},
    {"source_column": "first_name", "destination_field": "FirstName", "field_type": "Text",
     "length": 100},
    {"source_column": "last_gift_date", "destination_field": "LastGift", "field_type": "Date"},
]  # fmt: skip
# (pathway's Data Extension name, key, audience, method, mapping, primary key)
DEMO_PATHWAYS: tuple[tuple[str, str, str, str, list[dict[str, Any]], str], ...] = (
    ("Demo monthly givers", "demo_monthly_givers", "Monthly givers", "upsert", _BY_DONOR_ID,
     "DonorId"),
    ("Demo lapsed donors", "demo_lapsed_donors", "Lapsed donors (no gift since 2023)", "upsert",
     _BY_EMAIL, "Email"),
    ("Demo likely donors", "demo_likely_donors", MIRROR_AUDIENCE, "mirror", _BY_DONOR_ID,
     "DonorId"),
)  # fmt: skip


def build_demo_history(
    engine: Engine, *, connection_id: int, dataset_id: int, audience_ids: dict[str, int]
) -> None:
    """Create the three demo pathways and queue their runs (once: skipped when they exist).

    Blocks until the Mirror's first run is done (the app's worker runs it), then narrows its
    audience and queues the run that stops at the delete guard.

    Raises:
        TimeoutError: the worker did not finish the Mirror's first run in time.
    """
    audience_ids = dict(audience_ids)
    with Session(engine) as session:
        made = select(Pathway).where(Pathway.de_customer_key == DEMO_PATHWAYS[0][1])
        if session.exec(made).first() is not None:
            return
        mirror = create_audience(MIRROR_AUDIENCE, dataset_id, list(MIRROR_FILTERS), session=session)
        assert mirror.id is not None
        mirror_id = audience_ids[MIRROR_AUDIENCE] = mirror.id
        pathway_ids = []
        for de_name, key, audience, method, mapping, primary_key in DEMO_PATHWAYS:
            pathway = create_pathway(
                audience_ids[audience],
                connection_id,
                de_name,
                key,
                session=session,
                method=method,
                category_id=DEMO_FOLDER_ID,
                category_path=DEMO_FOLDER_PATH,
                primary_keys=[primary_key],
                created_by="demo",
            )
            assert pathway.id is not None
            set_mapping(pathway.id, mapping, session=session)
            pathway_ids.append(pathway.id)
    runs = [enqueue_run(engine, pid, created_by="demo") for pid in pathway_ids]
    _wait(engine, runs[-1].id)
    with Session(engine) as session:
        update_audience(mirror_id, filters=list(NARROWED_FILTERS), session=session)
    enqueue_run(engine, pathway_ids[-1], created_by="demo")


def _wait(engine: Engine, run_id: int | None) -> None:
    assert run_id is not None
    deadline = time.monotonic() + RUN_WAIT_SECONDS
    while time.monotonic() < deadline:
        run = get_run(engine, run_id)
        if run is not None and run.state in FINAL_STATES:
            return
        time.sleep(0.5)
    msg = f"The demo's run {run_id} did not finish within {RUN_WAIT_SECONDS:.0f} s."
    raise TimeoutError(msg)
