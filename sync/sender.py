"""The async sender: batches in flight to SFMC's async row API, answered rows committed in order.

Throughput needs several async requests in flight (SFMC processes one request while the next
one uploads), so the `Pipeline` owns a small thread pool for the HTTP round trips only; counting
and committing stay on the calling thread (STYLE H8 asks for no other threads in the engine).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from typing import TYPE_CHECKING

from sfmc import rows as de_rows
from sfmc.errors import SfmcConfigError
from sfmc.polling import CallBudget, Polling
from sfmc.types import RowOutcome
from sync.jobslots import JobSlots
from sync.queue_clock import QueueClock
from sync.tally import CommitWriter, Tally, commit_batches
from sync.types import Commit, PushOptions, PushTarget, Rejection, SentRow

if TYPE_CHECKING:
    from sfmc.client import SfmcClient

_DEADLOCK = "rerun the transaction"
# Tries after the first for rows SFMC failed transiently (deadlocks, no answer).
RETRY_ROUNDS = 2
# Seconds between progress reports while every in-flight job is still with SFMC.
PROGRESS_EVERY = 2.0
# Even the quickest job took this long: the tenant queues jobs before it works on them.
QUEUE_WAIT_S = 1.0


class Pacer:
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


class Batch:
    """Rows of one async request, with what is needed to commit them once SFMC answers."""

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
        "touched",
    )

    def __init__(self, seq: int) -> None:
        self.seq = seq
        self.items: list[dict[str, object]] = []
        self.meta: list[SentRow] = []  # per item
        self.rejected: list[Rejection] = []
        self.skipped = 0
        # Ledger entries of rows skipped as unchanged whose source revision moved on.
        self.touched: list[tuple[str, str, int, int]] = []
        self.n_rows = 0
        self.last_row = -1
        self.bytes = 2
        self.outcomes: list[RowOutcome] | None = None
        self.done = False


def is_transient(outcome: RowOutcome) -> bool:
    """A row refusal worth one more try (SQL deadlocks between concurrent async jobs)."""
    return (not outcome.ok) and (
        outcome.retryable or _DEADLOCK in (outcome.error_details or "").lower()
    )


class Sender:
    """Submits one batch and waits for SFMC's verdict on each row (runs in a pool thread)."""

    def __init__(
        self,
        client: SfmcClient,
        target: PushTarget,
        options: PushOptions,
        pacer: Pacer | None = None,
    ) -> None:
        self.client = client
        self.key = target.customer_key
        self.key_names = target.primary_keys
        self.mode = "insert" if target.method == "append" else "upsert"
        self.timeout = options.status_timeout
        # Shared with the run's key reads and deletes (`sync.push`): one pace for all requests.
        self.pacer = pacer or Pacer(options.max_requests_per_s)
        self.budget = CallBudget(options.poll_budget)
        # The first poll waits for the job's expected duration (at first a guess from its rows,
        # then half of what the previous job took: SFMC's queue is the tenant's); later polls
        # back off, each at most a quarter of the time waited, so an answer is seen at most
        # 25% late and a job queued for minutes costs a dozen polls, not thousands.
        self.polling = Polling(
            first=options.poll_interval,
            factor=1.5,
            ceiling=options.max_poll_interval,
            wait_first=True,
            share=0.25,
        )
        self.took = 0.0
        self.clock = QueueClock(self.polling.rows_per_s)
        self.slots = JobSlots(options.in_flight)
        # What the oldest job in flight is doing ("SFMC is queueing this job (2 min)").
        self.note = ""

    def _on_wait(self, note: str) -> None:
        self.note = note

    def _once(
        self, items: Sequence[Mapping[str, object]], *, retry: bool = False
    ) -> list[RowOutcome]:
        try:
            return self._job(items, retry=retry)
        except SfmcConfigError as exc:
            if exc.kind != de_rows.TOO_LARGE or len(items) < 2:
                raise
            # The batch was sized with an estimate (`RowHasher`), not the JSON: escaped quotes,
            # backslashes and control characters can push the body over the cap. Nothing was
            # sent; the halves go one after the other, outcomes stay in row order.
            half = len(items) // 2
            return self._once(items[:half], retry=retry) + self._once(items[half:], retry=retry)

    def _job(self, items: Sequence[Mapping[str, object]], *, retry: bool) -> list[RowOutcome]:
        """One async job: a slot, the submit, the wait (`SfmcConfigError` before any send)."""
        with self.slots.hold(retry=retry) as others:
            self.pacer.wait()
            request_id = self.client.submit_rows(self.key, items, mode=self.mode)
            submitted = time.monotonic()
            # Done once SFMC got through the rows queued ahead of it and its own (`QueueClock`).
            expected = self.clock.submitted(len(items))
            try:
                outcomes = de_rows.wait_for_rows(
                    self.client,
                    request_id,
                    len(items),
                    timeout=self.timeout,
                    polling=replace(self.polling, at_least=self._first_wait(expected)),
                    pace=self.pacer.wait,
                    budget=self.budget,
                    on_wait=self._on_wait,
                    rows=items,
                    key_names=self.key_names,
                )
            finally:
                self.clock.finished(len(items))
        # The quickest job so far: mostly SFMC's queue wait, which every job pays.
        took = time.monotonic() - submitted
        self.took = min(self.took, took) if self.took else took
        self.note = ""
        if any(_DEADLOCK in (o.error_details or "").lower() for o in outcomes if not o.ok):
            self.slots.deadlocked(others)
        return outcomes

    def _first_wait(self, expected: float) -> float:
        """Seconds before a job's first poll: when the queue says it should be done...

        ...but at most twice the quickest job once jobs take over `QUEUE_WAIT_S` even when
        small: such a tenant makes every job wait before it starts, and the rate learned from
        those jobs counts the waits as work, so the expectation grows far past the real
        finish (a 4,000-row job expected after 21 s was done after 4).
        """
        wait = max(self.took / 2, expected)
        return min(wait, 2 * self.took) if self.queues_jobs else wait

    @property
    def queues_jobs(self) -> bool:
        """The tenant makes every job wait before it starts (even the quickest took a while)."""
        return self.took > QUEUE_WAIT_S

    def _landed(self, items: list[dict[str, object]], at: list[int]) -> set[int]:
        """Which rows at `at` are in the DE already (inserts only: a re-insert would fail)."""
        if self.mode != "insert" or not at:
            return set()
        rows = [items[i] for i in at]
        present = de_rows.present_keys(self.client, self.key, rows, self.key_names)
        return {i for i in at if de_rows.row_key(items[i], self.key_names) in present}

    def send(self, batch: Batch) -> Batch:
        outcomes = self._once(batch.items)
        for round_ in range(RETRY_ROUNDS + 1):
            retry_at = [i for i, o in enumerate(outcomes) if is_transient(o)]
            # Deadlocked or unanswered rows may have landed all the same: an insert asks by
            # key first, so a written row is never sent twice nor counted as failed.
            for i in self._landed(batch.items, retry_at):
                outcomes[i] = de_rows.ALL_OK
            retry_at = [i for i in retry_at if not outcomes[i].ok]
            if not retry_at or round_ == RETRY_ROUNDS:
                break
            # SQL deadlocks ("Rerun the transaction.") are transient: try again (SEG does too).
            again = self._once([batch.items[i] for i in retry_at], retry=True)
            for i, outcome in zip(retry_at, again, strict=True):
                outcomes[i] = outcome
        batch.outcomes = outcomes
        batch.done = True
        return batch


