"""What a run changed in SFMC, for run history: "+120 new · 340 changed · 45 left".

Counted from the pathway's ledger (`RowLedger`: one entry per key SFMC holds from this pathway)
rather than inside the engine: its size when the run starts sending is kept in the run's
checkpoint (so a resumed run keeps the first figure); when the run ends, members that left are
the Mirror deletes plus the membership flags turned false (both leave the ledger), new members
are the ledger's growth plus those leavers, and the rest of the rows SFMC accepted changed.

Convention: Core with an engine (see `store/__init__.py`): two counts and one update per run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine

from store.models import RowLedger, SyncRun

_RUN = SyncRun.__table__  # type: ignore[attr-defined]
_LEDGER = RowLedger.__table__  # type: ignore[attr-defined]
_BEFORE = "ledger_before"  # checkpoint entry: the ledger's size when the run started sending


def _ledger_size(conn: Any, pathway_id: int) -> int:
    stmt = select(func.count()).select_from(_LEDGER).where(_LEDGER.c.pathway_id == pathway_id)
    return int(conn.execute(stmt).scalar_one())


def start_counting(engine: Engine, run_id: int, pathway_id: int) -> None:
    """Remember the ledger's size as the run starts sending (kept when the run resumes)."""
    with engine.begin() as conn:
        checkpoint = conn.execute(select(_RUN.c.checkpoint).where(_RUN.c.id == run_id)).scalar()
        checkpoint = dict(checkpoint or {})
        if _BEFORE in checkpoint:
            return
        checkpoint[_BEFORE] = _ledger_size(conn, pathway_id)
        conn.execute(update(_RUN).where(_RUN.c.id == run_id).values(checkpoint=checkpoint))


def record_changes(
    engine: Engine, run_id: int, pathway_id: int, plan: Mapping[str, Any] | None
) -> None:
    """Store the run's new / changed / left counts (a dry run or a failed one stores none)."""
    with engine.begin() as conn:
        run = conn.execute(
            select(
                _RUN.c.state,
                _RUN.c.dry_run,
                _RUN.c.checkpoint,
                _RUN.c.rows_succeeded,
                _RUN.c.rows_deleted,
            ).where(_RUN.c.id == run_id)
        ).one()
        if run.dry_run or run.state != "succeeded" or _BEFORE not in (run.checkpoint or {}):
            return
        flagged_out = int((plan or {}).get("left", 0) or 0)
        left = int(run.rows_deleted or 0) + flagged_out
        grown = _ledger_size(conn, pathway_id) - int(run.checkpoint[_BEFORE])
        new = max(0, grown + left)
        changed = max(0, int(run.rows_succeeded or 0) - new - flagged_out)
        conn.execute(
            update(_RUN)
            .where(_RUN.c.id == run_id)
            .values(rows_new=new, rows_changed=changed, rows_left=left)
        )
