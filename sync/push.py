"""The sync engine: push an audience into its Data Extension, correctly, fast, and with nothing lost.

`push_rows(io, ...)` (STYLE H8) is UI-free and store-free: it maps, preflights, batches and sends
rows, reads SFMC's per-row verdicts and reports progress and *commits* through its `RunIO`. A
commit is the contiguous prefix of the audience that is fully acknowledged (sent and answered,
skipped or rejected); its checkpoint is the `_row` of the last row in it, so a crashed run can
resume right after it and nothing is lost or sent twice beyond idempotent upserts.

The runner (`sync.runner.run_pathway`) builds the `RunIO` from the store and ensures the DE
first. The engine's parts: `sync.types` (plain data), `sync.plan` (what each method does to the
DE), `sync.dryrun` (dry runs), `sync.sender` (async requests in flight; `sync.queue_clock` times their polls),
`sync.tally` (counters, progress, commits), `sync.keyset` (per-row key state, on disk past a
few thousand keys, so memory stays flat at any audience size).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sfmc.rows import ASYNC_MAX_ROWS
from sfmc.types import RowOutcome
from sync.dryrun import dry_run
from sync.keyset import KeySet
from sync.mapping import FieldMap, RowConverter, RowHasher, key_display
from sync.plan import (
    RowJudge,
    audience_keys,
    delete_guard,
    delete_stale,
    key_converter,
    read_remote_keys,
    stale_keys,
)
from sync.preflight import Preflight
from sync.sender import Batch, Pacer, Pipeline, Sender
from sync.tally import Tally
from sync.types import (
    METHODS,
    ChangedRows,
    Commit,
    PushCancelled,
    PushOptions,
    PushResult,
    PushTarget,
    Rejection,
    RunIO,
    SentRow,
    SetupError,
    original_json,
)
from sync.values import tenant_zone

if TYPE_CHECKING:
    from sfmc.client import SfmcClient

# Ramp up, doubling: SFMC starts on a small batch while the next (twice as big) is prepared.
# Then batches as large as SFMC takes (`PushOptions.batch_rows`, `max_bytes`): fewer requests
# (submits and status polls) per million rows, at the same throughput.
_RAMP = (500, 1_000, 2_000, 4_000, 8_000, 16_000)
# Methods that need the DE's keys before sending (Upsert writes whatever the DE holds).
_READS_REMOTE = ("mirror", "append", "update_only")


def push_rows(
    io: RunIO,
    *,
    target: PushTarget,
    mapping: Sequence[FieldMap],
    client: SfmcClient,
    options: PushOptions | None = None,
    de_exists: bool = True,
) -> PushResult:
    """Push audience rows into a Data Extension (which must exist; see `ensure_data_extension`).

    Args:
        io: the audience, ledger, resume point, progress and commit callbacks, cancel check.
            `io.changed` (an incremental read) is used by Upsert, Append and Update Only when
            the run is incremental; Mirror also re-sends rows missing from the DE: full pass.
        target: DE key, fields, primary key and method.
        mapping: source column -> DE field; destination names must match `target.fields`.
        client: a thread-safe SFMC client.
        options: run switches and transport tuning.
        de_exists: False when the DE does not exist yet (dry run before creation): no keys to read.

    Returns:
        A `PushResult`. Rows SFMC or preflight refused are in the commits (and a sample here).

    Raises:
        SfmcError: a request failed for good (after the client's retries); the commits made so
            far stay valid, so the run can be resumed.
    """
    options = options or PushOptions()
    method = target.method
    if method not in METHODS:
        msg = f"Unknown method of sync {method!r}; use one of {', '.join(METHODS)}."
        raise SetupError(msg, kind="unknown_method", detail={"method": method})
    changed_only = io.changed is not None and options.incremental and method != "mirror"
    zone = tenant_zone(target.time_zone)
    converter = RowConverter(mapping, zone)
    preflight = Preflight(target.fields, target.primary_keys)
    tally = Tally(client, io)
    pacer = Pacer(options.max_requests_per_s)
    remote = KeySet()
    judge = RowJudge(
        method,
        converter,
        preflight,
        RowHasher(converter.field_names),
        remote,
        key_converter(mapping, preflight, zone),
    )
    with ThreadPoolExecutor(1, thread_name_prefix="keys") as background:
        reading = None
        if de_exists and (options.dry_run or method in _READS_REMOTE):
            tally.progress("reading keys")
            reading = background.submit(
                read_remote_keys,
                client,
                target.customer_key,
                preflight.key_fields,
                pace=pacer.wait,
                keep_values=method == "mirror" and not options.dry_run,
            )
        if options.dry_run:  # the rows are judged while the keys are read
            return dry_run(
                io,
                judge,
                reading,
                tally=tally,
                incremental=options.incremental,
                changed_only=changed_only,
            )
        # Meanwhile, the audience's own pre-pass (Mirror's guard, a resume).
        audience = audience_keys(io, mapping, preflight, method=method)
        if reading is not None:
            remote = reading.result()
    judge = replace(judge, remote=remote)
    to_delete = stale_keys(remote, audience) if method == "mirror" else KeySet()
    try:
        return _push(io, judge, client, target, options, tally, pacer, to_delete, changed_only)
    finally:
        for keys in (remote, audience, to_delete, preflight.seen):
            if keys is not None:
                keys.close()


def _push(
    io: RunIO,
    judge: RowJudge,
    client: SfmcClient,
    target: PushTarget,
    options: PushOptions,
    tally: Tally,
    pacer: Pacer,
    to_delete: KeySet,
    changed_only: bool,
) -> PushResult:
    """The part of `push_rows` after the keys are known: guard, then send (and delete)."""
    refusal = delete_guard(to_delete, len(judge.remote), options)
    if refusal is not None:
        plan, message = refusal
        return PushResult("needs_confirm", tally.snapshot(), plan=plan, message=message)
    loop = _SendLoop(
        io, judge, client=client, target=target, options=options, tally=tally, pacer=pacer
    )
    deletes = None
    if to_delete:
        # Deletes start as soon as the leavers are known, alongside the upserts.
        def deletes(commit: Callable[[Commit], None], stop: Callable[[], bool]) -> bool:
            return delete_stale(
                client,
                target,
                to_delete,
                options=options,
                key_fields=judge.preflight.key_fields,
                on_commit=commit,
                tally=tally,
                pace=pacer.wait,
                should_stop=stop,
            )

    state = loop.run(io.changed if changed_only else None, deletes)
    tally.progress("done")
    return PushResult(state, tally.snapshot(), rejected_sample=tally.sample)


# Work done alongside the send loop: called with the commit writer's `put` and a stop check;
# returns False when it stopped before its end.
_SideWork = Callable[[Callable[[Commit], None], Callable[[], bool]], bool]


class _SendLoop:
    """The send phase: rows converted, judged and batched here; the `Pipeline` sends them.

    Batches are closed in audience order and committed in that order once answered, so each
    commit's checkpoint covers exactly the rows before it.
    """

    def __init__(
        self,
        io: RunIO,
        judge: RowJudge,
        *,
        client: SfmcClient,
        target: PushTarget,
        options: PushOptions,
        tally: Tally,
        pacer: Pacer,
    ) -> None:
        self.io = io
        self.judge = judge
        self.options = options
        self.tally = tally
        self.lookup = io.ledger_lookup if options.incremental else None
        self.key_names = target.primary_keys
        self.cap = max(1, min(options.batch_rows, ASYNC_MAX_ROWS))
        self.ramp = [min(self.cap, n) for n in _RAMP]
        self.pipeline = Pipeline(
            Sender(client, target, options, pacer),
            in_flight=options.in_flight,
            tally=tally,
            key_names=self.key_names,
            on_commit=io.on_commit,
        )
        self.batch = Batch(0)
        self.limit = self.ramp[0]
        # Audience rows per batch at most (rows to send, rejected and skipped alike), so the
        # rows held in memory are bounded even when most are rejected (Update Only).
        self.row_cap = self.cap
        self.changed: ChangedRows | None = None
        self.accounted = io.resume_row  # incremental: audience rows up to here are counted

    def run(self, changed: ChangedRows | None, side: _SideWork | None = None) -> str:
        """Send every row after the resume point; "succeeded" or "cancelled".

        `side` (Mirror's deletes) runs on its own thread meanwhile, committing through the
        same writer; it is told to stop when the send ends early, and its error is raised.
        """
        self.changed = changed
        reader = changed.read if changed is not None else self.io.read_chunks
        should_cancel = self.io.should_cancel
        last_progress = 0.0
        stopping = threading.Event()
        helper = ThreadPoolExecutor(1, thread_name_prefix="deletes")
        side_done = None
        if side is not None:
            side_done = helper.submit(
                side, self.pipeline.writer.put, lambda: stopping.is_set() or should_cancel()
            )
        try:
            for chunk in reader(self.io.resume_row):
                if should_cancel():
                    raise PushCancelled
                self.add_chunk(chunk)
                now = time.monotonic()
                if now - last_progress > 0.5:
                    last_progress = now
                    self.tally.progress("sending", self.pipeline.in_flight)
            self.close_batch(final=True)
            self.pipeline.drain()
            if side_done is not None and not side_done.result():
                return "cancelled"  # asked to stop before its end
        except PushCancelled:
            self.pipeline.drain()  # the open batch was not sent: it is not acknowledged
            return "cancelled"
        finally:
            stopping.set()
            helper.shutdown(wait=True)
            self.pipeline.close()
        return "succeeded"

    def add_chunk(self, chunk: Sequence[Mapping[str, Any]]) -> None:
        """Judge each row of a chunk; rows to send go into batches, closed when full."""
        judge = self.judge
        hasher, verdict = judge.hasher, judge.verdict
        mirror, append = judge.method == "mirror", judge.method == "append"
        # The chunk's keys the DE has and their duplicate flags: one lookup per chunk.
        converted, keys, in_de, used = judge.convert(chunk)
        columns = tuple(chunk[0]) if chunk else ()  # every row of a read has the same columns
        present = [k for k in keys if k]
        known: Mapping[str, str] = self.lookup(present) if self.lookup is not None else {}
        holders = self.changed.holders(present) if self.changed is not None else {}
        max_bytes = self.options.max_bytes
        for row, values, key, dup in zip(chunk, converted, keys, used, strict=True):
            if self.batch.n_rows >= self.row_cap:
                # Rows held per batch stay bounded however many are rejected or skipped.
                self.close_batch()
            batch = self.batch
            batch.n_rows += 1
            batch.last_row = row_no = row["_row"]
            if row.get("_refused") is not None:
                self.refused_before(row, values, key)
                continue
            outcome, own = verdict(row, values, key, holders, in_de, dup)
            if outcome is not None:
                # Refused for its own values: remembered with its revision.
                rev = row.get("_rev") if own else None
                batch.rejected.append(self.rejection(row, values, outcome, source_rev=rev))
                continue
            if append and key in in_de:
                batch.skipped += 1
                continue
            digest, size = hasher(values)
            if known and known.get(key) == digest and (not mirror or key in in_de):
                batch.skipped += 1
                rev = row.get("_rev")
                if rev is not None:
                    batch.touched.append((key, digest, row_no, rev))
                continue
            batch.items.append(values)
            batch.meta.append(
                SentRow(row_no, key, digest, row.get("_rev"), columns, (*row.values(),))
            )
            batch.bytes += size
            if len(batch.items) >= self.limit or batch.bytes >= max_bytes:
                self.close_batch()
                if self.io.should_cancel():
                    raise PushCancelled

    def refused_before(
        self, row: Mapping[str, Any], values: Mapping[str, object], key: str
    ) -> None:
        """A row preflight refused at this very revision before, for its own values.

        No need to check it again: its stored rejection is copied in SQL. Its key still counts
        for the duplicate check of later rows, as in a full pass (`Preflight.claim` of its chunk).
        """
        outcome = RowOutcome(False, row.get("_refused_type"), "Refused before.")
        self.batch.rejected.append(self.rejection(row, values, outcome, copy_of=row["_refused"]))

    def rejection(
        self, row: Mapping[str, Any], values: Mapping[str, object], outcome: RowOutcome, **kw: Any
    ) -> Rejection:
        shown = key_display(values, self.key_names)
        return Rejection(row["_row"], original_json(row), shown, outcome, **kw)

    def close_batch(self, *, final: bool = False) -> None:
        """Hand the open batch to the pipeline and open the next (sizes ramp up)."""
        if self.changed is not None:
            self.count_unread(self.changed, final=final)
        batch = self.batch
        if batch.last_row < 0:
            return
        self.pipeline.add(batch)
        seq = batch.seq + 1
        self.batch = Batch(seq)
        sender = self.pipeline.sender
        cap = sender.slots.batch_rows(self.cap)  # bigger if fewer jobs at once
        # On a tenant that queues each job, a small job costs a whole wait: no more ramp.
        ramp = seq < len(self.ramp) and not sender.queues_jobs
        self.limit = self.ramp[seq] if ramp else cap
        self.row_cap = max(self.limit, self.cap)

    def count_unread(self, changed: ChangedRows, *, final: bool) -> None:
        """Count the audience rows the incremental read left out (unchanged) as skipped.

        They are counted in the batch that reaches past them (or the last one), so its
        checkpoint covers them exactly and a resumed run neither loses nor repeats them.
        """
        batch = self.batch
        if not final and batch.last_row <= self.accounted:
            return
        total, last = changed.span(self.accounted, None if final else batch.last_row)
        unread = total - batch.n_rows
        if unread > 0:
            batch.skipped += unread
            batch.n_rows += unread
            batch.last_row = max(batch.last_row, last)
        self.accounted = max(self.accounted, batch.last_row)
