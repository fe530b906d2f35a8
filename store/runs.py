"""Sync-run lifecycle in the store: queue, claim, progress, checkpoints, rejected rows, status.

States: queued -> running -> succeeded | failed | needs_confirm | cancelled. A pathway has at most
one active (queued or running) run. Workers claim runs atomically (SQLite: a conditional UPDATE;
PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED`) and keep a heartbeat; a running run whose
heartbeat is older than `stale_after` seconds belongs to a dead worker and is claimed again and
resumed from its checkpoint.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, literal, select, update
from sqlalchemy.engine import Connection as DbConnection
from sqlalchemy.engine import Engine

from store.models import Pathway, PreflightRefusal, RejectedRow, RowLedger, SyncRun

ACTIVE_STATES = ("queued", "running")
FINAL_STATES = ("succeeded", "failed", "needs_confirm", "cancelled")
SCHEDULES = {"hourly": timedelta(hours=1), "daily": timedelta(days=1)}
DEFAULT_STALE_AFTER = 60.0
_RUN = SyncRun.__table__  # type: ignore[attr-defined]
_REJ = RejectedRow.__table__  # type: ignore[attr-defined]
_LEDGER = RowLedger.__table__  # type: ignore[attr-defined]
_PATHWAY = Pathway.__table__  # type: ignore[attr-defined]
_REFUSAL = PreflightRefusal.__table__  # type: ignore[attr-defined]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_LOOKUP_CHUNK = 500


class RunConflictError(ValueError):
    """The pathway already has a queued or running sync."""


def _now() -> datetime:
    return datetime.now(UTC)


def _naive(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; compare everything as naive UTC.
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def get_run(engine: Engine, run_id: int) -> SyncRun | None:
    """The run row (detached), or None."""
    with engine.connect() as conn:
        row = conn.execute(select(_RUN).where(_RUN.c.id == run_id)).mappings().first()
    return SyncRun(**dict(row)) if row else None


def list_runs(engine: Engine, pathway_id: int, *, limit: int = 50) -> list[SyncRun]:
    """Most recent runs of a pathway first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(_RUN)
            .where(_RUN.c.pathway_id == pathway_id)
            .order_by(_RUN.c.id.desc())
            .limit(limit)
        ).mappings()
        return [SyncRun(**dict(r)) for r in rows]


def active_run(engine: Engine, pathway_id: int) -> SyncRun | None:
    """The pathway's queued or running run, if any."""
    with engine.connect() as conn:
        row = (
            conn.execute(
                select(_RUN)
                .where(_RUN.c.pathway_id == pathway_id, _RUN.c.state.in_(ACTIVE_STATES))
                .order_by(_RUN.c.id)
            )
            .mappings()
            .first()
        )
    return SyncRun(**dict(row)) if row else None


def enqueue_run(
    engine: Engine,
    pathway_id: int,
    trigger: str = "manual",
    *,
    dry_run: bool = False,
    full_resend: bool = False,
    confirm_deletes: bool = False,
    created_by: str | None = None,
) -> SyncRun:
    """Queue a sync of a pathway.

    Raises:
        RunConflictError: the pathway already has a queued or running sync; wait for it or
            cancel it first.
        LookupError: no pathway with that id.
    """
    with engine.begin() as conn:
        if _is_postgres(engine):
            # Serialise enqueues of one pathway (the pathway row lock) so two clicks make one run.
            found = conn.execute(
                select(_PATHWAY.c.id, _PATHWAY.c.method)
                .where(_PATHWAY.c.id == pathway_id)
                .with_for_update()
            ).first()
        else:
            found = conn.execute(
                select(_PATHWAY.c.id, _PATHWAY.c.method).where(_PATHWAY.c.id == pathway_id)
            ).first()
        if found is None:
            msg = f"Pathway {pathway_id} does not exist; pick an existing pathway."
            raise LookupError(msg)
        busy = conn.execute(
            select(_RUN.c.id, _RUN.c.state).where(
                _RUN.c.pathway_id == pathway_id, _RUN.c.state.in_(ACTIVE_STATES)
            )
        ).first()
        if busy is not None:
            msg = (
                f"Pathway {pathway_id} already has a {busy.state} sync (run {busy.id}); wait for "
                "it to finish or cancel it before starting another."
            )
            raise RunConflictError(msg)
        now = _now()
        run_id = conn.execute(
            insert(_RUN)
            .values(
                pathway_id=pathway_id,
                trigger=trigger,
                state="queued",
                method=found.method,
                dry_run=dry_run,
                full_resend=full_resend,
                confirm_deletes=confirm_deletes,
                cancel_requested=False,
                checkpoint={},
                plan={},
                created_by=created_by,
                created_at=now,
                rows_total=0,
                rows_read=0,
                rows_sent=0,
                rows_succeeded=0,
                rows_failed=0,
                rows_skipped=0,
                rows_deleted=0,
                rows_per_s=0.0,
                api_calls=0,
            )
            .returning(_RUN.c.id)
        ).scalar_one()
    run = get_run(engine, run_id)
    assert run is not None
    return run


