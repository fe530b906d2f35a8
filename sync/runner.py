"""A run of a pathway, wired to the store: load it, ensure the DE, push, record everything.

The one module that joins the sync engine, the SFMC client and the store: it builds the run's
`RunIO` (audience reads, ledger, resume point, progress, commits, cancel flag) from the store
and hands it to the engine, which never imports the store. `run_pathway` is what the worker
(`sync.worker`) and `python -m sync push` execute. Data Extension pathways go through
`sync.push.push_rows`; other destination kinds (membership flag, contacts, journey events)
through `sync.destinations.push_destination`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from store import alerts, audience_rows, ledger, queue, run_changes
from store.audit import record_audit
from store.revisions import ensure_row_revisions
from sync.alerts import send_alert
from sync.destinations import (
    DATA_EXTENSION,
    GENERATED_KEY_COLUMN,
    DestinationSettings,
    push_destination,
    with_generated_keys,
)
from sync.ensure import EnsureResult, ensure_data_extension, field_from_dict, field_to_dict
from sync.mapping import FieldMap, de_key_for, de_name_for
from sync.push import push_rows
from sync.run_store import (
    AudienceReads,
    Heartbeat,
    Prefetch,
    Recorder,
    RunContext,
    UnsyncedReads,
    load_run_context,
    remember_de,
)
from sync.sending import retention_from_options, sending_from_options
from sync.types import (
    ChangedRows,
    Counters,
    Progress,
    PushOptions,
    PushResult,
    PushTarget,
    ReadChunks,
    RunError,
    RunIO,
    noop,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from sfmc.client import SfmcClient


def run_pathway(
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
        The `PushResult`; failures are recorded on the run (message, error kind and its facts,
        see `RunError`) and returned as state "failed".
    """
    queue.mark_running(engine, run_id, worker_id)
    beat = Heartbeat(engine, run_id, worker_id, heartbeat_every)
    run = _Run(engine, run_id, beat=beat, chunk_size=chunk_size, on_progress=on_progress)
    try:
        result = run.execute(client_factory, options or PushOptions())
    except Exception as exc:  # every failure is recorded on the run
        result = run.fail(exc)
    finally:
        beat.stop()
    send_run_alert(engine, run_id)
    return result


def send_run_alert(engine: Engine, run_id: int) -> None:
    """Send the alert a finished run calls for (`store.alerts`), and audit what became of it.

    Never raises: the run is recorded already, and an alert that cannot be sent must not
    change it. The audit log says which channel failed and why (never a secret).
    """
    try:
        delivery = alerts.delivery_for_run(engine, run_id)
        problems = send_alert(delivery) if delivery is not None else []
    except Exception as exc:  # e.g. the secret key changed since the alert was saved
        delivery, problems = None, [f"{type(exc).__name__}: {str(exc)[:200]}"]
    if delivery is None and not problems:
        return
    with Session(engine) as session:
        for problem in problems:
            record_audit("system", "alert failed", f"run {run_id}: {problem}", session=session)
        if delivery is not None and not problems:
            record_audit(
                "system", "alert sent", f"run {run_id}: {delivery.subject}", session=session
            )