class Pipeline:
    """Batches in flight: sent on a thread pool, counted and committed in submission order."""

    def __init__(
        self,
        sender: Sender,
        *,
        in_flight: int,
        tally: Tally,
        key_names: Sequence[str],
        on_commit: Callable[[Commit], None],
    ) -> None:
        self.sender = sender
        self.limit = max(1, in_flight)
        self.tally = tally
        self.key_names = key_names
        self.pool = ThreadPoolExecutor(max_workers=self.limit, thread_name_prefix="push")
        self.writer = CommitWriter(on_commit)
        self.pending: dict[int, Batch] = {}
        self.futures: set[Future[Batch]] = set()
        self.next_commit = 0

    @property
    def in_flight(self) -> int:
        return len(self.futures)

    def add(self, batch: Batch) -> None:
        """Send a closed batch (once a slot is free); a batch with nothing to send is answered."""
        self.pending[batch.seq] = batch
        if batch.items:
            while len(self.futures) >= self.limit:
                self.collect(block=True)
            self.futures.add(self.pool.submit(self.sender.send, batch))
        else:
            batch.outcomes = []
            batch.done = True
        self.collect(block=False)

    def collect(self, *, block: bool) -> None:
        """Take answered batches (waiting for one if `block`) and commit the ready prefix."""
        if self.futures:
            timeout = PROGRESS_EVERY if block else 0
            done, _ = wait(self.futures, timeout=timeout, return_when=FIRST_COMPLETED)
            while block and not done:
                # A long wait on SFMC still reports progress, saying what the job is doing.
                self.tally.progress(self.sender.note or "sending", len(self.futures))
                done, _ = wait(self.futures, timeout=timeout, return_when=FIRST_COMPLETED)
            for fut in done:
                self.futures.discard(fut)
                fut.result()  # re-raises a failed request
        self._commit_ready()

    def drain(self) -> None:
        """Wait for every batch in flight and commit it."""
        while self.futures:
            self.collect(block=True)

    def close(self) -> None:
        """Stop the pool and flush the commits (re-raises a failed commit)."""
        self.pool.shutdown(wait=True, cancel_futures=False)
        self.writer.close()

    def _commit_ready(self) -> None:
        ready: list[Batch] = []
        while self.next_commit in self.pending and self.pending[self.next_commit].done:
            ready.append(self.pending.pop(self.next_commit))
            self.next_commit += 1
        if ready:
            # Under the tally's lock: Mirror's deletes count and commit from their own thread.
            with self.tally.lock:
                self.writer.put(commit_batches(ready, self.tally, self.key_names))
