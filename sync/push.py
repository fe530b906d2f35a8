"""The sync engine: push an audience into its Data Extension, correctly, fast, and with nothing lost.

Two layers:
- `push_rows(...)` (STYLE H8) is UI-free and store-free: it maps, preflights, batches and sends
  rows, reads SFMC's per-row verdicts and reports progress and *commits* through callbacks. A
  commit is the contiguous prefix of the audience that is fully acknowledged (sent and answered,
  skipped or rejected); its checkpoint is the `_row` of the last row in it, so a crashed run can
  resume right after it and nothing is lost or sent twice beyond idempotent upserts.
- `run_pathway(engine, run_id, client_factory=...)` (`sync.runner`) loads a run from the store,
  ensures the DE, and wires `push_rows` to the store (progress, checkpoints, rejected rows, ledger).

The engine's parts: `sync.types` (plain data), `sync.plan` (what each method does to
the DE, dry runs), `sync.sender` (async requests in flight), `sync.tally` (counters,
progress, commits). Every public name stays importable from here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sfmc.errors import SfmcConfigError
from sfmc.types import RowOutcome
from sync.ensure import EnsureResult, ensure_data_extension
from sync.mapping import FieldMap, RowConverter, RowHasher, key_display
from sync.plan import (
    audience_keys,
    delete_guard,
    delete_stale,
    dry_run,
    not_found,
    read_remote_keys,
    stale_keys,
)
from sync.preflight import Preflight
from sync.runner import run_pathway
from sync.sender import Batch, Pipeline, Sender
from sync.tally import Tally
from sync.types import (
    MAX_BATCH_ROWS,
    METHODS,
    Commit,
    Counters,
    Progress,
    PushCancelled,
    PushOptions,
    PushResult,
    PushTarget,
    Rejection,
    noop,
    original_values,
)

if TYPE_CHECKING:
    from sfmc.client import SfmcClient

__all__ = [
    "METHODS",
    "Commit",
    "Counters",
    "EnsureResult",
    "Progress",
    "PushOptions",
    "PushResult",
    "PushTarget",
    "Rejection",
    "ensure_data_extension",
    "push_rows",
    "read_remote_keys",
    "run_pathway",
]

# Older private names, still imported by the destination runners.
_noop = noop
_original = original_values
# Ramp up, doubling: SFMC starts on a small batch while the next (twice as big) is prepared.
_RAMP = (500, 1_000, 2_000, 4_000)


def push_rows(  # noqa: C901 - the send loop reads best in one place
    read_chunks: Callable[[int], Iterable[Sequence[Mapping[str, Any]]]],
    *,
    target: PushTarget,
    mapping: Sequence[FieldMap],
    client: SfmcClient,
    options: PushOptions | None = None,
    rows_total: int = 0,
    ledger_lookup: Callable[[Sequence[str]], Mapping[str, str]] | None = None,
    resume_row: int = 0,
    resume_counters: Counters | None = None,
    on_progress: Callable[[Progress], None] = noop,
    on_commit: Callable[[Commit], None] = noop,
    should_cancel: Callable[[], bool] = lambda: False,
    de_exists: bool = True,
    read_key_chunks: Callable[[int], Iterable[Sequence[Mapping[str, Any]]]] | None = None,
    read_changed: Callable[[int], Iterable[Sequence[Mapping[str, Any]]]] | None = None,
    audience_span: Callable[[int, int | None], tuple[int, int]] | None = None,
    key_holders: Callable[[Sequence[str]], Mapping[str, int]] | None = None,
) -> PushResult:
    """Push audience rows into a Data Extension (which must exist; see `ensure_data_extension`).

    Args:
        read_chunks: `read_chunks(after_row)` yields lists of source rows with increasing `_row`
            numbers after `after_row` (the store's `iter_rows`); called more than once when a
            pre-pass is needed (Mirror guard, resume).
        target: DE key, fields, primary key and method.
        mapping: source column -> DE field; destination names must match `target.fields`.
        client: a thread-safe SFMC client.
        options: run switches and transport tuning.
        rows_total: audience size, for progress and ETA.
        ledger_lookup: key strings -> row hash previously accepted by SFMC (incremental runs).
        resume_row: checkpoint to resume after (0 = from the start).
        resume_counters: tallies saved with that checkpoint.
        on_progress: called with a `Progress` now and then.
        on_commit: called with each fully acknowledged prefix; persist it atomically.
        should_cancel: polled between batches; True stops the run after in-flight batches land.
        de_exists: False when the DE does not exist yet (dry run before creation): no keys to read.
        read_key_chunks: like `read_chunks` but only the primary key columns are needed (a
            cheaper read for the pre-pass); default `read_chunks`.
        read_changed: like `read_chunks` but only the rows SFMC has not accepted in their
            current revision (changed, new, rejected last time): an incremental run of Upsert,
            Append or Update Only reads only these (with `audience_span` and `key_holders`).
            Rows carrying `_rev` get it recorded in the ledger.
        audience_span: `audience_span(after_row, upto_row)` -> (audience rows with
            after_row < `_row` <= upto_row (None: no bound), the largest such `_row`, or
            after_row): the rows `read_changed` left out are counted as skipped with it.
        key_holders: key strings -> `_row` of an unchanged (unread) audience row holding
            that key, for the duplicate-key check of rows `read_changed` yields.

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
        raise SfmcConfigError(msg)
    changed_only = (
        read_changed is not None
        and audience_span is not None
        and options.incremental
        and method != "mirror"  # Mirror also re-sends rows missing from the DE: full pass
    )
    converter = RowConverter(mapping)
    hasher = RowHasher(converter.field_names)
    preflight = Preflight(target.fields, target.primary_keys)
    tally = Tally(
        client, rows_total=rows_total, resume_counters=resume_counters, on_progress=on_progress
    )

    remote: dict[int, dict[str, str]] = {}
    if de_exists and (options.dry_run or method in ("mirror", "append", "update_only")):
        tally.progress("reading keys")
        remote = read_remote_keys(client, target.customer_key, preflight.key_fields)
    audience = audience_keys(
        read_key_chunks or read_chunks,
        mapping,
        preflight,
        method=method,
        resume_row=resume_row,
    )
    to_delete: list[dict[str, str]] = []
    if method == "mirror":
        to_delete = stale_keys(remote, audience)
        refusal = delete_guard(to_delete, len(remote), options)
        if refusal is not None:
            plan, message = refusal
            return PushResult("needs_confirm", tally.snapshot(), plan=plan, message=message)

    if options.dry_run:
        return dry_run(
            read_changed if changed_only else read_chunks,  # type: ignore[arg-type]
            converter=converter,
            preflight=preflight,
            method=method,
            remote=remote,
            to_delete=to_delete,
            ledger_lookup=ledger_lookup if options.incremental else None,
            hasher=hasher,
            tally=tally,
            audience_total=(audience_span(0, None)[0] if changed_only else None),  # type: ignore[misc]
            key_holders=key_holders if changed_only else None,
        )

    # Send phase.
    batch_cap = max(1, min(options.batch_rows, MAX_BATCH_ROWS))
    ramp = [min(batch_cap, n) for n in _RAMP]
    key_names = target.primary_keys
    pipeline = Pipeline(
        Sender(client, target, options),
        in_flight=options.in_flight,
        tally=tally,
        key_names=key_names,
        on_commit=on_commit,
    )
    batch = Batch(0)
    batch_limit = ramp[0]
    state = "succeeded"
    last_progress = 0.0
    accounted = resume_row  # changed_only: audience rows up to here are counted

    def count_unread(final: bool) -> None:
        # The audience rows `read_changed` left out (unchanged) up to this batch's last row (or
        # to the audience's end) are skipped: counted in this batch, so its checkpoint covers
        # them exactly and a resumed run neither loses nor repeats them.
        nonlocal accounted
        if not final and batch.last_row <= accounted:
            return
        total, last = audience_span(accounted, None if final else batch.last_row)  # type: ignore[misc]
        unread = total - batch.n_rows
        if unread > 0:
            batch.skipped += unread
            batch.n_rows += unread
            batch.last_row = max(batch.last_row, last)
        accounted = max(accounted, batch.last_row)

    def close_batch(final: bool = False) -> None:
        nonlocal batch, batch_limit
        if changed_only:
            count_unread(final)
        if batch.last_row < 0:
            return
        pipeline.add(batch)
        seq = batch.seq + 1
        batch = Batch(seq)
        batch_limit = ramp[seq] if seq < len(ramp) else batch_cap

    reader = read_changed if changed_only else read_chunks
    try:
        for chunk in reader(resume_row):  # type: ignore[misc]
            if should_cancel():
                raise PushCancelled
            keys: list[str] = []
            converted: list[dict[str, object]] = []
            for row in chunk:
                values = converter(row)
                converted.append(values)
                keys.append(preflight.key_of(values))
            known: Mapping[str, str] = {}
            if ledger_lookup is not None and options.incremental:
                known = ledger_lookup([k for k in keys if k])
            holders: Mapping[str, int] = {}
            if changed_only and key_holders is not None:
                holders = key_holders([k for k in keys if k])
            for row, values, key in zip(chunk, converted, keys, strict=True):
                row_no = row["_row"]
                batch.n_rows += 1
                batch.last_row = row_no
                refused = row.get("_refused")
                if refused is not None:
                    # Preflight refused this very revision before, for its own values: no need
                    # to check it again; its stored rejection is copied in SQL. Its key still
                    # counts for the duplicate check of later rows, as in a full pass.
                    if key:
                        preflight.seen.add(hash(key))
                    outcome = RowOutcome(False, row.get("_refused_type"), "Refused before.")
                    batch.rejected.append(
                        Rejection(
                            row_no,
                            original_values(row),
                            key_display(values, key_names),
                            outcome,
                            copy_of=refused,
                        )
                    )
                    continue
                remember = None
                if holders and holders.get(key, row_no) < row_no:
                    # An earlier row, unchanged and so not read, has this key.
                    outcome = preflight.duplicate()
                else:
                    outcome = preflight.check(values, key)
                    if outcome is not None and outcome.error_type != "DuplicateKey":
                        # Refused for its own values: remembered with its revision.
                        remember = row.get("_rev")
                if outcome is None and method == "update_only" and hash(key) not in remote:
                    outcome = not_found(key_names)
                if outcome is not None:
                    batch.rejected.append(
                        Rejection(
                            row_no,
                            original_values(row),
                            key_display(values, key_names),
                            outcome,
                            source_rev=remember,
                        )
                    )
                    continue
                if method == "append" and hash(key) in remote:
                    batch.skipped += 1
                    continue
                digest, size = hasher(values)
                if (
                    known
                    and known.get(key) == digest
                    and (method != "mirror" or hash(key) in remote)
                ):
                    batch.skipped += 1
                    rev = row.get("_rev")
                    if rev is not None:
                        batch.touched.append((key, digest, row_no, rev))
                    continue
                batch.items.append(values)
                batch.meta.append((row_no, key, digest, row))
                batch.bytes += size
                if len(batch.items) >= batch_limit or batch.bytes >= options.max_bytes:
                    close_batch()
                    if should_cancel():
                        raise PushCancelled
            now = time.monotonic()
            if now - last_progress > 0.5:
                last_progress = now
                tally.progress("sending", pipeline.in_flight)
        close_batch(final=True)
        pipeline.drain()
    except PushCancelled:
        state = "cancelled"  # the open batch was not sent: it is not acknowledged
        pipeline.drain()
    finally:
        pipeline.close()

    if state == "succeeded" and method == "mirror" and to_delete:
        tally.progress("deleting")
        delete_stale(
            client,
            target,
            to_delete,
            options=options,
            preflight=preflight,
            on_commit=on_commit,
            tally=tally,
        )
    tally.progress("done")
    return PushResult(state, tally.snapshot(), rejected_sample=tally.sample)
