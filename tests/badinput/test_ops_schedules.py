"""Bad input for schedules: each refused with what to write instead, the pathway unchanged."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlmodel import Session

from store.audiences import create_audience
from store.connections import create_connection
from store.datasets import get_dataset_by_name
from store.importer import import_file
from store.models import AuditEvent, Pathway, SyncRun
from store.pathways import create_pathway
from store.schedules import ScheduleError, enqueue_due_runs
from store.status import pathway_status
from ui.schedules import ScheduleChoice, save_schedule


@pytest.fixture
def pathway_id(engine) -> int:
    import_file(engine, b"email\na@example.org\n", name="ds", filename="d.csv")
    with Session(engine) as session:
        ds = get_dataset_by_name("ds", session=session)
        audience = create_audience("aud", ds.id, session=session)
        conn = create_connection(
            "c", "https://x.auth.marketingcloudapis.com/", "id", "s", session=session
        )
        return int(create_pathway(audience.id, conn.id, "P", "p_key", session=session,
                                  category_id=1, schedule="every 2 hours").id)  # fmt: skip


def _state(engine, pathway_id: int) -> tuple:
    with Session(engine) as session:
        p = session.get(Pathway, pathway_id)
        audits = session.exec(select(func.count()).select_from(AuditEvent)).one()
        return (p.schedule, p.schedule_slot, p.updated_at, audits)


CASES = [
    ("cron_six_fields", ScheduleChoice("cron", cron="0 0 6 * * 1-5", tz="UTC"), "has five fields"),
    ("cron_minute_61", ScheduleChoice("cron", cron="61 * * * *", tz="UTC"), "is not valid"),
    ("cron_words", ScheduleChoice("cron", cron="every morning", tz="UTC"), "five fields"),
    ("interval_too_often", ScheduleChoice("interval", every=2, unit="minutes"), "choose 5 to 1440 minutes"),
    ("interval_too_rare", ScheduleChoice("interval", every=200, unit="hours"), "choose 1 to 168 hours"),
    ("interval_unit", ScheduleChoice("interval", every=3, unit="fortnights"), "every N minutes"),
    ("unknown_time_zone", ScheduleChoice("daily", time_of_day="08:30", tz="Mars/Olympus_Mons"), "Unknown time zone"),
    ("time_zone_abbreviation", ScheduleChoice("cron", cron="0 6 * * *", tz="CEST"), "IANA name"),
    ("hour_25", ScheduleChoice("daily", time_of_day="25:00", tz="UTC"), "HH:MM on a 24-hour clock"),
    ("time_with_dot", ScheduleChoice("weekly", days=("mon",), time_of_day="8.30", tz="UTC"), "e.g. 08:30"),
    ("unknown_weekday", ScheduleChoice("weekly", days=("funday",), time_of_day="08:30", tz="UTC"), "Unknown weekday funday"),
    ("no_weekday", ScheduleChoice("weekly", days=(), time_of_day="08:30", tz="UTC"), "at least one weekday"),
    ("unknown_kind", ScheduleChoice("sometimes"), "Unknown kind of schedule"),
]  # fmt: skip


@pytest.mark.parametrize(("choice", "says"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_schedule_is_refused_and_nothing_changes(engine, pathway_id, choice, says):
    before = _state(engine, pathway_id)
    with pytest.raises(ScheduleError, match=says):
        save_schedule(engine, pathway_id, choice, label="P", who="kim")
    assert _state(engine, pathway_id) == before


def test_a_stored_schedule_that_cannot_be_read_never_fires(engine, pathway_id, caplog):
    with engine.begin() as conn:  # edited by hand in the database
        conn.execute(update(Pathway.__table__).where(Pathway.__table__.c.id == pathway_id)
                     .values(schedule="every 3 fortnights", schedule_slot=None))  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="store.schedules"):
        assert enqueue_due_runs(engine, datetime.now(UTC) + timedelta(days=30)) == []
    assert "every N minutes" in caplog.text
    assert pathway_status(engine, pathway_id).next_run is None
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(SyncRun)).scalar_one() == 0