def _claim_stale(conn: DbConnection, worker_id: str, cutoff: datetime, pg: bool) -> int | None:
    query = (
        select(_RUN.c.id)
        .where(_RUN.c.state == "running", _RUN.c.heartbeat_at < cutoff)
        .order_by(_RUN.c.id)
        .limit(1)
    )
    if pg:
        query = query.with_for_update(skip_locked=True)
    run_id = conn.execute(query).scalar()
    if run_id is None:
        return None
    done = conn.execute(
        update(_RUN)
        .where(_RUN.c.id == run_id, _RUN.c.state == "running", _RUN.c.heartbeat_at < cutoff)
        .values(worker_id=worker_id, heartbeat_at=_now())
    )
    return run_id if done.rowcount == 1 else None


def _claim_queued(conn: DbConnection, worker_id: str, pg: bool) -> int | None:
    other = _RUN.alias("other")
    running_same = (
        select(other.c.id)
        .where(other.c.pathway_id == _RUN.c.pathway_id, other.c.state == "running")
        .exists()
    )
    query = (
        select(_RUN.c.id)
        .where(_RUN.c.state == "queued", ~running_same)
        .order_by(_RUN.c.id)
        .limit(1)
    )
    if pg:
        query = query.with_for_update(skip_locked=True, of=_RUN)
    run_id = conn.execute(query).scalar()
    if run_id is None:
        return None
    now = _now()
    done = conn.execute(
        update(_RUN)
        .where(_RUN.c.id == run_id, _RUN.c.state == "queued")
        .values(state="running", worker_id=worker_id, heartbeat_at=now, started_at=now)
    )
    return run_id if done.rowcount == 1 else None


def claim_next_run(
    engine: Engine, worker_id: str, *, stale_after: float = DEFAULT_STALE_AFTER
) -> SyncRun | None:
    """Claim one run for `worker_id`: a stale running run first (resume), else the oldest queued.

    A queued run is not claimed while another run of the same pathway is running, so a pathway
    never has two runs executing at once.
    """
    pg = _is_postgres(engine)
    cutoff = _now() - timedelta(seconds=stale_after)
    for attempt in (_claim_stale, _claim_queued):
        for _ in range(5):  # lost races (another worker got it) are retried on the next candidate
            with engine.begin() as conn:
                if attempt is _claim_stale:
                    run_id = _claim_stale(conn, worker_id, cutoff, pg)
                else:
                    run_id = _claim_queued(conn, worker_id, pg)
                if run_id is None:
                    exists = conn.execute(
                        select(func.count())
                        .select_from(_RUN)
                        .where(
                            _RUN.c.state == "queued"
                            if attempt is _claim_queued
                            else (_RUN.c.state == "running") & (_RUN.c.heartbeat_at < cutoff)
                        )
                    ).scalar_one()
            if run_id is not None:
                return get_run(engine, run_id)
            if not exists:
                break
    return None


def heartbeat(engine: Engine, run_id: int, worker_id: str) -> bool:
    """Refresh the run's heartbeat; False when the run is no longer this worker's."""
    with engine.begin() as conn:
        done = conn.execute(
            update(_RUN)
            .where(_RUN.c.id == run_id, _RUN.c.worker_id == worker_id, _RUN.c.state == "running")
            .values(heartbeat_at=_now())
        )
    return done.rowcount == 1


def write_progress(engine: Engine, run_id: int, **values: Any) -> None:
    """Write progress columns (rows_total, rows_per_s, eta_s, api_calls, message...) + heartbeat."""
    values.setdefault("heartbeat_at", _now())
    with engine.begin() as conn:
        conn.execute(update(_RUN).where(_RUN.c.id == run_id).values(**values))


def cancel_requested(engine: Engine, run_id: int) -> bool:
    """Whether someone asked this run to stop."""
    with engine.connect() as conn:
        return bool(
            conn.execute(select(_RUN.c.cancel_requested).where(_RUN.c.id == run_id)).scalar()
        )


