"""The sync engine: push an audience into its Data Extension, correctly, fast, and with nothing lost.

Two layers:
- `push_rows(...)` (STYLE H8) is UI-free and store-free: it maps, preflights, batches and sends
  rows, reads SFMC's per-row verdicts and reports progress and *commits* through callbacks. A
  commit is the contiguous prefix of the audience that is fully acknowledged (sent and answered,
  skipped or rejected); its checkpoint is the `_row` of the last row in it, so a crashed run can
  resume right after it and nothing is lost or sent twice beyond idempotent upserts.
- `run_pathway(engine, run_id, client_factory=...)` loads a run from the store, ensures the DE,
  and wires `push_rows` to the store (progress, checkpoints, rejected rows, ledger).

Transport note: STYLE H8 asks for no threads inside the engine. Throughput needs several async
requests in flight (SFMC processes a request while the next one uploads), so `push_rows` owns a
small ThreadPoolExecutor for the HTTP round trips only; all bookkeeping stays on the calling thread.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sfmc.ensure import (
    EnsureResult,
    ensure_data_extension,
    field_from_dict,
    field_to_dict,
)
from sfmc.errors import SfmcConfigError, SfmcError, SfmcRetriableError
from sfmc.mapping import (
    FieldMap,
    RowConverter,
    RowHasher,
    de_key_for,
    de_name_for,
    key_display,
)
from sfmc.preflight import Preflight
from sfmc.types import DeField, RowOutcome

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

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

METHODS = ("upsert", "mirror", "append", "update_only")
MAX_BATCH_ROWS = 32_000
DEFAULT_MAX_BYTES = 3_500_000
_DEADLOCK = "rerun the transaction"
_ALL_OK = RowOutcome(ok=True)
_SAMPLE_REJECTS = 20


# ---------------------------------------------------------------------------------------------
# Plain data


@dataclass(frozen=True)
class PushTarget:
    """Where and how rows go.

    Attributes:
        customer_key: the DE's external key.
        fields: the DE fields the mapping writes, as SFMC describes them.
        primary_keys: the DE's primary key field names.
        method: "upsert" | "mirror" | "append" | "update_only".
    """

    customer_key: str
    fields: tuple[DeField, ...]
    primary_keys: tuple[str, ...]
    method: str = "upsert"


@dataclass(frozen=True)
class PushOptions:
    """Tuning and run switches of `push_rows`.

    Attributes:
        dry_run: read the DE's keys and report a plan; write nothing.
        incremental: skip rows whose ledger hash is unchanged (False = full re-send).
        confirm_deletes: let Mirror delete more than `delete_guard_share` of the DE.
        delete_guard_share: Mirror stops in "needs_confirm" above this share of the DE.
        batch_rows: rows per async request (at most 32,000); the first batches are smaller so
            that SFMC starts working while the rest is being prepared.
        max_bytes: byte cap of one request body.
        in_flight: async requests submitted and not yet answered, at most.
        max_requests_per_s: the engine's own request pacing (SFMC throttles with 429).
        poll_interval: first status poll delay; it grows up to `max_poll_interval`.
        status_timeout: give up on an async request SFMC has not finished after this long.
    """

    dry_run: bool = False
    incremental: bool = True
    confirm_deletes: bool = False
    delete_guard_share: float = 0.5
    batch_rows: int = 8_000
    max_bytes: int = DEFAULT_MAX_BYTES
    in_flight: int = 5
    max_requests_per_s: float = 30.0
    poll_interval: float = 0.05
    max_poll_interval: float = 0.3
    status_timeout: float = 900.0
    delete_batch: int = 2_500


@dataclass
class Counters:
    """Row tallies of a run; restored from the checkpoint when a run resumes."""

    rows_read: int = 0
    rows_sent: int = 0
    rows_succeeded: int = 0
    rows_failed: int = 0
    rows_skipped: int = 0
    rows_deleted: int = 0
    api_calls: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Counters:
        known = {k: int(v) for k, v in (data or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class Progress:
    """A snapshot for progress bars: rows done of total, rate and ETA."""

    rows_total: int
    rows_done: int
    counters: Counters
    rows_per_s: float
    eta_s: float | None
    batches_in_flight: int
    phase: str


@dataclass(frozen=True)
class Rejection:
    """One row that did not make it, with the original values and SFMC's reason."""

    row: int
    values: dict[str, Any]
    primary_key: str
    outcome: RowOutcome


