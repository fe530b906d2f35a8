"""Jobs crowding one DE deadlock on a real tenant (issue 15): after a deadlock the run sends
fewer jobs at once, each bigger, so the same rows stay in flight."""

import threading

from sfmc.rows import ASYNC_MAX_ROWS
from sync.jobslots import JobSlots


def test_a_deadlock_lowers_the_jobs_in_flight_to_what_was_safe_and_grows_batches():
    slots = JobSlots(5)
    assert slots.batch_rows(8_000) == 8_000
    slots.deadlocked(others=2)  # deadlocked with two other jobs in flight: two at most
    assert slots.limit == 2
    slots.deadlocked(others=4)  # a job taken before the drop says nothing new
    assert slots.limit == 2
    assert slots.batch_rows(8_000) == ASYNC_MAX_ROWS


def test_a_third_job_waits_for_a_free_slot():
    slots = JobSlots(2)
    slots.deadlocked(others=2)
    entered = threading.Event()
    release = threading.Event()
    seen = []

    def job():
        with slots.hold() as others:
            seen.append(others)
            entered.set()
            release.wait(5)

    with slots.hold() as first, slots.hold() as second:
        waiting = threading.Thread(target=job)
        waiting.start()
        assert not entered.wait(0.2)  # both slots are taken
        assert (first, second) == (0, 1)
    assert entered.wait(5)
    release.set()
    waiting.join(5)
    assert seen == [0]