def request_cancel(engine: Engine, run_id: int) -> str | None:
    """Ask a run to stop. A queued run is cancelled at once; a running one between batches.

    Returns:
        The run's state after the request, or None when there is no such run.
    """
    with engine.begin() as conn:
        conn.execute(
            update(_RUN)
            .where(_RUN.c.id == run_id, _RUN.c.state == "queued")
            .values(state="cancelled", cancel_requested=True, finished_at=_now())
        )
        conn.execute(
            update(_RUN)
            .where(_RUN.c.id == run_id, _RUN.c.state == "running")
            .values(cancel_requested=True)
        )
        return conn.execute(select(_RUN.c.state).where(_RUN.c.id == run_id)).scalar()


LedgerEntry = tuple[str, str] | tuple[str, str, int | None, int | None]


def _upsert_ledger(conn: DbConnection, pathway_id: int, rows: Sequence[LedgerEntry]) -> None:
    if not rows:
        return
    # Straight to the driver's executemany: SQLAlchemy's per-row parameter processing costs
    # more than the insert itself at tens of thousands of rows per second.
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    # Same ON CONFLICT syntax in SQLite (>= 3.24) and PostgreSQL. An entry without a source
    # row/revision clears them: that key's row is read again by the next incremental run.
    statement = (
        "INSERT INTO rowledger (pathway_id, row_key, row_hash, source_row, source_rev) "
        f"VALUES ({mark}, {mark}, {mark}, {mark}, {mark}) "
        "ON CONFLICT (pathway_id, row_key) DO UPDATE SET row_hash = excluded.row_hash, "
        "source_row = excluded.source_row, source_rev = excluded.source_rev"
    )
    conn.exec_driver_sql(
        statement,
        [(pathway_id, *r) if len(r) == 4 else (pathway_id, r[0], r[1], None, None) for r in rows],
    )


def commit_checkpoint(
    engine: Engine,
    run_id: int,
    *,
    pathway_id: int,
    checkpoint_row: int | None,
    counters: Mapping[str, int],
    rejected: Iterable[Mapping[str, Any]] = (),
    ledger_upserts: Sequence[LedgerEntry] = (),
    ledger_deletes: Sequence[str] = (),
    extra: Mapping[str, Any] | None = None,
    refusals: Sequence[tuple[int, int, Mapping[str, Any]]] = (),
    copy_refusals: Sequence[int] = (),
) -> None:
    """Persist one acknowledged prefix of a run in ONE transaction.

    Rejected rows, ledger changes, counters and the checkpoint land together, so a run resumed
    from this checkpoint neither loses nor repeats any of them.

    Args:
        engine: the store.
        run_id: the run.
        pathway_id: the run's pathway (owner of the ledger).
        checkpoint_row: `_row` of the last acknowledged row; None keeps the current one.
        counters: the run's tallies (rows_read, rows_sent, rows_succeeded, ...).
        rejected: dicts with row_values, primary_key, field, error_type, error_details, retryable.
        ledger_upserts: (key, hash) or (key, hash, source `_row`, source `_rev`) of rows SFMC
            accepted (or skipped as unchanged: their source revision is refreshed).
        ledger_deletes: keys deleted from the DE.
        extra: more checkpoint entries (e.g. the phase).
        refusals: (source `_row`, source `_rev`, rejected-row dict) of rows preflight refused
            for their own values: remembered (`PreflightRefusal`), replacing older revisions.
        copy_refusals: ids of stored refusals whose rows this run skipped unchanged: copied
            into the run's rejected rows in SQL (INSERT ... SELECT).
    """
    with engine.begin() as conn:
        current = conn.execute(select(_RUN.c.checkpoint).where(_RUN.c.id == run_id)).scalar()
        checkpoint = dict(current or {})
        if checkpoint_row is not None:
            checkpoint["row"] = checkpoint_row
        checkpoint["counters"] = dict(counters)
        checkpoint.update(extra or {})
        batch = [{"run_id": run_id, **dict(r)} for r in rejected]
        if batch:
            conn.execute(insert(_REJ), batch)
        _copy_refusals(conn, run_id, copy_refusals)
        _remember_refusals(conn, pathway_id, refusals)
        _upsert_ledger(conn, pathway_id, ledger_upserts)
        for start in range(0, len(ledger_deletes), _LOOKUP_CHUNK):
            conn.execute(
                delete(_LEDGER).where(
                    _LEDGER.c.pathway_id == pathway_id,
                    _LEDGER.c.row_key.in_(ledger_deletes[start : start + _LOOKUP_CHUNK]),
                )
            )
        tallies = {k: v for k, v in counters.items() if k in _RUN.c}
        conn.execute(
            update(_RUN)
            .where(_RUN.c.id == run_id)
            .values(checkpoint=checkpoint, heartbeat_at=_now(), **tallies)
        )


