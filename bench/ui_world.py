"""The store `python -m bench ui` times the pages against: a demo store at a chosen scale.

A demo store (so the demo users sign in) whose donors data set has `rows` rows, plus
`pathways` pathways over the demo audiences and `runs` finished runs spread over them, a third
of them with rejected rows (`REJECTED_PER_RUN` each) and one in twenty failed. The runs and
rejected rows are written in bulk (SQLAlchemy Core), as a year of history would have left them.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REJECTED_PER_RUN = 5
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
    seconds["pathways_seconds"] = time.monotonic() - started
    started = time.monotonic()
    _write_runs(engine, ids, runs)
    seconds["runs_seconds"] = time.monotonic() - started
    engine.dispose()
    return {k: round(v, 1) for k, v in seconds.items()}


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
