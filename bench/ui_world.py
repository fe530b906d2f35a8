"""The store `python -m bench ui` times the pages against: a demo store at a chosen scale.

A demo store (so the demo users sign in) whose donors data set has `rows` rows, plus
`pathways` pathways over the demo audiences and `runs` finished runs spread over them, a third
of them with rejected rows (`REJECTED_PER_RUN` each) and one in twenty failed. The runs and
rejected rows are written in bulk (SQLAlchemy Core), as a year of history would have left them.

For the dry run, an audience of the donors whose id starts with `DRY_RUN_PREFIX` (99,999 of a
million; every donor of a small demo) gets a Mirror pathway keyed on the donor id. Its DE
lives in the app's embedded simulator, which starts empty with the app: `seed_dry_run_de`
creates it there once the app runs and fills it with as many rows as the audience has: the
audience but a tenth of it (those to create; the others, to update: the pathway has never
synced, so no row counts as unchanged) and as many former donors (to delete).
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REJECTED_PER_RUN = 5
DRY_RUN_AUDIENCE = "Bench dry run"
DRY_RUN_KEY = "bench_dry_run"
DRY_RUN_PREFIX = "000"
DRY_RUN_MAPPING = [
    {"source_column": "donor_id", "destination_field": "DonorId", "field_type": "Text",
     "length": 20, "is_primary_key": True, "required": True},
    {"source_column": "first_name", "destination_field": "FirstName", "field_type": "Text",
     "length": 100},
]  # fmt: skip
SEED_PAGE = 10_000
PLACEHOLDER_AUTH_URI = "http://127.0.0.1:9/"  # the app sets its simulator's address at start


def build(data_dir: Path, *, rows: int, pathways: int, runs: int) -> dict[str, float]:
    """Build the store in `data_dir`; returns how long each part took (seconds)."""
    os.environ["PATHWAYS_DATA_DIR"] = str(data_dir)
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("PATHWAYS_SECRET_KEY", None)
    from sqlmodel import Session

    from store.db import make_engine
    from store.demo import ensure_demo_workspace
    from store.pathways import create_pathway, set_mapping

    engine = make_engine()
    started = time.monotonic()
    workspace = ensure_demo_workspace(engine, simulator_auth_uri=PLACEHOLDER_AUTH_URI, rows=rows)
    seconds = {"donors_seconds": time.monotonic() - started}
    started = time.monotonic()
    audience_ids = list(workspace.audience_ids.values())
    mapping = [
        {"source_column": "email", "destination_field": "Email", "field_type": "EmailAddress",
         "is_primary_key": True, "required": True},
        {"source_column": "first_name", "destination_field": "FirstName", "field_type": "Text",
         "length": 100},
    ]  # fmt: skip
    ids: list[int] = []
    with Session(engine) as session:
        for i in range(pathways):
            pathway = create_pathway(
                audience_ids[i % len(audience_ids)],
                workspace.connection_id,
                f"Bench pathway {i + 1}",
                f"bench_pathway_{i + 1}",
                session=session,
                method=("upsert", "mirror", "append")[i % 3],
                primary_keys=["Email"],
            )
            assert pathway.id is not None
            set_mapping(pathway.id, mapping, session=session)
            ids.append(pathway.id)
        _dry_run_pathway(session, workspace.dataset_id, workspace.connection_id)
    seconds["pathways_seconds"] = time.monotonic() - started
    started = time.monotonic()
    _write_runs(engine, ids, runs)
    seconds["runs_seconds"] = time.monotonic() - started
    engine.dispose()
    return {k: round(v, 1) for k, v in seconds.items()}


def _dry_run_pathway(session: Any, dataset_id: int, connection_id: int) -> None:
    from store.audiences import create_audience
    from store.demo_history import DEMO_FOLDER_ID, DEMO_FOLDER_PATH
    from store.pathways import create_pathway, set_mapping

    filters = [{"column": "donor_id", "op": "starts_with", "value": DRY_RUN_PREFIX}]
    audience = create_audience(DRY_RUN_AUDIENCE, dataset_id, filters, False, session=session)
    assert audience.id is not None
    pathway = create_pathway(
        audience.id,
        connection_id,
        DRY_RUN_AUDIENCE,
        DRY_RUN_KEY,
        session=session,
        method="mirror",
        primary_keys=["DonorId"],
        category_id=DEMO_FOLDER_ID,
        category_path=DEMO_FOLDER_PATH,
    )
    assert pathway.id is not None
    set_mapping(pathway.id, DRY_RUN_MAPPING, session=session)


def seed_dry_run_de(sim_url: str) -> dict[str, int]:
    """Create the dry run's DE in the running app's simulator and fill it (see the docstring).

    Reads the audience with the product's reader, in the process that built the store.
    Returns the plan the dry run must show: rows to create, update and delete.
    """
    from sqlmodel import Session, select

    from sfmc.client import SfmcClient
    from sfmc.config import SfmcCredentials
    from sfmc.types import DataExtension
    from simulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
    from store.audience_rows import iter_rows
    from store.db import make_engine
    from store.demo_history import DEMO_FOLDER_ID
    from store.models import Audience
    from sync.mapping import FieldMap

    client = SfmcClient(
        credentials=SfmcCredentials(sim_url + "/", DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
        allow_local=True,
    )
    fields = tuple(FieldMap(**m).to_de_field() for m in DRY_RUN_MAPPING)
    client.create_data_extension(
        DataExtension(
            name=DRY_RUN_AUDIENCE, customer_key=DRY_RUN_KEY, category_id=DEMO_FOLDER_ID,
            fields=fields,
        )
    )  # fmt: skip
    engine = make_engine()
    with Session(engine) as session:
        audience_id = session.exec(
            select(Audience.id).where(Audience.name == DRY_RUN_AUDIENCE)
        ).one()
    plan = {"create": 0, "update": 0, "delete": 0}
    page: list[dict[str, Any]] = []
    chunks = iter_rows(
        engine, audience_id, columns=["donor_id", "first_name"], chunk_size=SEED_PAGE
    )
    k = 0
    for chunk in chunks:
        for row in chunk:
            if k % 10 == 0:  # missing from the DE; a former donor in its place
                plan["create"] += 1
                plan["delete"] += 1
                page.append({"DonorId": f"gone{k:08d}", "FirstName": "Former"})
            else:
                plan["update"] += 1
                page.append({"DonorId": row["donor_id"], "FirstName": row["first_name"]})
            k += 1
        _post_rows(sim_url, page)
        page = []
    engine.dispose()
    return plan


def last_dry_run_plan() -> dict[str, Any]:
    """The plan the latest dry run of the dry run's pathway stored (create, update, ...)."""
    from sqlmodel import Session, col, select

    from store.db import make_engine
    from store.models import Pathway, SyncRun

    engine = make_engine()
    with Session(engine) as session:
        run = session.exec(
            select(SyncRun)
            .join(Pathway, col(Pathway.id) == SyncRun.pathway_id)
            .where(Pathway.de_customer_key == DRY_RUN_KEY, col(SyncRun.dry_run).is_(True))
            .order_by(col(SyncRun.id).desc())
        ).first()
        plan = dict(run.plan) if run is not None else {}
    engine.dispose()
    return {k: plan.get(k) for k in ("create", "update", "delete", "unchanged", "skip", "reject")}