def _copy_refusals(conn: DbConnection, run_id: int, ids: Sequence[int]) -> None:
    columns = ("row_values", "primary_key", "field", "error_type", "error_details")
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        part = list(ids[start : start + _LOOKUP_CHUNK])
        source = select(literal(run_id), *(_REFUSAL.c[c] for c in columns), literal(False)).where(
            _REFUSAL.c.id.in_(part)
        )
        conn.execute(insert(_REJ).from_select(["run_id", *columns, "retryable"], source))


def _remember_refusals(
    conn: DbConnection, pathway_id: int, refusals: Sequence[tuple[int, int, Mapping[str, Any]]]
) -> None:
    if not refusals:
        return
    rows = [r for _, _, r in refusals]
    for start in range(0, len(refusals), _LOOKUP_CHUNK):
        part = [row for row, _, _ in refusals[start : start + _LOOKUP_CHUNK]]
        conn.execute(
            delete(_REFUSAL).where(
                _REFUSAL.c.pathway_id == pathway_id, _REFUSAL.c.source_row.in_(part)
            )
        )
    conn.execute(
        insert(_REFUSAL),
        [
            {
                "pathway_id": pathway_id,
                "source_row": row,
                "source_rev": rev,
                "row_values": rej["row_values"],
                "primary_key": rej.get("primary_key"),
                "field": rej.get("field"),
                "error_type": rej["error_type"],
                "error_details": rej["error_details"],
            }
            for (row, rev, _), rej in zip(refusals, rows, strict=True)
        ],
    )


def forget_refusals(engine: Engine, pathway_id: int) -> None:
    """Forget the pathway's remembered preflight refusals (their rows are checked again)."""
    with engine.begin() as conn:
        conn.execute(delete(_REFUSAL).where(_REFUSAL.c.pathway_id == pathway_id))


def finish_run(
    engine: Engine,
    run_id: int,
    state: str,
    *,
    message: str | None = None,
    error: str | None = None,
    plan: Mapping[str, Any] | None = None,
    counters: Mapping[str, int] | None = None,
) -> None:
    """Move a run to a final state with its closing figures."""
    if state not in FINAL_STATES:
        msg = f"{state!r} is not a final run state; use one of {', '.join(FINAL_STATES)}."
        raise ValueError(msg)
    values: dict[str, Any] = {"state": state, "finished_at": _now(), "eta_s": 0.0}
    if message is not None:
        values["message"] = message
    if error is not None:
        values["error"] = error
    if plan is not None:
        values["plan"] = dict(plan)
    values.update({k: v for k, v in (counters or {}).items() if k in _RUN.c})
    with engine.begin() as conn:
        conn.execute(update(_RUN).where(_RUN.c.id == run_id).values(**values))


def ledger_lookup(engine: Engine, pathway_id: int, keys: Sequence[str]) -> dict[str, str]:
    """Key -> hash of the rows SFMC accepted before, for the given keys only (memory bounded)."""
    found: dict[str, str] = {}
    with engine.connect() as conn:
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            part = list(keys[start : start + _LOOKUP_CHUNK])
            # Driver-level SQL: this runs for every chunk of every sync, and SQLAlchemy's
            # statement compilation would cost more than the lookup itself.
            sql = (
                f"SELECT row_key, row_hash FROM rowledger WHERE pathway_id = {mark} "
                f"AND row_key IN ({', '.join([mark] * len(part))})"
            )
            found.update(conn.exec_driver_sql(sql, (pathway_id, *part)).fetchall())
    return found


def ledger_holders(
    engine: Engine, pathway_id: int, table_name: str, keys: Sequence[str]
) -> dict[str, int]:
    """Key -> `_row` of an audience row that holds it and has not changed since SFMC took it.

    An incremental run does not read such rows, so its duplicate-key check asks here: a row
    read now whose key an earlier unchanged row holds is a duplicate, as in a full pass.
    """
    found: dict[str, int] = {}
    with engine.connect() as conn:
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        table = conn.dialect.identifier_preparer.quote(table_name)
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            part = list(keys[start : start + _LOOKUP_CHUNK])
            sql = (
                f"SELECT l.row_key, l.source_row FROM rowledger l JOIN {table} t "  # noqa: S608 - quoted name of our own table
                "ON t._row = l.source_row AND t._rev = l.source_rev "
                f"WHERE l.pathway_id = {mark} AND l.row_key IN ({', '.join([mark] * len(part))})"
            )
            found.update(conn.exec_driver_sql(sql, (pathway_id, *part)).fetchall())
    return found