@dataclass
class Commit:
    """A fully acknowledged prefix of the audience, to persist atomically."""

    checkpoint_row: int
    counters: Counters
    rejected: list[Rejection] = field(default_factory=list)
    ledger_upserts: list[tuple[str, str]] = field(default_factory=list)
    ledger_deletes: list[str] = field(default_factory=list)
    phase: str = "rows"


@dataclass
class PushResult:
    """What a push did. `state` is "succeeded", "cancelled" or "needs_confirm"."""

    state: str
    counters: Counters
    plan: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    rejected_sample: list[Rejection] = field(default_factory=list)


class PushCancelled(Exception):  # noqa: N818 - a signal, not an error
    """Raised inside the engine when the run's cancel flag is seen."""


def _noop(*_args: object) -> None:
    return None


# ---------------------------------------------------------------------------------------------
# Transport helpers


class _Pacer:
    """Spaces the engine's requests so that polling never triggers SFMC's 429 (5 s penalty)."""

    def __init__(self, per_s: float) -> None:
        self.gap = 1.0 / per_s if per_s > 0 else 0.0
        self.next_at = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.gap:
            return
        with self.lock:
            now = time.monotonic()
            at = max(now, self.next_at)
            self.next_at = at + self.gap
        if at > now:
            time.sleep(at - now)


class _CommitWriter:
    """Runs `on_commit` in order on one background thread, off the send loop's critical path.

    Persisting a commit (ledger rows, rejected rows, checkpoint) costs tens of microseconds per
    row in SQLite; doing it inline would slow down preparing the next batch.
    """

    def __init__(self, on_commit: Callable[[Commit], None]) -> None:
        self.on_commit = on_commit
        self.queue: queue.Queue[Commit | None] = queue.Queue(maxsize=8)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._loop, name="push-commits", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            commit = self.queue.get()
            if commit is None:
                return
            if self.error is None:
                try:
                    self.on_commit(commit)
                except BaseException as exc:  # noqa: BLE001 - re-raised on the caller's thread
                    self.error = exc

    def put(self, commit: Commit) -> None:
        self.check()
        self.queue.put(commit)

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        self.check()


def _is_transient(outcome: RowOutcome) -> bool:
    return (not outcome.ok) and (
        outcome.retryable or _DEADLOCK in (outcome.error_details or "").lower()
    )


class _Batch:
    __slots__ = (
        "bytes",
        "done",
        "items",
        "last_row",
        "meta",
        "n_rows",
        "outcomes",
        "rejected",
        "seq",
        "skipped",
    )

    def __init__(self, seq: int) -> None:
        self.seq = seq
        self.items: list[dict[str, object]] = []
        # (row number, key string, row hash, original row) per item
        self.meta: list[tuple[int, str, str, Mapping[str, Any]]] = []
        self.rejected: list[Rejection] = []
        self.skipped = 0
        self.n_rows = 0
        self.last_row = -1
        self.bytes = 2
        self.outcomes: list[RowOutcome] | None = None
        self.done = False