def _post_rows(sim_url: str, items: list[dict[str, Any]]) -> None:
    """Put rows straight into a DE through the simulator's inspection API (`/_sim`)."""
    import json
    import urllib.request

    request = urllib.request.Request(
        f"{sim_url}/_sim/dataextensions/{DRY_RUN_KEY}/rows",
        data=json.dumps({"items": items}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=300) as resp:
        errors = json.loads(resp.read()).get("errors")
    if errors:
        msg = f"Seeding the dry run's DE failed for {len(errors)} rows, e.g. {errors[0]}"
        raise RuntimeError(msg)


def _write_runs(engine: Any, pathway_ids: list[int], runs: int) -> None:
    """`runs` finished runs, oldest first, and the rejected rows of every third one."""
    from sqlalchemy import insert, select

    from store.models import RejectedRow, SyncRun

    run_table = SyncRun.__table__  # type: ignore[attr-defined]
    rejected_table = RejectedRow.__table__  # type: ignore[attr-defined]
    start = datetime.now(UTC) - timedelta(days=365)
    step = timedelta(days=365) / max(runs, 1)
    chunk = 5_000
    for first in range(0, runs, chunk):
        batch = []
        for i in range(first, min(first + chunk, runs)):
            when = start + step * i
            failed = i % 20 == 19
            rejected = REJECTED_PER_RUN if i % 3 == 0 else 0
            batch.append(
                {
                    "pathway_id": pathway_ids[i % len(pathway_ids)],
                    "trigger": "schedule" if i % 2 else "manual",
                    "state": "failed" if failed else "succeeded",
                    "rows_total": 1_000,
                    "rows_read": 1_000,
                    "rows_sent": 1_000 - rejected,
                    "rows_succeeded": 0 if failed else 1_000 - rejected,
                    "rows_failed": 1_000 if failed else rejected,
                    "api_calls": 6,
                    "checkpoint": {},
                    "plan": {},
                    "created_at": when,
                    "started_at": when,
                    "finished_at": when + timedelta(seconds=40),
                    "error": "Bench: the tenant refused the token." if failed else None,
                    "error_kind": "auth" if failed else None,
                }  # fmt: skip
            )
        with engine.begin() as conn:
            conn.execute(insert(run_table), batch)
            new_ids = conn.execute(
                select(run_table.c.id).order_by(run_table.c.id.desc()).limit(len(batch))
            ).scalars()
            rejected_rows = [
                {
                    "run_id": run_id,
                    "row_values": {"email": f"bad{n}@", "first_name": "Ann"},
                    "primary_key": f"bad{n}@",
                    "field": "Email",
                    "error_type": "InvalidEmailAddress",
                    "error_details": "The value is not a valid email address.",
                    "retryable": False,
                }
                for run_id in new_ids
                if run_id % 3 == 0
                for n in range(REJECTED_PER_RUN)
            ]
            if rejected_rows:
                conn.execute(insert(rejected_table), rejected_rows)
