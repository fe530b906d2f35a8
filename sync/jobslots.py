"""How many async jobs SFMC works on at once for one Data Extension: fewer after a deadlock.

SFMC deadlocks jobs that crowd one DE ("... Rerun the transaction."), and some rows it reports
failed landed all the same. Each job takes a slot; a deadlocked job shows how many others were
too many, so the limit drops to that and stays there for the run. Fewer jobs in flight then
get bigger batches (`batch_rows`), keeping the rows in flight, and so SFMC's queue, as busy.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sfmc.rows import ASYNC_MAX_ROWS


class JobSlots:
    """A counting gate whose size only shrinks (thread-safe)."""

    def __init__(self, limit: int) -> None:
        self.initial = self.limit = max(1, limit)
        self.used = 0
        self.retries_waiting = 0
        self._cond = threading.Condition()

    @contextmanager
    def hold(self, *, retry: bool = False) -> Iterator[int]:
        """Wait for a free slot; yields how many other jobs were in flight when it was taken.

        A retry goes before new batches: its batch (and every commit after it) waits for it.
        """
        with self._cond:
            self.retries_waiting += int(retry)
            while self.used >= self.limit or (not retry and self.retries_waiting):
                self._cond.wait()
            self.retries_waiting -= int(retry)
            others = self.used
            self.used += 1
        try:
            yield others
        finally:
            with self._cond:
                self.used -= 1
                self._cond.notify_all()

    def deadlocked(self, others: int) -> None:
        """A job taken while `others` jobs were in flight deadlocked: allow that many at most."""
        with self._cond:
            self.limit = max(1, min(self.limit, others))

    def batch_rows(self, cap: int) -> int:
        """Rows per batch: `cap`, or SFMC's 32,000 once the limit dropped.

        A tenant that deadlocks also queues each job for a while before it starts: fewer,
        bigger jobs then pay that wait less often.
        """
        return cap if self.limit >= self.initial else max(cap, ASYNC_MAX_ROWS)
