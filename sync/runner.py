"""A run of a pathway, wired to the store: load it, ensure the DE, push, record everything.

`run_pathway` is what the worker (`sync.worker`) and `python -m sync push` execute. Data
Extension pathways go through `sync.push.push_rows`; other destination kinds (membership flag,
contacts, journey events) through `sync.destinations.push_destination`.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sfmc.errors import SfmcConfigError, SfmcError
from sync.ensure import EnsureResult, ensure_data_extension, field_from_dict, field_to_dict
from sync.mapping import FieldMap, de_key_for, de_name_for
from sync.types import (
    Commit,
    Counters,
    Progress,
    PushOptions,
    PushResult,
    PushTarget,
    Rejection,
    noop,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from sfmc.client import SfmcClient


def _json_safe(value: object) -> object:
    if value is None or isinstance(value, str | int | float | bool):
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        return value
    return str(value)


def _rejection_row(rej: Rejection) -> dict[str, Any]:
    out = rej.outcome
    return {
        "row_values": {k: _json_safe(v) for k, v in rej.values.items()},
        "primary_key": rej.primary_key,
        "field": out.field,
        "error_type": out.error_type or "UnexpectedError",
        "error_details": out.error_details or "",
        "retryable": bool(out.retryable),
    }


class _Heartbeat:
    """Keeps the run's heartbeat fresh while long requests are in flight."""

    def __init__(self, engine: Engine, run_id: int, worker_id: str, every: float) -> None:
        from store import queue

        self._stop = threading.Event()
        self.lost = False

        def loop() -> None:
            while not self._stop.wait(every):
                try:
                    if not queue.heartbeat(engine, run_id, worker_id):
                        self.lost = True
                except Exception:  # noqa: BLE001 - a missed beat must not kill the run
                    continue

        self._thread = threading.Thread(target=loop, name=f"heartbeat-{run_id}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _load_run_context(engine: Engine, run_id: int) -> dict[str, Any]:
    from sqlmodel import Session, select

    from store.models import Audience, ColumnMapping, Connection, DataSet, Pathway, SyncRun

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
        columns = {str(c.get("name")) for c in (dataset.columns or [])} if dataset else set()
        for obj in (run, pathway, audience, connection, dataset, *rows):
            if obj is not None:
                session.expunge(obj)
    if audience is None or connection is None:
        msg = "The pathway's audience or connection was deleted; edit or delete the pathway."
        raise SfmcConfigError(msg)
    # Checked before SFMC is touched: a mapped column the data set lacks would silently write
    # empty values (and create an empty field) in every row.
    # Names starting with "_" are columns the engine adds itself (`_row`, generated keys).
    mapped = {m.source_column for m in rows if not m.source_column.startswith("_")}
    unknown = sorted(mapped - columns) if dataset is not None else []
    if unknown:
        msg = (
            f"The column mapping uses {', '.join(repr(u) for u in unknown)}, which the audience's "
            f"data set does not have (its columns: {', '.join(sorted(columns))}). Fix the "
            "mapping on the Column Mapping page, then sync again."
        )
        raise SfmcConfigError(msg)
    mapping = [
        FieldMap(
            source_column=m.source_column,
            destination_field=m.destination_field,
            field_type=m.field_type,
            length=m.length,
            precision=m.precision,
            scale=m.scale,
            required=m.required,
            is_primary_key=m.is_primary_key or m.destination_field in (pathway.primary_keys or []),
        )
        for m in rows
    ]
    return {
        "run": run,
        "pathway": pathway,
        "audience": audience,
        "connection": connection,
        "dataset": dataset,
        "mapping": mapping,
    }


def ledger_fingerprint(
    *, dataset: Any, audience: Any, mapping: list[FieldMap], target: PushTarget
) -> str:
    """What the ledger's source rows are valid for: data set, filters, mapping, DE, method."""
    import hashlib
    import json

    basis = {
        "table": dataset.table_name if dataset is not None else None,
        "filters": audience.filters,
        "mapping": [m.__dict__ if hasattr(m, "__dict__") else repr(m) for m in mapping],
        "de": target.customer_key,
        "keys": list(target.primary_keys),
        "method": target.method,
    }
    text = json.dumps(basis, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def run_pathway(  # noqa: C901, PLR0915 - the run's steps, in order
    engine: Engine,
    run_id: int,
    *,
    client_factory: Callable[[Any], SfmcClient],
    worker_id: str = "inline",
    options: PushOptions | None = None,
    chunk_size: int = 5_000,
    heartbeat_every: float = 5.0,
    on_progress: Callable[[Progress], None] = noop,
) -> PushResult:
    """Execute (or resume) one sync run from the store and record everything it does.

    The run must be "running" and owned by `worker_id` (see `store.queue.claim_next_run`); a
    queued run is taken over directly. Progress, checkpoints, rejected rows and the ledger are
    written as it goes; the final state is one of succeeded / failed / needs_confirm / cancelled.

    Args:
        engine: the store.
        run_id: the run to execute.
        client_factory: builds an `SfmcClient` from the pathway's `Connection` row.
        worker_id: who runs it (for the heartbeat).
        options: transport tuning; run switches (dry run, full re-send, confirm deletes,
            delete guard) come from the run and its pathway.
        chunk_size: audience rows read per chunk (memory is bounded by this and the batches).
        heartbeat_every: seconds between heartbeats.
        on_progress: also called with every progress snapshot (CLI output).

    Returns:
        The `PushResult`; failures are recorded on the run and returned as state "failed".
    """
    # `sync.push` re-exports this module's `run_pathway`: import its engine when a run starts.
    from store import audience_rows, ledger, queue
    from sync.push import push_rows

    base = options or PushOptions()
    queue.mark_running(engine, run_id, worker_id)
    beat = _Heartbeat(engine, run_id, worker_id, heartbeat_every)
    counters = Counters()
    try:
        ctx = _load_run_context(engine, run_id)
        run, pathway, audience = ctx["run"], ctx["pathway"], ctx["audience"]
        client = client_factory(ctx["connection"])
        customer_key = pathway.de_customer_key or de_key_for(
            ctx["connection"].client_id, audience.id
        )
        name = pathway.de_name or de_name_for(audience.name)
        # Other destination kinds (membership flag, contacts, journey events): sync.destinations.
        other_kind = (pathway.destination_kind or "data_extension") != "data_extension"
        ensured = None
        # While the DE is looked up (SOAP round trips), read the first chunk of rows an
        # incremental run would send: used only if the run turns out incremental on the same
        # basis (no DE created, no field added), else dropped.
        early = _prefetch_changed(
            engine,
            ctx,
            after=int((run.checkpoint or {}).get("row", 0) or 0),
            chunk_size=chunk_size,
            enabled=not other_kind and not run.dry_run and not run.full_resend,
        )
        if not other_kind:
            ensured = ensure_data_extension(
                client,
                name=name,
                customer_key=customer_key,
                category_id=pathway.category_id,
                mapping=ctx["mapping"],
                previous_fields=[field_from_dict(f) for f in pathway.remote_fields or []],
                dry_run=run.dry_run,
            )
        if ensured is not None and not run.dry_run:
            _remember_de(engine, pathway.id, ensured, customer_key, name)
            if ensured.created or ensured.added:
                # A new DE, or fields added to one (e.g. a field removed in SFMC and put back):
                # rows in the DE lack those values, so every row must be sent again.
                ledger.clear_ledger(engine, pathway.id)
        # Calls made so far (token, DE lookup/description/creation) belong to the run too.
        setup_calls = int(getattr(client, "api_calls", 0) or 0)
        checkpoint = run.checkpoint or {}
        if checkpoint.get("row") and ensured is not None and ensured.created and not run.dry_run:
            # The DE vanished since this run's checkpoint: the rows sent before it are gone too.
            ledger.clear_rejected_after(engine, run_id)
            queue.write_progress(engine, run_id, checkpoint={})
            checkpoint = {}
        resume_row = int(checkpoint.get("row", 0) or 0)
        counters = Counters.from_dict(checkpoint.get("counters"))
        counters.api_calls += setup_calls
        rows_total = audience_rows.count_rows(engine, audience.id)
        notes = " ".join(ensured.notes) if ensured is not None else ""
        queue.write_progress(
            engine,
            run_id,
            rows_total=rows_total,
            message=(notes + " " if notes else "")
            + (f"Resuming after row {resume_row}." if resume_row else "Sending rows."),
        )
        opts = replace(
            base,
            dry_run=run.dry_run,
            incremental=not run.full_resend,
            confirm_deletes=run.confirm_deletes,
            delete_guard_share=pathway.delete_guard_share,
        )
        last_write = [0.0]

        def progress(p: Progress) -> None:
            on_progress(p)
            now = time.monotonic()
            if now - last_write[0] < 0.5 and p.phase not in ("done", "deleting"):
                return
            last_write[0] = now
            queue.write_progress(
                engine,
                run_id,
                rows_total=p.rows_total,
                rows_per_s=round(p.rows_per_s, 1),
                eta_s=None if p.eta_s is None else round(p.eta_s, 1),
                api_calls=p.counters.api_calls,
            )

        def commit(c: Commit) -> None:
            # Rows skipped as refused before are copied in SQL; rows preflight refused for
            # their own values are remembered with their revision (not in a dry run).
            fresh = [(r, _rejection_row(r)) for r in c.rejected if r.copy_of is None]
            ledger.commit_checkpoint(
                engine,
                run_id,
                pathway_id=pathway.id,
                checkpoint_row=None if c.checkpoint_row < 0 else c.checkpoint_row,
                counters=c.counters.as_dict(),
                rejected=[d for _, d in fresh],
                copy_refusals=[r.copy_of for r in c.rejected if r.copy_of is not None],
                refusals=(
                    [(r.row, r.source_rev, d) for r, d in fresh if r.source_rev is not None]
                    if not run.dry_run
                    else ()
                ),
                ledger_upserts=c.ledger_upserts if not run.dry_run else (),
                ledger_deletes=c.ledger_deletes,
                extra={"phase": c.phase},
            )

        def cancelled() -> bool:
            # Called per chunk and per batch: one indexed read, cheap next to a batch.
            return beat.lost or queue.cancel_requested(engine, run_id)

        key_columns = [
            m.source_column
            for m in (ensured.mapping if ensured else ctx["mapping"])
            if m.is_primary_key
        ]

        def key_chunks(after: int) -> Iterator[list[dict[str, Any]]]:
            return audience_rows.iter_rows(
                engine, audience.id, chunk_size=20_000, after_row=after, columns=key_columns
            )

        dataset = ctx["dataset"]
        revisions = ensured is not None and dataset is not None
        if revisions:
            from store.revisions import ensure_row_revisions

            ensure_row_revisions(engine, dataset.table_name)

        def chunks(after: int) -> Iterator[list[dict[str, Any]]]:
            return audience_rows.iter_rows(
                engine,
                audience.id,
                chunk_size=chunk_size,
                after_row=after,
                with_revision=revisions,
            )

        # Append-only event tables: a UUID key per row and run (stable on resume), so every run
        # appends its rows and nothing is compared with earlier runs.
        generated_key = ensured is not None and bool((pathway.options or {}).get("generated_key"))
        if generated_key:
            from sync.destinations import GENERATED_KEY_COLUMN, with_generated_keys

            namespace = f"pathway:{pathway.id}:run:{run_id}"
            key_columns = [c for c in key_columns if c != GENERATED_KEY_COLUMN]
            chunks = with_generated_keys(chunks, namespace=namespace)  # type: ignore[assignment]
            key_chunks = with_generated_keys(key_chunks, namespace=namespace)  # type: ignore[assignment]

        if ensured is None:
            from sync.destinations import DestinationSettings, ledger_keys, push_destination

            result = push_destination(
                DestinationSettings.from_pathway(pathway),
                chunks,
                mapping=ctx["mapping"],
                client=client,
                options=opts,
                rows_total=rows_total,
                ledger_lookup=(lambda keys: ledger.ledger_lookup(engine, pathway.id, keys)),
                ledger_keys=lambda: ledger_keys(engine, pathway.id),
                resume_row=resume_row,
                resume_counters=counters,
                on_progress=progress,
                on_commit=commit,
                should_cancel=cancelled,
            )
            queue.finish_run(
                engine,
                run_id,
                result.state,
                message=result.message or _summary(result, notes),
                plan=result.plan or None,
                counters={**result.counters.as_dict(), "eta_s": 0.0},
            )
            return result
        target = PushTarget(
            customer_key=customer_key,
            fields=ensured.fields,
            primary_keys=tuple(f.name for f in ensured.fields if f.is_primary_key),
            method=pathway.method,
        )
        # A first sync (or one after the DE was recreated) has nothing to compare with: skip the
        # per-chunk ledger lookups.
        has_ledger = (
            not run.full_resend and not generated_key and ledger.ledger_has_rows(engine, pathway.id)
        )
        fingerprint = ledger_fingerprint(
            dataset=dataset, audience=audience, mapping=ensured.mapping, target=target
        )
        if run.dry_run:
            same_basis = ledger.ledger_fingerprint(engine, pathway.id) == fingerprint
        else:
            # Before any ledger entry of this run is written: they are valid for this basis.
            same_basis = ledger.use_ledger_fingerprint(engine, pathway.id, fingerprint)
        changed_only = has_ledger and same_basis and revisions

        usable = early is not None and not (ensured.created or ensured.added)

        def changed_chunks(after: int) -> Iterator[list[dict[str, Any]]]:
            first = early.take(after) if usable else None  # type: ignore[union-attr]
            if first is not None:
                if first:
                    yield first
                if len(first) < chunk_size:
                    return
                after = first[-1]["_row"]
            yield from audience_rows.iter_rows(
                engine,
                audience.id,
                chunk_size=chunk_size,
                after_row=after,
                row_filter=ledger.UnsyncedRows(pathway.id),
            )

        def span(after: int, upto: int | None) -> tuple[int, int]:
            return audience_rows.count_span(engine, audience.id, after_row=after, upto_row=upto)

        def holders(keys: Any) -> dict[str, int]:
            return ledger.ledger_holders(engine, pathway.id, dataset.table_name, keys)

        result = push_rows(
            chunks,
            target=target,
            mapping=ensured.mapping,
            client=client,
            options=opts,
            rows_total=rows_total,
            ledger_lookup=(
                (lambda keys: ledger.ledger_lookup(engine, pathway.id, keys))
                if has_ledger
                else None
            ),
            resume_row=resume_row,
            resume_counters=counters,
            on_progress=progress,
            on_commit=commit,
            should_cancel=cancelled,
            de_exists=not (run.dry_run and ensured.created),
            read_key_chunks=key_chunks,
            read_changed=changed_chunks if changed_only else None,
            audience_span=span if changed_only else None,
            key_holders=holders if changed_only else None,
        )
        if run.dry_run:
            result.plan.update(
                {
                    "de_exists": not ensured.created,
                    "de_fields_to_add": list(ensured.added),
                    "notes": list(ensured.notes),
                }
            )
        message = result.message or _summary(result, notes)
        queue.finish_run(
            engine,
            run_id,
            result.state,
            message=message,
            plan=result.plan or None,
            counters={**result.counters.as_dict(), "eta_s": 0.0},
        )
        return result
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the run
        error = (
            str(exc) if isinstance(exc, SfmcError | LookupError) else f"{type(exc).__name__}: {exc}"
        )
        queue.finish_run(engine, run_id, "failed", error=error, message=f"Sync failed: {error}")
        return PushResult("failed", counters, message=error)
    finally:
        beat.stop()


class _Prefetch:
    """The first chunk of `iter_rows(row_filter=UnsyncedRows(...))`, read on a thread; taken at most once."""

    def __init__(self, read: Callable[[], list[dict[str, Any]]], after: int) -> None:
        self._after = after
        self._rows: list[dict[str, Any]] | None = None
        self._thread = threading.Thread(target=self._run, args=(read,), daemon=True)
        self._thread.start()

    def _run(self, read: Callable[[], list[dict[str, Any]]]) -> None:
        try:
            self._rows = read()
        except Exception:  # noqa: BLE001 - only a head start: the run reads the rows itself
            self._rows = None

    def take(self, after: int) -> list[dict[str, Any]] | None:
        """The chunk if it was read from `after` (None: read it again), then forget it."""
        self._thread.join()
        rows, self._rows = self._rows, None
        return rows if after == self._after else None


def _prefetch_changed(
    engine: Engine, ctx: dict[str, Any], *, after: int, chunk_size: int, enabled: bool
) -> _Prefetch | None:
    from store import audience_rows, ledger

    pathway, dataset = ctx["pathway"], ctx["dataset"]
    if (
        not enabled
        or dataset is None
        or (pathway.options or {}).get("generated_key")
        or not pathway.ledger_fingerprint
        or not ledger.ledger_has_rows(engine, pathway.id)
    ):
        return None

    def read() -> list[dict[str, Any]]:
        from store.revisions import ensure_row_revisions

        ensure_row_revisions(engine, dataset.table_name)
        chunks = audience_rows.iter_rows(
            engine,
            ctx["audience"].id,
            chunk_size=chunk_size,
            after_row=after,
            row_filter=ledger.UnsyncedRows(pathway.id),
        )
        return next(iter(chunks), [])

    return _Prefetch(read, after)


def _summary(result: PushResult, notes: str) -> str:
    c = result.counters
    if result.state == "cancelled":
        head = "Cancelled by request."
    else:
        head = "Sync finished."
    text = (
        f"{head} {c.rows_succeeded:,} rows written, {c.rows_failed:,} rejected, "
        f"{c.rows_skipped:,} skipped, {c.rows_deleted:,} deleted; {c.api_calls:,} API calls."
    )
    return f"{text} {notes}".strip()


def _remember_de(
    engine: Engine, pathway_id: int, ensured: EnsureResult, customer_key: str, name: str
) -> None:
    from datetime import UTC, datetime

    from sqlmodel import Session

    from store.models import Pathway

    with Session(engine) as session:
        pathway = session.get(Pathway, pathway_id)
        if pathway is None:
            return
        pathway.remote_fields = [field_to_dict(f) for f in ensured.de.fields]
        pathway.de_object_id = ensured.de.object_id or pathway.de_object_id
        pathway.de_customer_key = customer_key
        pathway.de_name = pathway.de_name or name
        pathway.updated_at = datetime.now(UTC)
        session.add(pathway)
        session.commit()
