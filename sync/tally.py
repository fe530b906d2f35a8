"""Progress and commit bookkeeping of a push: counters, API calls, rate/ETA, ordered commits.

`Tally` is shared by the async engine (`sync.push.push_rows`) and the record-at-a-time runner
(`sync.records`); `CommitWriter` persists commits off the send loop's critical path.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sfmc.rows import ALL_OK
from sync.mapping import key_display
from sync.types import (
    SAMPLE_REJECTS,
    Commit,
    Counters,
    Progress,
    Rejection,
    RunIO,
    SentRow,
)

if TYPE_CHECKING:
    from sync.sender import Batch


class Tally:
    """A run's counters and API calls, its progress snapshots and a sample of its rejections.

    Counters restored from a checkpoint keep counting; the rate counts only this session's rows.
    """

    def __init__(self, client: object, io: RunIO) -> None:
        resumed = io.resume_counters
        self.counters = replace(resumed) if resumed else Counters()
        self.rows_total = io.rows_total
        self.on_progress = io.on_progress
        self.sample: list[Rejection] = []
        self._client = client
        self._start_calls = getattr(client, "api_calls", 0)
        self._base_calls = self.counters.api_calls
        self._started = time.monotonic()
        self._done_at_start = self.rows_done()
        # Held while counters change and their commit is queued (see `Pipeline._commit_ready`).
        self.lock = threading.Lock()

    def calls(self) -> int:
        """API calls of the whole run (before the resume too)."""
        return self._base_calls + getattr(self._client, "api_calls", 0) - self._start_calls

    def rows_done(self) -> int:
        c = self.counters
        return c.rows_succeeded + c.rows_failed + c.rows_skipped

    def snapshot(self) -> Counters:
        """A copy of the counters with the API calls so far (to hand to a commit or result)."""
        self.counters.api_calls = self.calls()
        return replace(self.counters)

    def progress(self, phase: str, in_flight: int = 0) -> None:
        """Report a `Progress` snapshot."""
        self.counters.api_calls = self.calls()
        done = self.rows_done()
        elapsed = max(time.monotonic() - self._started, 1e-6)
        rate = (done - self._done_at_start) / elapsed
        eta = (max(self.rows_total - done, 0) / rate) if rate > 0 else None
        self.on_progress(
            Progress(self.rows_total, done, replace(self.counters), rate, eta, in_flight, phase)
        )

    def keep_sample(self, rejected: Sequence[Rejection]) -> None:
        """Keep the first rejections of the run for the result."""
        room = SAMPLE_REJECTS - len(self.sample)
        if room > 0:
            self.sample.extend(rejected[:room])


def commit_batches(ready: Sequence[Batch], tally: Tally, key_names: Sequence[str]) -> Commit:
    """Count answered batches (in order) into the tally and the `Commit` that persists them."""
    counters = tally.counters
    commit = Commit(checkpoint_row=ready[-1].last_row, counters=counters)
    for b in ready:
        counters.rows_skipped += b.skipped
        commit.ledger_upserts.extend(b.touched)
        counters.rows_failed += len(b.rejected)
        commit.rejected.extend(b.rejected)
        counters.rows_read += b.n_rows
        counters.rows_sent += len(b.items)
        outcomes = b.outcomes or []
        if outcomes and all(o is ALL_OK for o in outcomes):
            # The usual case (SFMC reported no row errors): no per-row branching.
            counters.rows_succeeded += len(outcomes)
            commit.ledger_upserts.extend([ledger_entry(m) for m in b.meta if m.key])
            outcomes = []
        for sent, values, outcome in zip(b.meta, b.items, outcomes, strict=False):
            if outcome.ok:
                counters.rows_succeeded += 1
                if sent.key:
                    commit.ledger_upserts.append(ledger_entry(sent))
            else:
                counters.rows_failed += 1
                shown = key_display(values, key_names)
                commit.rejected.append(Rejection(sent.row, sent.original(), shown, outcome))
        b.items = []
        b.meta = []
    tally.keep_sample(commit.rejected)
    commit.counters = tally.snapshot()
    return commit


def ledger_entry(sent: SentRow) -> tuple[str, str, int, Any]:
    """(key, hash, source `_row`, source `_rev`) of an accepted row (`_rev` None if not read)."""
    return (sent.key, sent.digest, sent.row, sent.rev)


class CommitWriter:
    """Runs `on_commit` in order on one background thread, off the send loop's critical path.

    Persisting a commit (ledger rows, rejected rows, checkpoint) costs tens of microseconds per
    row in SQLite; doing it inline would slow down preparing the next batch.
    """

    def __init__(self, on_commit: Callable[[Commit], None]) -> None:
        self.on_commit = on_commit
        # Four commits waiting at most: a slow store (Update Only writes a rejected row for half
        # the audience) holds the send loop back instead of piling up rejected rows in memory.
        self.queue: queue.Queue[Commit | None] = queue.Queue(maxsize=4)
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
                except BaseException as exc:  # re-raised on the caller's thread
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