def use_ledger_fingerprint(engine: Engine, pathway_id: int, fingerprint: str) -> bool:
    """Make `fingerprint` the pathway's ledger fingerprint; True when it already was.

    When it changes (another data set, filters, mapping, DE or method), the ledger's source
    rows no longer say what SFMC holds: they are forgotten (the hashes stay), so the next run
    reads every audience row once and skips those whose hash is unchanged.
    """
    with engine.begin() as conn:
        current = conn.execute(
            select(_PATHWAY.c.ledger_fingerprint).where(_PATHWAY.c.id == pathway_id)
        ).scalar()
        if current == fingerprint:
            return True
        conn.execute(
            update(_LEDGER)
            .where(_LEDGER.c.pathway_id == pathway_id, _LEDGER.c.source_rev.is_not(None))
            .values(source_row=None, source_rev=None)
        )
        # Refusals were decided under the old mapping/DE: check those rows again.
        conn.execute(delete(_REFUSAL).where(_REFUSAL.c.pathway_id == pathway_id))
        conn.execute(
            update(_PATHWAY)
            .where(_PATHWAY.c.id == pathway_id)
            .values(ledger_fingerprint=fingerprint)
        )
    return False


def ledger_fingerprint(engine: Engine, pathway_id: int) -> str | None:
    """The fingerprint the pathway's ledger source rows were written under (None: never)."""
    with engine.connect() as conn:
        return conn.execute(
            select(_PATHWAY.c.ledger_fingerprint).where(_PATHWAY.c.id == pathway_id)
        ).scalar()


def ledger_has_rows(engine: Engine, pathway_id: int) -> bool:
    """Whether the pathway has any ledger entry (i.e. an incremental run can skip rows)."""
    with engine.connect() as conn:
        return (
            conn.execute(
                select(_LEDGER.c.id).where(_LEDGER.c.pathway_id == pathway_id).limit(1)
            ).first()
            is not None
        )


def clear_ledger(engine: Engine, pathway_id: int) -> None:
    """Forget what was sent (the DE was recreated, or a full re-send was asked for)."""
    with engine.begin() as conn:
        conn.execute(delete(_LEDGER).where(_LEDGER.c.pathway_id == pathway_id))
        conn.execute(delete(_REFUSAL).where(_REFUSAL.c.pathway_id == pathway_id))


def clear_rejected_after(engine: Engine, run_id: int) -> None:
    """Drop a run's rejected rows (a run restarted from scratch writes them again)."""
    with engine.begin() as conn:
        conn.execute(delete(_REJ).where(_REJ.c.run_id == run_id))


# ---------------------------------------------------------------------------------------------
# Rejected rows file


def _cell(value: object) -> str:
    if value is None:
        return ""
    text_value = value if isinstance(value, str) else str(value)
    # Spreadsheets run cells starting with these as formulas (CSV injection): neutralise them.
    if text_value.startswith(_FORMULA_START):
        return "'" + text_value
    return text_value