class _Run:
    """One execution of `run_pathway`: its steps, in order, and what they share."""

    def __init__(
        self,
        engine: Engine,
        run_id: int,
        *,
        beat: Heartbeat,
        chunk_size: int,
        on_progress: Callable[[Progress], None],
    ) -> None:
        self.engine = engine
        self.run_id = run_id
        self.beat = beat
        self.chunk_size = chunk_size
        self.on_progress = on_progress
        self.counters = Counters()  # restored from the checkpoint once the run is loaded
        self.resume_row = 0
        self.rows_total = 0
        self.counting: Future[int] | None = None  # the audience's size, counted meanwhile
        self.notes = ""

    def execute(self, client_factory: Callable[[Any], SfmcClient], base: PushOptions) -> PushResult:
        ctx = load_run_context(self.engine, self.run_id)
        # Counting scans the audience's table (0.3 s per million rows): done while SFMC answers.
        counter = ThreadPoolExecutor(1, thread_name_prefix="count")
        self.counting = counter.submit(audience_rows.count_rows, self.engine, ctx.audience.id)
        counter.shutdown(wait=False)
        client = client_factory(ctx.connection)
        pathway = ctx.pathway
        client.act_for_folder(pathway.category_id)  # a shared folder: SOAP acts as its owner
        options = replace(
            base,
            dry_run=ctx.run.dry_run,
            incremental=not ctx.run.full_resend,
            confirm_deletes=ctx.run.confirm_deletes,
            delete_guard_share=pathway.delete_guard_share,
        )
        if (pathway.destination_kind or DATA_EXTENSION) == DATA_EXTENSION:
            result = self.push_de(ctx, client, options)
        else:
            result = self.push_other(ctx, client, options)
        queue.finish_run(
            self.engine,
            self.run_id,
            result.state,
            message=result.message or _summary(result, self.notes),
            plan=result.plan or None,
            counters={**result.counters.as_dict(), "eta_s": 0.0},
        )
        run_changes.record_changes(self.engine, self.run_id, pathway.id, result.plan)
        return result

    def fail(self, exc: Exception) -> PushResult:
        """Record a failed run: message, error kind and facts (`RunError`)."""
        error = RunError.from_exception(exc)
        queue.finish_run(
            self.engine,
            self.run_id,
            "failed",
            error=error.message,
            error_kind=error.kind,
            error_detail=json.loads(json.dumps(error.detail, default=str)),
            message=f"Sync failed: {error.message}",
        )
        return PushResult("failed", self.counters, message=error.message)

    def push_other(self, ctx: RunContext, client: SfmcClient, options: PushOptions) -> PushResult:
        """Membership flag, contacts, journey events (`sync.destinations`)."""
        self.start(ctx, client, None)
        pathway_id = ctx.pathway.id
        audience = AudienceReads(self.engine, ctx.audience.id, self.chunk_size, [], False)
        io = self.io(
            audience.rows,
            ledger_lookup=partial(ledger.ledger_lookup, self.engine, pathway_id),
            ledger_keys=partial(ledger.ledger_keys, self.engine, pathway_id),
            ctx=ctx,
        )
        settings = DestinationSettings.from_pathway(ctx.pathway)
        return push_destination(settings, io, mapping=ctx.mapping, client=client, options=options)

    def push_de(self, ctx: RunContext, client: SfmcClient, options: PushOptions) -> PushResult:
        """A Data Extension of its own: ensure it, then push the audience into it."""
        run, pathway, audience = ctx.run, ctx.pathway, ctx.audience
        customer_key = pathway.de_customer_key or de_key_for(ctx.connection.client_id, audience.id)
        name = pathway.de_name or de_name_for(audience.name)
        # While the DE is looked up (SOAP round trips), read the first chunk of rows an
        # incremental run would send: used only if the run turns out incremental on the same
        # basis (no DE created, no field added), else dropped.
        early = self.prefetch(ctx) if not run.dry_run and not run.full_resend else None
        ensured = ensure_data_extension(
            client,
            name=name,
            customer_key=customer_key,
            category_id=pathway.category_id,
            mapping=ctx.mapping,
            previous_fields=[field_from_dict(f) for f in pathway.remote_fields or []],
            dry_run=run.dry_run,
            sending=sending_from_options(pathway.options),
            retention=retention_from_options(pathway.options),
        )
        if not run.dry_run:
            remember_de(
                self.engine,
                pathway.id,
                fields=[field_to_dict(f) for f in ensured.de.fields],
                object_id=ensured.de.object_id,
                customer_key=customer_key,
                name=name,
            )
            if ensured.created or ensured.added:
                # A new DE, or fields added to one (e.g. a field removed in SFMC and put back):
                # rows in the DE lack those values, so every row must be sent again.
                ledger.clear_ledger(self.engine, pathway.id)
        self.start(ctx, client, ensured)
        target = PushTarget(
            customer_key=customer_key,
            fields=ensured.fields,
            primary_keys=tuple(f.name for f in ensured.fields if f.is_primary_key),
            method=pathway.method,
            time_zone=ctx.connection.time_zone,
        )
        if ensured.created or ensured.added:
            early = None
        io = self.de_io(ctx, ensured, target, early)
        de_exists = not (run.dry_run and ensured.created)
        mapping = ensured.mapping
        result = push_rows(
            io, target=target, mapping=mapping, client=client, options=options, de_exists=de_exists
        )
        if run.dry_run:
            result.plan.update(
                {
                    "de_exists": not ensured.created,
                    "de_fields_to_add": list(ensured.added),
                    "notes": list(ensured.notes),
                }
            )
        return result

    def start(self, ctx: RunContext, client: SfmcClient, ensured: EnsureResult | None) -> None:
        """Find the resume point and the audience size; say the run is sending."""
        run = ctx.run
        # Calls made so far (token, DE lookup/description/creation) belong to the run too.
        setup_calls = int(getattr(client, "api_calls", 0) or 0)
        checkpoint = run.checkpoint or {}
        if checkpoint.get("row") and ensured is not None and ensured.created and not run.dry_run:
            # The DE vanished since this run's checkpoint: the rows sent before it are gone too.
            ledger.clear_rejected_after(self.engine, self.run_id)
            queue.write_progress(self.engine, self.run_id, checkpoint={})
            checkpoint = {}
        self.resume_row = int(checkpoint.get("row", 0) or 0)
        self.counters = Counters.from_dict(checkpoint.get("counters"))
        self.counters.api_calls += setup_calls
        assert self.counting is not None  # started by `execute`
        self.rows_total = self.counting.result()
        self.notes = " ".join(ensured.notes) if ensured is not None else ""
        resuming = f"Resuming after row {self.resume_row}." if self.resume_row else "Sending rows."
        queue.write_progress(
            self.engine,
            self.run_id,
            rows_total=self.rows_total,
            message=(self.notes + " " if self.notes else "") + resuming,
        )
        run_changes.start_counting(self.engine, self.run_id, ctx.pathway.id)

    def de_io(
        self, ctx: RunContext, ensured: EnsureResult, target: PushTarget, early: Prefetch | None
    ) -> RunIO:
        """The reads of a DE push: full, keys only and, when the ledger allows, changed rows."""
        engine, pathway, dataset = self.engine, ctx.pathway, ctx.dataset
        key_columns = [m.source_column for m in ensured.mapping if m.is_primary_key]
        if ctx.generated_key:
            key_columns = [c for c in key_columns if c != GENERATED_KEY_COLUMN]
        revisions = dataset is not None
        if dataset is not None:
            ensure_row_revisions(engine, dataset.table_name)
        # A dry run reads the mapped columns alone (a real run keeps whole rows for its rejects).
        mapped = list(dict.fromkeys(m.source_column for m in ensured.mapping))
        mapped = [c for c in mapped if not c.startswith("_")]
        audience = AudienceReads(engine, ctx.audience.id, self.chunk_size, key_columns, revisions,
                                 mapped if ctx.run.dry_run else None)  # fmt: skip
        read: ReadChunks = audience.rows
        read_keys: ReadChunks = audience.keys
        if ctx.generated_key:
            # Append-only event tables: a UUID key per row and run (stable on resume), so every
            # run appends its rows and nothing is compared with earlier runs.
            namespace = f"pathway:{pathway.id}:run:{self.run_id}"
            read = with_generated_keys(read, namespace=namespace)
            read_keys = with_generated_keys(read_keys, namespace=namespace)
        # A first sync (or one after the DE was recreated) has nothing to compare with: skip
        # the per-chunk ledger lookups.
        has_ledger = (
            not ctx.run.full_resend
            and not ctx.generated_key
            and ledger.ledger_has_rows(engine, pathway.id)
        )
        fingerprint = ledger_fingerprint(
            dataset=dataset, audience=ctx.audience, mapping=list(ensured.mapping), target=target
        )
        if ctx.run.dry_run:
            same_basis = ledger.ledger_fingerprint(engine, pathway.id) == fingerprint
        else:
            # Before any ledger entry of this run is written: they are valid for this basis.
            same_basis = ledger.use_ledger_fingerprint(engine, pathway.id, fingerprint)
        changed = None
        if has_ledger and same_basis and dataset is not None:
            unsynced = UnsyncedReads(audience, pathway.id, early)
            holders = partial(ledger.ledger_holders, engine, pathway.id, dataset.table_name)
            changed = ChangedRows(unsynced.read, audience.span, holders)
        lookup = partial(ledger.ledger_lookup, engine, pathway.id) if has_ledger else None
        return self.io(
            read, ledger_lookup=lookup, read_key_chunks=read_keys, changed=changed, ctx=ctx
        )

    def io(self, read: ReadChunks, *, ctx: RunContext, **reads: Any) -> RunIO:
        """The run's `RunIO`: `read` and `reads` plus the store-backed reporting."""
        recorder = Recorder(
            self.engine,
            self.run_id,
            pathway_id=ctx.pathway.id,
            dry_run=ctx.run.dry_run,
            beat=self.beat,
            on_progress=self.on_progress,
        )
        return RunIO(
            read,
            rows_total=self.rows_total,
            resume_row=self.resume_row,
            resume_counters=self.counters,
            on_progress=recorder.progress,
            on_commit=recorder.commit,
            should_cancel=recorder.cancelled,
            **reads,
        )

    def prefetch(self, ctx: RunContext) -> Prefetch | None:
        """Start reading the first chunk of changed rows, if the run may be incremental."""
        engine, pathway, dataset = self.engine, ctx.pathway, ctx.dataset
        if (
            dataset is None
            or ctx.generated_key
            or not pathway.ledger_fingerprint
            or not ledger.ledger_has_rows(engine, pathway.id)
        ):
            return None
        after = int((ctx.run.checkpoint or {}).get("row", 0) or 0)
        audience = AudienceReads(engine, ctx.audience.id, self.chunk_size, [], True)
        unsynced = UnsyncedReads(audience, pathway.id, None)
        return Prefetch(partial(unsynced.first, dataset.table_name, after), after)


def ledger_fingerprint(
    *, dataset: Any, audience: Any, mapping: list[FieldMap], target: PushTarget
) -> str:
    """What the ledger's source rows are valid for: data set, filters, mapping, DE, method."""
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


def _summary(result: PushResult, notes: str) -> str:
    c = result.counters
    head = "Cancelled by request." if result.state == "cancelled" else "Sync finished."
    text = (
        f"{head} {c.rows_succeeded:,} rows written, {c.rows_failed:,} rejected, "
        f"{c.rows_skipped:,} skipped, {c.rows_deleted:,} deleted; {c.api_calls:,} API calls."
    )
    return f"{text} {notes}".strip()
