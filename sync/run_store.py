"""The store side of a run: its context, audience reads, progress and commits, heartbeat.

What `sync.runner` plugs into a run's `RunIO`: each class here turns one of the engine's
callables (`ReadChunks`, `on_progress`, `on_commit`, `should_cancel`) into store reads and
writes. It imports the store and the engine's plain data (`sync.types`), never the engine's
logic or the SFMC client: `sync.runner` is the one module that joins all three.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, select

from store import audience_rows, ledger, queue, run_events
from store.db import JsonText
from store.models import Audience, ColumnMapping, Connection, DataSet, Pathway, SyncRun
from store.revisions import ensure_row_revisions
from sync.destinations import DATA_EXTENSION
from sync.mapping import FieldMap
from sync.types import Commit, Progress, Rejection, SetupError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

Rows = Iterator[list[dict[str, Any]]]


@dataclass(frozen=True)
class RunContext:
    """A run and what it needs from the store, detached from the session."""

    run: SyncRun
    pathway: Pathway
    audience: Audience
    connection: Connection
    dataset: DataSet | None
    mapping: list[FieldMap]

    @property
    def generated_key(self) -> bool:
        return bool((self.pathway.options or {}).get("generated_key"))


def load_run_context(engine: Engine, run_id: int) -> RunContext:
    with Session(engine) as session:
        run = session.get(SyncRun, run_id)
        if run is None:
            msg = f"Sync run {run_id} does not exist."
            raise LookupError(msg)
        pathway = session.get(Pathway, run.pathway_id)
        if pathway is None:
            msg = f"The pathway of run {run_id} was deleted."
            raise LookupError(msg)
        audience = session.get(Audience, pathway.audience_id)
        connection = session.get(Connection, pathway.connection_id)
        rows = session.exec(
            select(ColumnMapping)
            .where(ColumnMapping.pathway_id == pathway.id)
            .order_by(ColumnMapping.ordinal, ColumnMapping.id)
        ).all()
        dataset = session.get(DataSet, audience.dataset_id) if audience is not None else None
        _check_owner(session, pathway)
        for obj in (run, pathway, audience, connection, dataset, *rows):
            if obj is not None:
                session.expunge(obj)
    if audience is None or connection is None:
        msg = "The pathway's audience or connection was deleted; edit or delete the pathway."
        raise SetupError(msg, kind="pathway_incomplete")
    check_modeled(audience, connection)
    if dataset is not None:
        _check_columns(rows, dataset)
    keys = pathway.primary_keys or []
    mapping = [
        FieldMap(
            source_column=m.source_column,
            destination_field=m.destination_field,
            field_type=m.field_type,
            length=m.length,
            precision=m.precision,
            scale=m.scale,
            required=m.required,
            is_primary_key=m.is_primary_key or m.destination_field in keys,
        )
        for m in rows
    ]
    return RunContext(run, pathway, audience, connection, dataset, mapping)


def _check_owner(session: Session, pathway: Pathway) -> None:
    """Refuse a Data Extension pathway whose DE an earlier pathway of the connection owns.

    Two pathways writing one DE lose each other's rows (a Mirror deletes what its audience
    lacks); the wizard refuses the second one, and this stops ones made before it did.
    """
    if (pathway.destination_kind or DATA_EXTENSION) != DATA_EXTENSION:
        return
    key = (pathway.de_customer_key or "").casefold()
    for other in session.exec(
        select(Pathway).where(
            Pathway.connection_id == pathway.connection_id, Pathway.id < pathway.id
        )
    ):
        kind = other.destination_kind or DATA_EXTENSION
        if kind == DATA_EXTENSION and (other.de_customer_key or "").casefold() == key:
            msg = (
                f"The Data Extension '{pathway.de_customer_key}' belongs to the earlier pathway "
                f"'{other.de_name}' (#{other.id}): nothing was sent. Delete this pathway and push "
                "its audience again to a Data Extension of its own (another external key)."
            )
            raise SetupError(msg, kind="de_owned", detail={"owner_pathway_id": other.id})


def check_modeled(audience: Audience, connection: Connection) -> None:
    """Refuse a modeled audience on a connection that does not allow modeled audiences.

    Checked when a pathway is created, when a run is queued (`ui.pathways`, `ui.runs`) and
    when it runs (`load_run_context`): either flag can change in between (an audience marked
    modeled after its pathway exists, a connection that stops allowing them), so each check
    reads them fresh and the run itself is the last word.

    Raises:
        SetupError: kind "modeled_refused"; nothing is sent.
    """
    if audience.modeled and not connection.allow_modeled:
        msg = (
            f"The audience {audience.name!r} is modeled (built from a score) and the connection "
            f"{connection.name!r} refuses modeled audiences; nothing was sent."
        )
        detail = {"audience_id": audience.id, "connection_id": connection.id}
        raise SetupError(msg, kind="modeled_refused", detail=detail)


def _check_columns(rows: Sequence[ColumnMapping], dataset: DataSet) -> None:
    """Refuse, before SFMC is touched, a mapped column the data set lacks.

    It would silently write empty values (and create an empty field) in every row. Names
    starting with "_" are columns the engine adds itself (`_row`, generated keys).
    """
    columns = {str(c.get("name")) for c in (dataset.columns or [])}
    mapped = {m.source_column for m in rows if not m.source_column.startswith("_")}
    unknown = sorted(mapped - columns)
    if unknown:
        msg = (
            f"The column mapping uses {', '.join(repr(u) for u in unknown)}, which the audience's "
            f"data set does not have (its columns: {', '.join(sorted(columns))}). Fix the "
            "mapping on the Column Mapping page, then sync again."
        )
        detail = {"columns": unknown, "available": sorted(columns)}
        raise SetupError(msg, kind="unknown_column", detail=detail)


class AudienceReads:
    """The run's audience in the store, read in chunks: the `ReadChunks` of its `RunIO`."""

    def __init__(
        self,
        engine: Engine,
        audience_id: int,
        chunk_size: int,
        key_columns: Sequence[str],
        revisions: bool,
        columns: Sequence[str] | None = None,
    ) -> None:
        self.engine = engine
        self.audience_id = audience_id
        self.chunk_size = chunk_size
        self.key_columns = list(key_columns)
        self.revisions = revisions
        self.columns = columns  # what `rows` reads (None: every column)

    def rows(self, after: int) -> Rows:
        return audience_rows.iter_rows(
            self.engine,
            self.audience_id,
            chunk_size=self.chunk_size,
            after_row=after,
            columns=self.columns,
            with_revision=self.revisions,
        )

    def keys(self, after: int) -> Rows:
        return audience_rows.iter_rows(
            self.engine,
            self.audience_id,
            chunk_size=20_000,
            after_row=after,
            columns=self.key_columns,
        )

    def span(self, after: int, upto: int | None) -> tuple[int, int]:
        return audience_rows.count_span(
            self.engine, self.audience_id, after_row=after, upto_row=upto
        )


