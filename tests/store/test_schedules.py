"""Schedules: the forms people write, their words and next runs, and each slot queued once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlmodel import Session

from store.audiences import create_audience
from store.connections import create_connection
from store.datasets import get_dataset_by_name
from store.importer import import_file
from store.models import Pathway, SyncRun
from store.pathways import create_pathway
from store.queue import finish_run
from store.schedules import ScheduleError, enqueue_due_runs, parse_schedule
from ui.schedules import ScheduleChoice, in_words, next_runs, save_schedule, schedule_text, title

T0 = datetime(
    2026, 3, 27, 12, 0, tzinfo=UTC
)  # a Friday, two days before Paris moves to summer time


@pytest.mark.parametrize(
    ("text", "canonical", "words"),
    [
        ("manual", "manual", "Manual only"),
        ("hourly", "hourly", "Every 1 hour"),
        ("every 15 minutes", "every 15 minutes", "Every 15 minutes"),
        ("Every  2   Hour", "every 2 hours", "Every 2 hours"),
        ("daily 08:30 Europe/Paris", "daily 08:30 Europe/Paris", "Daily at 08:30 (Europe/Paris)"),
        ("weekly thu,MON 07:05 UTC", "weekly mon,thu 07:05 UTC", "Weekly on Monday and Thursday at 07:05 (UTC)"),
        ("cron 0 6 * * 1-5 America/New_York", "cron 0 6 * * 1-5 America/New_York", "Cron 0 6 * * 1-5 (America/New_York)"),
    ],
)  # fmt: skip
def test_schedules_read_and_said_in_words(text, canonical, words):
    parsed = parse_schedule(text)
    assert (parsed.text, parsed.describe()) == (canonical, words)


def test_next_runs_follow_the_time_zone_across_summer_time():
    parsed = parse_schedule("daily 08:30 Europe/Paris")
    slots = parsed.next_slots(T0.replace(tzinfo=None), 3)
    # 08:30 in Paris is 07:30 UTC in winter and 06:30 UTC from Sunday 29 March.
    assert [s.strftime("%d %H:%M") for s in slots] == ["28 07:30", "29 06:30", "30 06:30"]
    assert next_runs(parsed, now=T0) == [
        "Sat 28 Mar 2026 08:30 Europe/Paris",
        "Sun 29 Mar 2026 08:30 Europe/Paris",
        "Mon 30 Mar 2026 08:30 Europe/Paris",
    ]
    weekly = parse_schedule("weekly mon,thu 09:00 UTC")
    assert [s.strftime("%a %H:%M") for s in weekly.next_slots(T0.replace(tzinfo=None), 3)] == [
        "Mon 09:00", "Thu 09:00", "Mon 09:00"]  # fmt: skip


def test_words_with_next_runs_for_the_page():
    # Intervals count from the slot last taken; one never run is due now.
    assert in_words("every 2 hours", T0 - timedelta(minutes=30), now=T0) == (
        "Every 2 hours · next: Fri 27 Mar 2026 13:30 UTC; Fri 27 Mar 2026 15:30 UTC; "
        "Fri 27 Mar 2026 17:30 UTC"
    )
    assert in_words("every 2 hours", None, now=T0).startswith(
        "Every 2 hours · next: Fri 27 Mar 2026 12:00 UTC;"
    )
    # A calendar slot missed (taken last on Monday) is due now, then the next ones follow.
    assert next_runs(parse_schedule("daily 06:00 UTC"), T0 - timedelta(days=4), now=T0, count=2) == [
        "Fri 27 Mar 2026 12:00 UTC", "Sat 28 Mar 2026 06:00 UTC"]  # fmt: skip
    assert in_words("weekly xyz 08:00 UTC").startswith("Not running: Unknown weekday xyz")
    assert (title("manual"), title("weekly xyz 08:00 UTC")) == (
        "Manual only",
        "Not running (fix it)",
    )


def test_missed_slots_collapse_into_the_latest():
    every = parse_schedule("every 15 minutes")
    anchor = datetime(2026, 1, 1, 10, 0)
    assert every.latest_slot(anchor, datetime(2026, 1, 1, 10, 14)) is None
    assert every.latest_slot(anchor, datetime(2026, 1, 1, 13, 7)) == datetime(2026, 1, 1, 13, 0)
    daily = parse_schedule("daily 08:30 UTC")
    assert daily.latest_slot(anchor, datetime(2026, 1, 5, 9, 0)) == datetime(2026, 1, 5, 8, 30)
    assert daily.latest_slot(datetime(2026, 1, 5, 8, 30), datetime(2026, 1, 5, 20, 0)) is None


@pytest.fixture
def scheduled(engine):
    """A pathway (no SFMC call is made here: runs are only queued) and a way to schedule it."""
    import_file(engine, b"email,name\na@example.org,A\n", name="ds", filename="d.csv")
    with Session(engine) as session:
        ds = get_dataset_by_name("ds", session=session)
        audience = create_audience("aud", ds.id, session=session)
        conn = create_connection(
            "c", "https://x.auth.marketingcloudapis.com/", "id", "s", session=session
        )
        pathway_id = create_pathway(
            audience.id, conn.id, "P", "p_key", session=session, category_id=1
        ).id

    def schedule(text: str, slot: datetime | None) -> int:
        with engine.begin() as conn:
            conn.execute(update(Pathway.__table__).where(Pathway.__table__.c.id == pathway_id)
                         .values(schedule=text, schedule_slot=slot))  # fmt: skip
        return pathway_id

    return schedule


def _runs(engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(SyncRun.trigger, SyncRun.state)).all()]


def test_a_schedule_missed_for_days_runs_once_on_start(engine, scheduled):
    scheduled("daily 08:30 UTC", T0 - timedelta(days=4))  # the app was down four days
    assert len(enqueue_due_runs(engine, T0)) == 1
    assert enqueue_due_runs(engine, T0 + timedelta(minutes=1)) == []
    assert _runs(engine) == [("schedule", "queued")]


def test_a_new_calendar_schedule_waits_for_its_first_slot(engine, scheduled):
    scheduled("daily 08:30 UTC", None)
    assert enqueue_due_runs(engine, T0) == []  # 12:00: the first slot is tomorrow 08:30
    assert enqueue_due_runs(engine, T0 + timedelta(hours=20)) == []
    assert len(enqueue_due_runs(engine, T0 + timedelta(hours=21))) == 1


def test_a_slot_whose_last_run_still_goes_is_skipped_not_doubled(engine, scheduled):
    scheduled("every 15 minutes", T0 - timedelta(minutes=15))
    (first,) = enqueue_due_runs(engine, T0)
    assert enqueue_due_runs(engine, T0 + timedelta(minutes=15)) == []  # run 1 still queued
    finish_run(engine, first, "succeeded")
    assert len(enqueue_due_runs(engine, T0 + timedelta(minutes=30))) == 1


def test_many_workers_fire_a_slot_once(engine, scheduled):
    scheduled("every 5 minutes", T0 - timedelta(hours=1))
    queued: list[int] = []
    barrier = threading.Barrier(6)

    def tick() -> None:
        barrier.wait()
        queued.extend(enqueue_due_runs(engine, T0))

    threads = [threading.Thread(target=tick) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(queued) == 1
    assert _runs(engine) == [("schedule", "queued")]


def test_saving_a_schedule_checks_it_and_starts_after_now(engine, scheduled):
    pid = scheduled("manual", None)
    said = save_schedule(engine, pid, ScheduleChoice("weekly", days=("fri",), time_of_day="23:59",
                                                     tz="Pacific/Auckland"), label="P", who="kim")  # fmt: skip
    assert said.startswith("Weekly on Friday at 23:59 (Pacific/Auckland) · next: Fri ")
    with Session(engine) as session:
        p = session.get(Pathway, pid)
        assert p.schedule == "weekly fri 23:59 Pacific/Auckland"
        assert p.schedule_slot is not None
    assert enqueue_due_runs(engine) == []  # saved just now: nothing due yet


def test_schedule_text_of_each_kind():
    assert schedule_text(ScheduleChoice("interval", every=90, unit="minutes")) == "every 90 minutes"
    assert (
        schedule_text(ScheduleChoice("cron", cron=" */30 8-18 * * 1-5 ", tz="UTC"))
        == "cron */30 8-18 * * 1-5 UTC"
    )
    with pytest.raises(ScheduleError, match="at least one weekday"):
        schedule_text(ScheduleChoice("weekly", days=()))
