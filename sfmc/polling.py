"""How the client waits for SFMC's asynchronous jobs: patient, cheap and never cut short by a clock.

SFMC queues async row jobs and journey batches behind other tenants' work: its own documentation
shows 7.5 minutes from submission to pickup. Polling every fraction of a second spends the
tenant's API quota (and invites 429s) while nothing changes, and a hard wall-clock cap fails a
job that is merely waiting. So the first poll comes when the job could first be done (its
expected duration), later polls back off (each delay a share of the time already waited, so the
answer is seen at most that share late), and what stops a run is a budget of API calls, not a
timer. A job still queued is reported as waiting ("SFMC is queueing this job (2 min)").
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from sfmc.errors import SfmcRetriableError

POLL_INITIAL = 0.25
POLL_MAX = 30.0
# [I] Rows per second an SFMC async job is expected to take once picked up, used only to time
# the first poll (the documentation's example took 40 ms for a handful of rows; LOADER polls
# every 5 s). Too high only costs a poll or two.
EXPECTED_ROWS_PER_S = 20_000.0
# "Error" can be transient (production notes: it later resolves). A final one has a
# completionDateTime and is believed after this many more polls; one without is believed only
# after this many seconds (then the rows count as unknown and are sent again).
ERROR_REPOLLS = 2
ERROR_PATIENCE_S = 120.0


@dataclass(frozen=True)
class Polling:
    """When `sfmc.rows.wait_for_rows` (and the journey batch status) polls.

    Attributes:
        first: the shortest delay between two polls, in seconds.
        factor: each delay is the previous one times this...
        ceiling: ...up to this.
        wait_first: wait the expected duration before the first poll (a job submitted a moment
            ago has surely not finished; polling at once would only cost a request).
        share: a delay is at most this share of the time waited so far (bounds how late a
            finished job is seen, as a share of its duration).
        rows_per_s: expected processing rate, to time the first poll (see `expected`).
        at_least: a job is expected to take at least this long (what the caller learned from
            its previous jobs: SFMC's queue time is the tenant's, not the job's).
    """

    first: float = POLL_INITIAL
    factor: float = 2.0
    ceiling: float = POLL_MAX
    wait_first: bool = False
    share: float = float("inf")
    rows_per_s: float = EXPECTED_ROWS_PER_S
    at_least: float = 0.0

    def expected(self, n_rows: int) -> float:
        """Seconds a job of `n_rows` rows is expected to take (at least `first`)."""
        rate_time = n_rows / self.rows_per_s if self.rows_per_s > 0 else 0.0
        return max(self.first, rate_time, self.at_least)

    def next_delay(self, delay: float, waited: float) -> float:
        """The delay after `delay`, having waited `waited` seconds so far."""
        grown = min(delay * self.factor, self.ceiling)
        return max(self.first, min(grown, max(waited * self.share, self.first)))


DEFAULT_POLLING = Polling()


class CallBudget:
    """API calls one run may spend on waiting (status polls); shared by the run's threads.

    A run that spends its budget stops with a retriable error saying to sync again later
    (accepted rows are kept); the delays of `Polling` keep a normal run far below it.
    """

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.spent = 0
        self._lock = threading.Lock()

    def spend(self, what: str) -> None:
        """Count one call; raise when the budget is gone.

        Raises:
            SfmcRetriableError: kind "budget" when the run has used all its calls.
        """
        with self._lock:
            self.spent += 1
            over = self.limit is not None and self.spent > self.limit
        if over:
            msg = (
                f"This run has used its budget of {self.limit} status checks while {what}; "
                "SFMC is slow to process jobs right now: run the sync again later (rows "
                "already accepted are kept)."
            )
            raise SfmcRetriableError(msg, operation="wait for SFMC", kind="budget")


def waiting_note(request_status: str | None, waited: float) -> str:
    """What a job is doing, for progress: "SFMC is queueing this job (2 min)"."""
    minutes, seconds = divmod(int(waited), 60)
    took = f"{minutes} min" if minutes else f"{seconds} s"
    if request_status in (None, "Pending", "Queued"):
        return f"SFMC is queueing this job ({took})"
    return f"SFMC is processing this job ({took})"


def _quiet(_note: str) -> None:
    return None


NO_NOTE: Callable[[str], None] = _quiet