class UnsyncedReads:
    """An incremental read: the audience rows a pathway's ledger does not hold as synced."""

    def __init__(self, audience: AudienceReads, pathway_id: int, early: Prefetch | None) -> None:
        self.audience = audience
        self.pathway_id = pathway_id
        self.early = early  # its first chunk, read ahead while the DE was looked up

    def read(self, after: int) -> Rows:
        first = self.early.take(after) if self.early is not None else None
        if first is not None:
            if first:
                yield first
            if len(first) < self.audience.chunk_size:
                return
            after = first[-1]["_row"]
        yield from audience_rows.iter_rows(
            self.audience.engine,
            self.audience.audience_id,
            chunk_size=self.audience.chunk_size,
            after_row=after,
            row_filter=ledger.UnsyncedRows(self.pathway_id),
        )

    def first(self, table_name: str, after: int) -> list[dict[str, Any]]:
        """The first chunk after `after` (for `Prefetch`, on its thread)."""
        ensure_row_revisions(self.audience.engine, table_name)
        return next(iter(self.read(after)), [])


class Recorder:
    """Where a run reports: progress, commits and the cancel flag, all in the store."""

    def __init__(
        self,
        engine: Engine,
        run_id: int,
        *,
        pathway_id: int,
        dry_run: bool,
        beat: Heartbeat,
        on_progress: Callable[[Progress], None],
    ) -> None:
        self.engine = engine
        self.run_id = run_id
        self.pathway_id = pathway_id
        self.dry_run = dry_run
        self.beat = beat
        self.on_progress = on_progress
        self.last_write = 0.0
        self.last_phase = ""

    def progress(self, p: Progress) -> None:
        self.on_progress(p)
        phase = run_events.phase_of(p.phase)
        if phase != self.last_phase:  # the run's timeline (Run details): one event per phase
            self.last_phase = phase
            run_events.record_event(
                self.engine, self.run_id, phase, p.phase,
                rows=p.rows_done, api_calls=p.counters.api_calls,
            )  # fmt: skip
        now = time.monotonic()
        if now - self.last_write < 0.5 and p.phase not in ("done", "deleting"):
            return
        self.last_write = now
        queue.write_progress(
            self.engine,
            self.run_id,
            rows_total=p.rows_total,
            rows_per_s=round(p.rows_per_s, 1),
            eta_s=None if p.eta_s is None else round(p.eta_s, 1),
            api_calls=p.counters.api_calls,
            # While every job waits on SFMC, the run says so ("SFMC is queueing this job (2 min)").
            **({"message": p.phase} if p.phase.startswith("SFMC is") else {}),
        )

    def commit(self, c: Commit) -> None:
        # Rows skipped as refused before are copied in SQL; rows preflight refused for their
        # own values are remembered with their revision (not in a dry run).
        fresh = [(r, _rejection_row(r)) for r in c.rejected if r.copy_of is None]
        ledger.commit_checkpoint(
            self.engine,
            self.run_id,
            pathway_id=self.pathway_id,
            checkpoint_row=None if c.checkpoint_row < 0 else c.checkpoint_row,
            counters=c.counters.as_dict(),
            rejected=[d for _, d in fresh],
            copy_refusals=[r.copy_of for r in c.rejected if r.copy_of is not None],
            refusals=(
                [(r.row, r.source_rev, d) for r, d in fresh if r.source_rev is not None]
                if not self.dry_run
                else ()
            ),
            ledger_upserts=c.ledger_upserts if not self.dry_run else (),
            ledger_deletes=c.ledger_deletes,
            extra={"phase": c.phase},
        )
        n = c.counters
        run_events.record_event(
            self.engine, self.run_id, "batch" if c.phase == "rows" else "deletes",
            f"{n.rows_succeeded:,} written, {n.rows_failed:,} rejected, "
            f"{n.rows_deleted:,} deleted so far",
            rows=None if c.checkpoint_row < 0 else c.checkpoint_row, api_calls=n.api_calls,
        )  # fmt: skip

    def cancelled(self) -> bool:
        # Called per chunk and per batch: one indexed read, cheap next to a batch.
        return self.beat.lost or queue.cancel_requested(self.engine, self.run_id)


