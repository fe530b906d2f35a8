"""Schedules for people: build one from the control's choices, say it in words, save it.

The words and the next run times come from `store.schedules` (the same code the worker uses to
fire them), so what the page promises is what happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from store import audit, pathways
from store.models import utcnow
from store.schedules import MANUAL, Schedule, ScheduleError, naive_utc, parse_schedule
from ui.transaction import transaction

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

KINDS = {
    "manual": "Manual only",
    "interval": "Every N minutes or hours",
    "daily": "Daily at a time",
    "weekly": "Weekly on chosen days",
    "cron": "Cron expression",
}


@dataclass(frozen=True)
class ScheduleChoice:
    """What the schedule control collected (only the fields of `kind` are read)."""

    kind: str
    every: int = 1
    unit: str = "hours"
    time_of_day: str = "08:00"
    days: tuple[str, ...] = ()
    tz: str = "UTC"
    cron: str = ""


def schedule_text(choice: ScheduleChoice) -> str:
    """The schedule line for `choice`, checked (see `store.schedules.parse_schedule`).

    Raises:
        ScheduleError: the choice is not a usable schedule; the message says what to change.
    """
    text = {
        "manual": MANUAL,
        "interval": f"every {choice.every} {choice.unit}",
        "daily": f"daily {choice.time_of_day} {choice.tz}",
        "weekly": f"weekly {','.join(choice.days)} {choice.time_of_day} {choice.tz}",
        "cron": f"cron {choice.cron.strip()} {choice.tz}",
    }.get(choice.kind)
    if text is None:
        msg = f"Unknown kind of schedule {choice.kind!r}; choose one of {', '.join(KINDS)}."
        raise ScheduleError(msg)
    if choice.kind == "weekly" and not choice.days:
        msg = "Choose at least one weekday for a weekly schedule."
        raise ScheduleError(msg)
    return parse_schedule(text).text


def choice_of(text: str) -> ScheduleChoice:
    """The control's starting values for a stored schedule (manual when unreadable)."""
    try:
        parsed = parse_schedule(text)
    except ScheduleError:
        return ScheduleChoice("manual")
    words = parsed.text.split()
    if parsed.manual:
        return ScheduleChoice("manual")
    if parsed.every is not None:
        minutes = int(parsed.every.total_seconds() // 60)
        if minutes % 60 == 0:
            return ScheduleChoice("interval", every=minutes // 60, unit="hours")
        return ScheduleChoice("interval", every=minutes, unit="minutes")
    if words[0] == "daily":
        return ScheduleChoice("daily", time_of_day=words[1], tz=parsed.tz)
    if words[0] == "weekly":
        return ScheduleChoice(
            "weekly", days=tuple(words[1].split(",")), time_of_day=words[2], tz=parsed.tz
        )
    return ScheduleChoice("cron", cron=parsed.cron or "", tz=parsed.tz)


def next_runs(
    schedule: Schedule,
    anchor: datetime | None = None,
    *,
    count: int = 3,
    now: datetime | None = None,
) -> list[str]:
    """The next run times in words, in the schedule's time zone ("Mon 1 Dec 2026 08:30 UTC").

    `anchor` is the slot the pathway last took (`Pathway.schedule_slot`): intervals count from it.
    """
    start = (now or utcnow()).astimezone(UTC).replace(tzinfo=None)
    zone = ZoneInfo(schedule.tz)
    return [
        slot.replace(tzinfo=UTC).astimezone(zone).strftime(f"%a %-d %b %Y %H:%M {schedule.tz}")
        for slot in schedule.upcoming(naive_utc(anchor), start, count)
    ]


def title(text: str) -> str:
    """The schedule in a few words, for a button ("Every 2 hours", "Manual only", "Not running")."""
    try:
        return parse_schedule(text).describe()
    except ScheduleError:
        return "Not running (fix it)"


def in_words(text: str, anchor: datetime | None = None, *, now: datetime | None = None) -> str:
    """A schedule with its next run times, for the page ("Every 2 hours · next: ...")."""
    try:
        parsed = parse_schedule(text)
    except ScheduleError as exc:
        return f"Not running: {exc}"
    if parsed.manual:
        return "Manual only: runs when someone presses Sync."
    return f"{parsed.describe()} · next: {'; '.join(next_runs(parsed, anchor, now=now))}"


def save_schedule(
    engine: Engine, pathway_id: int, choice: ScheduleChoice, *, label: str, who: str
) -> str:
    """Give a pathway a schedule; its first slot is the first one after now.

    Returns:
        The schedule in words with its next run times.

    Raises:
        ScheduleError: the choice is not a usable schedule (nothing changes).
        LookupError: the pathway no longer exists.
    """
    text = schedule_text(choice)
    now = utcnow()
    with transaction(engine) as session:
        changed = pathways.update_pathway(
            pathway_id, session=session, schedule=text, schedule_slot=now
        )
        if changed is None:
            msg = f"Pathway {label} no longer exists."
            raise LookupError(msg)
        audit.record_audit(who, f"schedule {text}", label, session=session)
    return in_words(text, now, now=now)