class _Sender:
    """Submits one batch and waits for SFMC's verdict on each row (runs in a pool thread)."""

    def __init__(self, client: SfmcClient, target: PushTarget, options: PushOptions) -> None:
        self.client = client
        self.key = target.customer_key
        self.mode = "insert" if target.method == "append" else "upsert"
        self.options = options
        self.pacer = _Pacer(options.max_requests_per_s)

    def _once(self, items: Sequence[Mapping[str, object]]) -> list[RowOutcome]:
        self.pacer.wait()
        request_id = self.client.submit_rows(self.key, items, mode=self.mode)
        # Expected processing time is unknown (tenant load); start polling quickly and back off.
        delay = self.options.poll_interval
        give_up = time.monotonic() + self.options.status_timeout
        while True:
            if time.monotonic() > give_up:
                msg = (
                    f"SFMC has not finished async request {request_id} after "
                    f"{self.options.status_timeout:.0f} s; run the sync again later (rows already "
                    "accepted are skipped)."
                )
                raise SfmcRetriableError(msg, operation="wait for rows", kind="timeout")
            time.sleep(delay)
            self.pacer.wait()
            status = self.client.async_status(request_id)
            if status is not None and status.done:
                break
            delay = min(delay * 1.5, self.options.max_poll_interval)
        if status.all_ok:
            return [_ALL_OK] * len(items)
        self.pacer.wait()
        outcomes = list(self.client.async_results(request_id))
        if status.request_status == "Error" and not outcomes:
            failed = RowOutcome(
                ok=False,
                error_type="UnexpectedError",
                error_details="SFMC reported the whole request as failed; retry the run.",
                retryable=True,
            )
            return [failed] * len(items)
        if len(outcomes) < len(items):
            missing = RowOutcome(
                ok=False,
                error_type="UnexpectedError",
                error_details="SFMC returned no result for this row; retry the run.",
                retryable=True,
            )
            outcomes.extend([missing] * (len(items) - len(outcomes)))
        return outcomes[: len(items)]

    def send(self, batch: _Batch) -> _Batch:
        outcomes = self._once(batch.items)
        retry_at = [i for i, o in enumerate(outcomes) if _is_transient(o)]
        if retry_at:
            # SQL deadlocks ("Rerun the transaction.") are transient: one more try (SEG does too).
            again = self._once([batch.items[i] for i in retry_at])
            for i, outcome in zip(retry_at, again, strict=True):
                outcomes[i] = outcome
        batch.outcomes = outcomes
        batch.done = True
        return batch


def _original(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "_row"}


def read_remote_keys(
    client: SfmcClient, customer_key: str, key_fields: Sequence[DeField]
) -> dict[int, dict[str, str]]:
    """Every primary key in the DE: hash(key string) -> {pk field: stored value} (paged SOAP read)."""
    from sfmc.mapping import key_string

    names = [f.name for f in key_fields]
    folded = {n.casefold(): n for n in names}
    remote: dict[int, dict[str, str]] = {}
    for item in client.iter_rows(customer_key, names):
        values = {folded.get(k.casefold(), k): v for k, v in item.items()}
        key = key_string(values, key_fields)
        if key:
            remote[hash(key)] = {n: values.get(n, "") for n in names}
    return remote


# ---------------------------------------------------------------------------------------------
# The engine