class Heartbeat:
    """Keeps the run's heartbeat fresh while long requests are in flight."""

    def __init__(self, engine: Engine, run_id: int, worker_id: str, every: float) -> None:
        self._stop = threading.Event()
        self.lost = False
        self._beat = partial(queue.heartbeat, engine, run_id, worker_id)
        self._every = every
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{run_id}", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            try:
                if not self._beat():
                    self.lost = True
            except Exception:  # a missed beat must not kill the run
                continue

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class Prefetch:
    """The first chunk of an incremental read, read on a thread; taken at most once."""

    def __init__(self, read: Callable[[], list[dict[str, Any]]], after: int) -> None:
        self._after = after
        self._rows: list[dict[str, Any]] | None = None
        self._thread = threading.Thread(target=self._run, args=(read,), daemon=True)
        self._thread.start()

    def _run(self, read: Callable[[], list[dict[str, Any]]]) -> None:
        try:
            self._rows = read()
        except Exception:  # only a head start: the run reads the rows itself
            self._rows = None

    def take(self, after: int) -> list[dict[str, Any]] | None:
        """The chunk if it was read from `after` (None: read it again), then forget it."""
        self._thread.join()
        rows, self._rows = self._rows, None
        return rows if after == self._after else None


def remember_de(
    engine: Engine,
    pathway_id: int,
    *,
    fields: list[dict[str, Any]],
    object_id: str | None,
    customer_key: str,
    name: str,
) -> None:
    """Keep the DE as the run found it: its fields (for drift notes), ids and name."""
    with Session(engine) as session:
        pathway = session.get(Pathway, pathway_id)
        if pathway is None:
            return
        pathway.remote_fields = fields
        pathway.de_object_id = object_id or pathway.de_object_id
        pathway.de_customer_key = customer_key
        pathway.de_name = pathway.de_name or name
        pathway.updated_at = datetime.now(UTC)
        session.add(pathway)
        session.commit()


def _rejection_row(rej: Rejection) -> dict[str, Any]:
    out = rej.outcome
    return {
        "row_values": JsonText(rej.values_json),
        "primary_key": rej.primary_key,
        "field": out.field,
        "error_type": out.error_type or "UnexpectedError",
        "error_details": out.error_details or "",
        "retryable": bool(out.retryable),
    }