def rejected_rows_csv(engine: Engine, run_id: int) -> bytes:
    """The rejected rows of a run as CSV (UTF-8 with BOM, for Excel).

    Columns: the original row values, then `validationErrorType`, `validationErrorDetails`,
    `field` and `retryable`. Cells that a spreadsheet would run as a formula are escaped with
    a leading apostrophe.
    """
    with engine.connect() as conn:
        rows = (
            conn.execute(select(_REJ).where(_REJ.c.run_id == run_id).order_by(_REJ.c.id))
            .mappings()
            .all()
        )
    columns: dict[str, None] = {}
    for row in rows:
        for name in row["row_values"] or {}:
            columns.setdefault(name, None)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    tail = ["validationErrorType", "validationErrorDetails", "field", "retryable"]
    writer.writerow([_cell(c) for c in [*columns, *tail]])
    for row in rows:
        values = row["row_values"] or {}
        writer.writerow(
            [_cell(values.get(c)) for c in columns]
            + [
                _cell(row["error_type"]),
                _cell(row["error_details"]),
                _cell(row["field"]),
                "true" if row["retryable"] else "false",
            ]
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# ---------------------------------------------------------------------------------------------
# Status and schedules


@dataclass(frozen=True)
class PathwayStatus:
    """What the Manage Pathways table shows for one pathway."""

    status: str  # Syncing | Active | Error | Inactive
    last_successes: int | None
    last_failures: int | None
    last_synced: datetime | None
    next_run: datetime | None
    last_run_id: int | None
    message: str | None


def next_run_at(schedule: str, last_started: datetime | None, now: datetime) -> datetime | None:
    """When a scheduled pathway runs next (None for manual)."""
    interval = SCHEDULES.get(schedule)
    if interval is None:
        return None
    if last_started is None:
        return now
    return _naive(last_started) + interval  # type: ignore[operator]


def pathway_status(
    engine: Engine, pathway_id: int, *, now: datetime | None = None
) -> PathwayStatus:
    """Syncing / Active / Error / Inactive, derived from the pathway's runs."""
    now_naive = _naive(now or _now())
    assert now_naive is not None
    with engine.connect() as conn:
        pathway = (
            conn.execute(select(_PATHWAY).where(_PATHWAY.c.id == pathway_id)).mappings().first()
        )
        if pathway is None:
            msg = f"Pathway {pathway_id} does not exist."
            raise LookupError(msg)
        runs = (
            conn.execute(
                select(_RUN)
                .where(_RUN.c.pathway_id == pathway_id, _RUN.c.dry_run.is_(False))
                .order_by(_RUN.c.id.desc())
                .limit(20)
            )
            .mappings()
            .all()
        )
    active = next((r for r in runs if r["state"] in ACTIVE_STATES), None)
    finished = next(
        (r for r in runs if r["state"] in FINAL_STATES and r["state"] != "cancelled"), None
    )
    last_ok = next((r for r in runs if r["state"] == "succeeded"), None)
    last_started = runs[0]["created_at"] if runs else None
    next_run = (
        None if pathway["paused"] else next_run_at(pathway["schedule"], last_started, now_naive)
    )
    if active is not None:
        status, shown, message = "Syncing", active, active["message"]
    elif pathway["paused"]:
        status, shown, message = "Inactive", finished, "Paused."
    elif finished is None:
        status, shown, message = "Inactive", None, "Never synced."
    elif finished["state"] in ("failed", "needs_confirm"):
        status, shown, message = "Error", finished, finished["error"] or finished["message"]
    else:
        status, shown, message = "Active", finished, finished["message"]
    ref = finished or shown
    return PathwayStatus(
        status=status,
        last_successes=ref["rows_succeeded"] if ref else None,
        last_failures=ref["rows_failed"] if ref else None,
        last_synced=last_ok["finished_at"] if last_ok else None,
        next_run=next_run,
        last_run_id=shown["id"] if shown else (runs[0]["id"] if runs else None),
        message=message,
    )


def enqueue_due_runs(engine: Engine, now: datetime | None = None) -> list[int]:
    """Queue a run for every hourly/daily pathway that is due; returns the new run ids."""
    now_naive = _naive(now or _now())
    assert now_naive is not None
    with engine.connect() as conn:
        pathways = conn.execute(
            select(_PATHWAY.c.id, _PATHWAY.c.schedule).where(
                _PATHWAY.c.schedule.in_(tuple(SCHEDULES)), _PATHWAY.c.paused.is_(False)
            )
        ).all()
        last = dict(
            conn.execute(
                select(_RUN.c.pathway_id, func.max(_RUN.c.created_at))
                .where(_RUN.c.dry_run.is_(False))
                .group_by(_RUN.c.pathway_id)
            ).all()
        )
    queued: list[int] = []
    for pathway_id, schedule in pathways:
        due = next_run_at(schedule, last.get(pathway_id), now_naive)
        if due is None or due > now_naive:
            continue
        try:
            queued.append(enqueue_run(engine, pathway_id, "schedule").id)  # type: ignore[arg-type]
        except RunConflictError:
            continue
    return queued


def mark_running(engine: Engine, run_id: int, worker_id: str) -> None:
    """Take a queued run directly (CLI, tests) or confirm ownership of a claimed one."""
    now = _now()
    with engine.begin() as conn:
        conn.execute(
            update(_RUN)
            .where(_RUN.c.id == run_id, _RUN.c.state == "queued")
            .values(state="running", started_at=now)
        )
        conn.execute(
            update(_RUN)
            .where(_RUN.c.id == run_id, _RUN.c.state == "running")
            .values(worker_id=worker_id, heartbeat_at=now)
        )