def push_rows(  # noqa: C901, PLR0912, PLR0915 - the run loop reads best in one place
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
    on_progress: Callable[[Progress], None] = _noop,
    on_commit: Callable[[Commit], None] = _noop,
    should_cancel: Callable[[], bool] = lambda: False,
    de_exists: bool = True,
    read_key_chunks: Callable[[int], Iterable[Sequence[Mapping[str, Any]]]] | None = None,
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
    converter = RowConverter(mapping)
    field_names = converter.field_names
    hasher = RowHasher(field_names)
    preflight = Preflight(target.fields, target.primary_keys)
    counters = replace(resume_counters) if resume_counters else Counters()
    start_calls = getattr(client, "api_calls", 0)
    base_calls = counters.api_calls
    started = time.monotonic()
    done_at_start = counters.rows_succeeded + counters.rows_failed + counters.rows_skipped
    sample: list[Rejection] = []

    def calls() -> int:
        return base_calls + getattr(client, "api_calls", 0) - start_calls

    def progress(phase: str, in_flight: int = 0) -> None:
        counters.api_calls = calls()
        done = counters.rows_succeeded + counters.rows_failed + counters.rows_skipped
        elapsed = max(time.monotonic() - started, 1e-6)
        rate = (done - done_at_start) / elapsed
        eta = (max(rows_total - done, 0) / rate) if rate > 0 else None
        on_progress(Progress(rows_total, done, replace(counters), rate, eta, in_flight, phase))

    need_remote = options.dry_run or method in ("mirror", "append", "update_only")
    remote: dict[int, dict[str, str]] = {}
    if need_remote and de_exists:
        progress("reading keys")
        remote = read_remote_keys(client, target.customer_key, preflight.key_fields)

    # Pre-pass: the audience's keys (Mirror's guard needs them before anything is written) and,
    # when resuming, the keys already used by rows before the checkpoint (duplicate detection).
    audience_keys: set[int] | None = None
    if method == "mirror" or resume_row > 0:
        audience_keys = set()
        key_conv = RowConverter([m for m in mapping if m.is_primary_key])
        for chunk in (read_key_chunks or read_chunks)(0):
            for row in chunk:
                key = preflight.key_of(key_conv(row))
                if not key:
                    continue
                audience_keys.add(hash(key))
                if row["_row"] <= resume_row:
                    preflight.remember(key)
            if method != "mirror" and chunk and chunk[-1]["_row"] >= resume_row:
                break
    to_delete: list[dict[str, str]] = []
    if method == "mirror" and audience_keys is not None:
        to_delete = [vals for h, vals in remote.items() if h not in audience_keys]
        share = len(to_delete) / len(remote) if remote else 0.0
        if (
            not options.dry_run
            and not options.confirm_deletes
            and to_delete
            and share > options.delete_guard_share
        ):
            plan = {
                "delete": len(to_delete),
                "de_rows": len(remote),
                "share": round(share, 4),
                "guard_share": options.delete_guard_share,
            }
            message = (
                f"Mirror would delete {len(to_delete):,} of the {len(remote):,} rows in the Data "
                f"Extension ({share:.0%}, above the {options.delete_guard_share:.0%} guard). "
                "Nothing was changed. Check the audience, then run again with 'confirm deletes'."
            )
            counters.api_calls = calls()
            return PushResult("needs_confirm", counters, plan=plan, message=message)
    if method != "mirror":
        audience_keys = None  # only Mirror needs them past this point

    if options.dry_run:
        return _dry_run(
            read_chunks,
            converter=converter,
            preflight=preflight,
            method=method,
            remote=remote,
            to_delete=to_delete,
            ledger_lookup=ledger_lookup if options.incremental else None,
            hasher=hasher,
            counters=counters,
            calls=calls,
        )

    # Send phase.
    sender = _Sender(client, target, options)
    batch_cap = max(1, min(options.batch_rows, MAX_BATCH_ROWS))
    # Ramp up, doubling: SFMC starts on a small batch while the next (twice as big) is prepared.
    ramp = [min(batch_cap, n) for n in (500, 1_000, 2_000, 4_000)]
    seq = 0
    batch = _Batch(seq)
    pending: dict[int, _Batch] = {}
    futures: set[Future[_Batch]] = set()
    next_commit = 0
    state = "succeeded"
    last_progress = 0.0
    key_names = target.primary_keys
    pool = ThreadPoolExecutor(max_workers=max(1, options.in_flight), thread_name_prefix="push")
    writer = _CommitWriter(on_commit)

    def commit_ready() -> None:
        nonlocal next_commit
        ready: list[_Batch] = []
        while next_commit in pending and pending[next_commit].done:
            ready.append(pending.pop(next_commit))
            next_commit += 1
        if not ready:
            return
        commit = Commit(checkpoint_row=ready[-1].last_row, counters=counters)
        for b in ready:
            counters.rows_skipped += b.skipped
            counters.rows_failed += len(b.rejected)
            commit.rejected.extend(b.rejected)
            counters.rows_read += b.n_rows
            counters.rows_sent += len(b.items)
            outcomes = b.outcomes or []
            if outcomes and all(o is _ALL_OK for o in outcomes):
                # The usual case (SFMC reported no row errors): no per-row branching.
                counters.rows_succeeded += len(outcomes)
                commit.ledger_upserts.extend([(m[1], m[2]) for m in b.meta if m[1]])
                outcomes = []
            for (row_no, key, digest, original), values, outcome in zip(
                b.meta, b.items, outcomes, strict=False
            ):
                if outcome.ok:
                    counters.rows_succeeded += 1
                    if key:
                        commit.ledger_upserts.append((key, digest))
                else:
                    counters.rows_failed += 1
                    commit.rejected.append(
                        Rejection(
                            row_no, _original(original), key_display(values, key_names), outcome
                        )
                    )
            b.items = []
            b.meta = []
        for rej in commit.rejected:
            if len(sample) < _SAMPLE_REJECTS:
                sample.append(rej)
        counters.api_calls = calls()
        commit.counters = replace(counters)
        writer.put(commit)

    def collect(block: bool) -> None:
        if not futures:
            commit_ready()
            return
        done, _ = wait(futures, timeout=None if block else 0, return_when=FIRST_COMPLETED)
        for fut in done:
            futures.discard(fut)
            fut.result()  # re-raises a failed request
        commit_ready()

    def close_batch() -> None:
        nonlocal batch, seq
        if batch.last_row < 0:
            return
        pending[batch.seq] = batch
        if batch.items:
            while len(futures) >= max(1, options.in_flight):
                collect(block=True)
            futures.add(pool.submit(sender.send, batch))
        else:
            batch.outcomes = []
            batch.done = True
        collect(block=False)
        seq += 1
        batch = _Batch(seq)

    def cap_for(seq_no: int) -> int:
        return ramp[seq_no] if seq_no < len(ramp) else batch_cap

    try:
        for chunk in read_chunks(resume_row):
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
            for row, values, key in zip(chunk, converted, keys, strict=True):
                row_no = row["_row"]
                batch.n_rows += 1
                batch.last_row = row_no
                outcome = preflight.check(values, key)
                if outcome is None and method == "update_only" and hash(key) not in remote:
                    outcome = RowOutcome(
                        ok=False,
                        error_type="NotFound",
                        error_details=(
                            "No row with this primary key exists in the Data Extension; "
                            "Update Only does not create rows."
                        ),
                        field=key_names[0] if key_names else None,
                    )
                if outcome is not None:
                    batch.rejected.append(
                        Rejection(row_no, _original(row), key_display(values, key_names), outcome)
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
                    continue
                batch.items.append(values)
                batch.meta.append((row_no, key, digest, row))
                batch.bytes += size
                if len(batch.items) >= cap_for(batch.seq) or batch.bytes >= options.max_bytes:
                    close_batch()
                    if should_cancel():
                        raise PushCancelled
            now = time.monotonic()
            if now - last_progress > 0.5:
                last_progress = now
                progress("sending", len(futures))
        close_batch()
        while futures:
            collect(block=True)
    except PushCancelled:
        state = "cancelled"
        batch.last_row = -1  # the open batch was not sent: it is not acknowledged
        while futures:
            collect(block=True)
    finally:
        pool.shutdown(wait=True, cancel_futures=False)
        writer.close()

    if state == "succeeded" and method == "mirror" and to_delete:
        progress("deleting")
        _delete_keys(client, target, to_delete, options, preflight, on_commit, counters, calls)
    counters.api_calls = calls()
    progress("done")
    return PushResult(state, replace(counters), rejected_sample=sample)


def _delete_keys(
    client: SfmcClient,
    target: PushTarget,
    to_delete: list[dict[str, str]],
    options: PushOptions,
    preflight: Preflight,
    on_commit: Callable[[Commit], None],
    counters: Counters,
    calls: Callable[[], int],
) -> None:
    step = max(1, options.delete_batch)
    for start in range(0, len(to_delete), step):
        part = to_delete[start : start + step]
        outcomes = client.delete_rows(target.customer_key, part)
        gone = [
            preflight.key_of(keys)
            for keys, outcome in zip(part, outcomes, strict=False)
            if outcome.ok
        ]
        counters.rows_deleted += len(gone)
        counters.api_calls = calls()
        on_commit(
            Commit(
                checkpoint_row=-1,
                counters=replace(counters),
                ledger_deletes=[k for k in gone if k],
                phase="delete",
            )
        )


def _dry_run(
    read_chunks: Callable[[int], Iterable[Sequence[Mapping[str, Any]]]],
    *,
    converter: RowConverter,
    preflight: Preflight,
    method: str,
    remote: dict[int, dict[str, str]],
    to_delete: list[dict[str, str]],
    ledger_lookup: Callable[[Sequence[str]], Mapping[str, str]] | None,
    hasher: RowHasher,
    counters: Counters,
    calls: Callable[[], int],
) -> PushResult:
    plan: dict[str, Any] = {
        "create": 0,
        "update": 0,
        "delete": len(to_delete),
        "skip": 0,
        "unchanged": 0,
        "reject": 0,
        "rejects": [],
        "de_rows": len(remote),
    }
    key_names = [f.name for f in preflight.key_fields]
    for chunk in read_chunks(0):
        converted = [converter(row) for row in chunk]
        keys = [preflight.key_of(v) for v in converted]
        known = ledger_lookup([k for k in keys if k]) if ledger_lookup else {}
        for row, values, key in zip(chunk, converted, keys, strict=True):
            counters.rows_read += 1
            outcome = preflight.check(values, key)
            exists = bool(key) and hash(key) in remote
            if outcome is None and method == "update_only" and not exists:
                outcome = RowOutcome(
                    ok=False,
                    error_type="NotFound",
                    error_details="No row with this primary key exists in the Data Extension.",
                    field=key_names[0] if key_names else None,
                )
            if outcome is not None:
                plan["reject"] += 1
                if len(plan["rejects"]) < _SAMPLE_REJECTS:
                    plan["rejects"].append(
                        {
                            "row": row["_row"],
                            "key": key_display(values, key_names),
                            "field": outcome.field,
                            "error_type": outcome.error_type,
                            "error_details": outcome.error_details,
                        }
                    )
                continue
            if method == "append" and exists:
                plan["skip"] += 1
                continue
            if known and known.get(key) == hasher(values)[0] and exists:
                plan["unchanged"] += 1
                continue
            plan["update" if exists else "create"] += 1
    counters.rows_failed = plan["reject"]
    counters.rows_skipped = plan["skip"] + plan["unchanged"]
    counters.api_calls = calls()
    message = (
        f"Dry run: {plan['create']:,} to create, {plan['update']:,} to update, "
        f"{plan['delete']:,} to delete, {plan['skip'] + plan['unchanged']:,} to skip, "
        f"{plan['reject']:,} to reject. Nothing was written."
    )
    return PushResult("succeeded", counters, plan=plan, message=message)


# ---------------------------------------------------------------------------------------------
# A run of a pathway, wired to the store


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
        from store import runs

        self._stop = threading.Event()
        self.lost = False

        def loop() -> None:
            while not self._stop.wait(every):
                try:
                    if not runs.heartbeat(engine, run_id, worker_id):
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
        for obj in (run, pathway, audience, connection, *rows):
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
        "mapping": mapping,
    }


def run_pathway(  # noqa: C901, PLR0915 - the run's steps, in order
    engine: Engine,
    run_id: int,
    *,
    client_factory: Callable[[Any], SfmcClient],
    worker_id: str = "inline",
    options: PushOptions | None = None,
    chunk_size: int = 5_000,
    heartbeat_every: float = 5.0,
    on_progress: Callable[[Progress], None] = _noop,
) -> PushResult:
    """Execute (or resume) one sync run from the store and record everything it does.

    The run must be "running" and owned by `worker_id` (see `store.runs.claim_next_run`); a
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
    from store import audiences, runs

    base = options or PushOptions()
    runs.mark_running(engine, run_id, worker_id)
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
        # Other destination kinds (membership flag, contacts, journey events): sfmc.destinations.
        other_kind = (pathway.destination_kind or "data_extension") != "data_extension"
        ensured = None
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
                runs.clear_ledger(engine, pathway.id)
        checkpoint = run.checkpoint or {}
        if checkpoint.get("row") and ensured is not None and ensured.created and not run.dry_run:
            # The DE vanished since this run's checkpoint: the rows sent before it are gone too.
            runs.clear_rejected_after(engine, run_id)
            runs.write_progress(engine, run_id, checkpoint={})
            checkpoint = {}
        resume_row = int(checkpoint.get("row", 0) or 0)
        counters = Counters.from_dict(checkpoint.get("counters"))
        rows_total = audiences.count_rows(engine, audience.id)
        notes = " ".join(ensured.notes) if ensured is not None else ""
        runs.write_progress(
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
            runs.write_progress(
                engine,
                run_id,
                rows_total=p.rows_total,
                rows_per_s=round(p.rows_per_s, 1),
                eta_s=None if p.eta_s is None else round(p.eta_s, 1),
                api_calls=p.counters.api_calls,
            )

        def commit(c: Commit) -> None:
            runs.commit_checkpoint(
                engine,
                run_id,
                pathway_id=pathway.id,
                checkpoint_row=None if c.checkpoint_row < 0 else c.checkpoint_row,
                counters=c.counters.as_dict(),
                rejected=[_rejection_row(r) for r in c.rejected],
                ledger_upserts=c.ledger_upserts if not run.dry_run else (),
                ledger_deletes=c.ledger_deletes,
                extra={"phase": c.phase},
            )

        def cancelled() -> bool:
            # Called per chunk and per batch: one indexed read, cheap next to a batch.
            return beat.lost or runs.cancel_requested(engine, run_id)

        key_columns = [
            m.source_column
            for m in (ensured.mapping if ensured else ctx["mapping"])
            if m.is_primary_key
        ]

        def key_chunks(after: int) -> Iterator[list[dict[str, Any]]]:
            return audiences.iter_rows(
                engine, audience.id, chunk_size=20_000, after_row=after, columns=key_columns
            )

        def chunks(after: int) -> Iterator[list[dict[str, Any]]]:
            return audiences.iter_rows(engine, audience.id, chunk_size=chunk_size, after_row=after)

        if ensured is None:
            from sfmc.destinations import DestinationSettings, ledger_keys, push_destination

            result = push_destination(
                DestinationSettings.from_pathway(pathway),
                chunks,
                mapping=ctx["mapping"],
                client=client,
                options=opts,
                rows_total=rows_total,
                ledger_lookup=(lambda keys: runs.ledger_lookup(engine, pathway.id, keys)),
                ledger_keys=lambda: ledger_keys(engine, pathway.id),
                resume_row=resume_row,
                resume_counters=counters,
                on_progress=progress,
                on_commit=commit,
                should_cancel=cancelled,
            )
            runs.finish_run(
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
        has_ledger = not run.full_resend and runs.ledger_has_rows(engine, pathway.id)
        result = push_rows(
            chunks,
            target=target,
            mapping=ensured.mapping,
            client=client,
            options=opts,
            rows_total=rows_total,
            ledger_lookup=(
                (lambda keys: runs.ledger_lookup(engine, pathway.id, keys)) if has_ledger else None
            ),
            resume_row=resume_row,
            resume_counters=counters,
            on_progress=progress,
            on_commit=commit,
            should_cancel=cancelled,
            de_exists=not (run.dry_run and ensured.created),
            read_key_chunks=key_chunks,
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
        runs.finish_run(
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
        runs.finish_run(engine, run_id, "failed", error=error, message=f"Sync failed: {error}")
        return PushResult("failed", counters, message=error)
    finally:
        beat.stop()


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
