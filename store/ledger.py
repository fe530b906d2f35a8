"""What a sync run commits: checkpoints, the row ledger, preflight refusals and rejected rows.

The ledger (`RowLedger`) holds, per pathway, the hash of every row SFMC accepted and the source
`(_row, _rev)` it came from, so a re-sync sends only what changed and an incremental one reads
only the rows that changed (`unsynced_rows`). Rows preflight refused for their own values are
remembered (`PreflightRefusal`) so that they are not checked again while unchanged. A run's
checkpoint, tallies, rejected rows and ledger changes are written in one transaction
(`commit_checkpoint`), so a resumed run neither loses nor repeats any of them.

Convention: Core with an engine (see `store/__init__.py`). This is the sync's hot path: a lookup
per chunk and a commit per acknowledged prefix, some statements sent straight to the driver.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import ColumnElement, Select, Table, and_, delete, insert, literal, select, update
from sqlalchemy.engine import Connection as DbConnection
from sqlalchemy.engine import Engine

from store.models import Pathway, PreflightRefusal, RejectedRow, RowLedger, SyncRun, utcnow

_RUN = SyncRun.__table__  # type: ignore[attr-defined]
_REJ = RejectedRow.__table__  # type: ignore[attr-defined]
_LEDGER = RowLedger.__table__  # type: ignore[attr-defined]
_PATHWAY = Pathway.__table__  # type: ignore[attr-defined]
_REFUSAL = PreflightRefusal.__table__  # type: ignore[attr-defined]
_LOOKUP_CHUNK = 500

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
            .values(checkpoint=checkpoint, heartbeat_at=utcnow(), **tallies)
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


def ledger_keys(engine: Engine, pathway_id: int, page: int = 10_000) -> Iterator[str]:
    """Every key in a pathway's ledger: the members SFMC accepted on earlier runs.

    The membership flag reads them once per run to find who left the audience. Paged by key
    (one short connection per page), so memory stays flat however large the ledger.
    """
    last: str | None = None
    while True:
        stmt = select(_LEDGER.c.row_key).where(_LEDGER.c.pathway_id == pathway_id)
        if last is not None:
            stmt = stmt.where(_LEDGER.c.row_key > last)
        with engine.connect() as conn:
            keys = list(conn.execute(stmt.order_by(_LEDGER.c.row_key).limit(page)).scalars())
        yield from keys
        if len(keys) < page:
            return
        last = keys[-1]


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
            # `table` is the quoted name of our own data-set table, never user input.
            sql = (
                f"SELECT l.row_key, l.source_row FROM rowledger l JOIN {table} t "
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


@dataclass(frozen=True)
class UnsyncedRows:
    """Narrows an audience read to the rows a pathway's ledger does not hold as synced.

    Those are the rows without a ledger entry for their current `(_row, _rev)`: new, changed,
    or not accepted by SFMC last time (one indexed NOT EXISTS; unchanged rows are never read).
    Each row also carries `_refused`/`_refused_type`: the id and error type of the pathway's
    stored preflight refusal of this revision of the row, or None, so the engine need not check
    it again. Pass it as `store.audience_rows.iter_rows(row_filter=...)`.
    """

    pathway_id: int
    keys: ClassVar[tuple[str, ...]] = ("_refused", "_refused_type")

    def apply(
        self,
        stmt: Select[Any],
        table: Table,
        row_col: ColumnElement[Any],
        rev_col: ColumnElement[Any],
    ) -> Select[Any]:
        """`stmt` (rows of `table`) without the synced rows, plus the refusal columns."""
        synced = (
            select(_LEDGER.c.id)
            .where(
                _LEDGER.c.pathway_id == self.pathway_id,
                _LEDGER.c.source_row == row_col,
                _LEDGER.c.source_rev == rev_col,
            )
            .exists()
        )
        return (
            stmt.where(~synced)
            .add_columns(_REFUSAL.c.id, _REFUSAL.c.error_type)
            .select_from(
                table.outerjoin(
                    _REFUSAL,
                    and_(
                        _REFUSAL.c.pathway_id == self.pathway_id,
                        _REFUSAL.c.source_row == row_col,
                        _REFUSAL.c.source_rev == rev_col,
                    ),
                )
            )
        )
