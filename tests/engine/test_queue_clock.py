"""The first status poll of an async job comes when SFMC should be done with the rows ahead of it.

A fake clock stands in for time (nothing here sleeps or is timed).
"""

from __future__ import annotations

import pytest

from sync import queue_clock
from sync.queue_clock import QueueClock
from tests.fixtures import ManualClock


@pytest.fixture
def clock(monkeypatch):
    fake = ManualClock(start=100.0)
    monkeypatch.setattr(queue_clock.time, "monotonic", fake)
    return fake


def test_a_job_behind_others_is_expected_after_their_rows_and_its_own(clock):
    jobs = QueueClock(rows_per_s=20_000)
    early = queue_clock.EARLY  # the first poll comes a little early, to measure the true finish
    assert jobs.submitted(10_000) == pytest.approx(early * 0.5)  # alone: its rows at the guess
    assert jobs.submitted(20_000) == pytest.approx(early * 1.5)  # behind 10,000 rows
    clock.advance(3.0)  # SFMC was slower than guessed: 10,000 rows in 3 s
    jobs.finished(10_000)
    assert jobs.rate == pytest.approx(10_000 / 3)
    # The next job waits behind the 20,000 rows still queued, at the learned rate.
    assert jobs.submitted(10_000) == pytest.approx(early * 30_000 / (10_000 / 3))


def test_idle_time_between_jobs_does_not_count_as_sfmc_being_slow(clock):
    jobs = QueueClock(rows_per_s=20_000)
    jobs.submitted(10_000)
    clock.advance(1.0)
    jobs.finished(10_000)  # 10,000 rows/s
    clock.advance(60.0)  # the engine had nothing to send for a minute
    jobs.submitted(10_000)
    clock.advance(1.0)
    jobs.finished(10_000)
    assert jobs.rate == pytest.approx(10_000)
    assert jobs.queued == 0
