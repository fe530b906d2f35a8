"""Schedules: parse and describe them, compute their slots, and queue each due slot once.

A pathway's schedule is one line of text in `Pathway.schedule` (`parse_schedule` checks it):

- `manual`; the older `hourly` and `daily` (every 1 / 24 hours since the last run);
- `every 15 minutes`, `every 2 hours` (N minutes: 5 to 1440; N hours: 1 to 168);
- `daily 08:30 Europe/Paris`; `weekly mon,thu 08:30 Europe/Paris` (IANA time zone);
- `cron 0 6 * * 1-5 Europe/Paris` (five fields, read by `croniter` in that time zone).

Each pathway remembers the slot it last fired (`Pathway.schedule_slot`). A worker claims a due
slot with one conditional UPDATE and queues its run in the same transaction, so with several
workers a slot runs once, and after downtime only the latest missed slot runs (once).

Convention: Core with an engine (see `store/__init__.py`), like the queue it feeds: the worker
calls `enqueue_due_runs` on every tick, off the script thread.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, croniter
from sqlalchemy import func, or_, select, update
from sqlalchemy.engine import Engine

from store.models import Pathway, SyncRun, utcnow
from store.queue import RunConflictError, enqueue_in

log = logging.getLogger(__name__)
MANUAL = "manual"
LEGACY = {"hourly": "every 1 hours", "daily": "every 24 hours"}
UNITS = {"minutes": (5, 1440), "hours": (1, 168)}
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
EXAMPLES = "every 15 minutes, every 2 hours, daily 08:30 Europe/London, weekly mon,thu 08:30 UTC, cron 0 6 * * 1-5 UTC"
_RUN = SyncRun.__table__  # type: ignore[attr-defined]
_PATHWAY = Pathway.__table__  # type: ignore[attr-defined]
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class ScheduleError(ValueError):
    """A schedule that cannot be used; the message says what to write instead."""


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: an interval (`every` minutes) or a cron expression in a time zone."""

    text: str
    every: timedelta | None = None
    cron: str | None = None
    tz: str = "UTC"

    @property
    def manual(self) -> bool:
        return self.every is None and self.cron is None

    def describe(self) -> str:
        """The schedule in words ("Every 15 minutes", "Weekly on Monday at 08:30 (UTC)")."""
        if self.manual:
            return "Manual only"
        words = self.text.split()
        if words[0] == "every" or self.text in LEGACY:
            n, unit = LEGACY.get(self.text, self.text).split()[1:]
            return f"Every {n} {unit[:-1] if n == '1' else unit}"
        if words[0] == "daily":
            return f"Daily at {words[1]} ({self.tz})"
        if words[0] == "weekly":
            days = [DAY_NAMES[DAYS.index(d)] for d in words[1].split(",")]
            listed = days[0] if len(days) == 1 else ", ".join(days[:-1]) + " and " + days[-1]
            return f"Weekly on {listed} at {words[2]} ({self.tz})"
        return f"Cron {self.cron} ({self.tz})"

    def next_slots(self, after: datetime, count: int = 3) -> list[datetime]:
        """The next `count` slots strictly after `after` (naive UTC in, naive UTC out)."""
        if self.manual:
            return []
        if self.every is not None:
            return [after + self.every * (i + 1) for i in range(count)]
        it = croniter(self.cron, _local(after, self.tz))
        return [_utc(it.get_next(datetime)) for _ in range(count)]

    def upcoming(self, anchor: datetime | None, now: datetime, count: int = 3) -> list[datetime]:
        """When the next `count` runs happen, given the slot last taken (naive UTC).

        A slot already due (not taken yet) is `now`; an interval never run is due now too.
        """
        if self.manual:
            return []
        due = anchor is None if self.every is not None else False
        if anchor is not None and self.latest_slot(anchor, now) is not None:
            due = True
        if self.every is not None and anchor is not None and not due:
            first = anchor + self.every
            return [first + self.every * i for i in range(count)]
        later = self.next_slots(now, count - 1 if due else count)
        return [now, *later] if due else later

    def latest_slot(self, anchor: datetime, now: datetime) -> datetime | None:
        """The latest slot in (anchor, now], or None: missed slots collapse into this one."""
        if self.manual or now <= anchor:
            return None
        if self.every is not None:
            passed = (now - anchor) // self.every
            return anchor + self.every * passed if passed >= 1 else None
        slot = _utc(croniter(self.cron, _local(now, self.tz)).get_prev(datetime))
        if slot == now:  # croniter's get_prev is strictly before its start
            return now
        return slot if slot > anchor else None


def _local(naive: datetime, tz: str) -> datetime:
    return naive.replace(tzinfo=UTC).astimezone(ZoneInfo(tz))


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


def naive_utc(value: datetime | None) -> datetime | None:
    """`value` as naive UTC: SQLite hands back naive datetimes, so all comparisons use those."""
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        msg = (
            f"Unknown time zone {name!r}: use an IANA name such as Europe/London, "
            "America/New_York or UTC."
        )
        raise ScheduleError(msg) from None
    return name


def _time(value: str) -> str:
    if not _TIME.match(value):
        msg = f"{value!r} is not a time of day: write it as HH:MM on a 24-hour clock, e.g. 08:30."
        raise ScheduleError(msg)
    return value


def _days(value: str) -> list[int]:
    days = value.lower().split(",")
    wrong = [d for d in days if d not in DAYS]
    if wrong or not value:
        msg = f"Unknown weekday {', '.join(wrong) or '(none)'}: list days as {','.join(DAYS)}."
        raise ScheduleError(msg)
    return sorted({DAYS.index(d) for d in days})


def _interval(n_text: str, unit: str) -> timedelta:
    unit = unit if unit.endswith("s") else unit + "s"
    if unit not in UNITS or not n_text.isdigit():
        msg = f"Write an interval as 'every N minutes' or 'every N hours' (not {n_text} {unit})."
        raise ScheduleError(msg)
    low, high = UNITS[unit]
    if not low <= int(n_text) <= high:
        msg = f"Every {n_text} {unit} is out of range: choose {low} to {high} {unit}."
        raise ScheduleError(msg)
    return timedelta(**{unit: int(n_text)})


def _cron(fields: list[str], tz: str) -> Schedule:
    expr = " ".join(fields)
    if len(fields) != 5:
        msg = (
            f"A cron expression has five fields (minute hour day-of-month month day-of-week) "
            f"followed by a time zone; {expr!r} has {len(fields)}."
        )
        raise ScheduleError(msg)
    try:
        croniter(expr)
    except (CroniterBadCronError, ValueError, KeyError) as exc:
        msg = f"The cron expression {expr!r} is not valid ({exc}); e.g. '0 6 * * 1-5' is 06:00 on weekdays."
        raise ScheduleError(msg) from None
    return Schedule(f"cron {expr} {tz}", cron=expr, tz=tz)


def parse_schedule(text: str) -> Schedule:
    """Read a schedule (see the module docstring for the forms).

    Raises:
        ScheduleError: the text is not a usable schedule; the message says what to write.
    """
    words = " ".join(str(text or "").split()).split(" ")
    kind = words[0].lower()
    if kind in ("", MANUAL):
        return Schedule(MANUAL)
    if kind in LEGACY and len(words) == 1:
        return Schedule(kind, every=_interval(*LEGACY[kind].split()[1:]))
    if kind == "every" and len(words) == 3:
        every = _interval(words[1], words[2].lower())
        return Schedule(f"every {words[1]} {words[2].lower().rstrip('s')}s", every=every)
    if kind == "daily" and len(words) == 3:
        hh, mm = _time(words[1]).split(":")
        tz = _zone(words[2])
        return Schedule(f"daily {words[1]} {tz}", cron=f"{int(mm)} {int(hh)} * * *", tz=tz)
    if kind == "weekly" and len(words) == 4:
        days = _days(words[1])
        hh, mm = _time(words[2]).split(":")
        tz = _zone(words[3])
        cron_days = ",".join(str((d + 1) % 7) for d in days)  # cron: 0 = Sunday
        text = f"weekly {','.join(DAYS[d] for d in days)} {words[2]} {tz}"
        return Schedule(text, cron=f"{int(mm)} {int(hh)} * * {cron_days}", tz=tz)
    if kind == "cron" and len(words) >= 3:
        return _cron(words[1:-1], _zone(words[-1]))
    msg = f"{text!r} is not a schedule. Write one of: manual, {EXAMPLES}."
    raise ScheduleError(msg)


def next_run_at(schedule: str, anchor: datetime | None, now: datetime) -> datetime | None:
    """When a scheduled pathway runs next, from the slot it last took (or its last run).

    None for manual or an unreadable schedule.
    """
    try:
        parsed = parse_schedule(schedule)
    except ScheduleError:
        return None
    upcoming = parsed.upcoming(naive_utc(anchor), naive_utc(now), 1)  # type: ignore[arg-type]
    return upcoming[0] if upcoming else None


def _due(engine: Engine, now: datetime) -> list[tuple[int, Schedule, datetime]]:
    """(pathway id, schedule, slot) of every active schedule with a slot to run."""
    with engine.connect() as conn:
        pathways = conn.execute(
            select(_PATHWAY.c.id, _PATHWAY.c.schedule, _PATHWAY.c.schedule_slot).where(
                _PATHWAY.c.schedule != MANUAL, _PATHWAY.c.paused.is_(False)
            )
        ).all()
        last = dict(
            conn.execute(
                select(_RUN.c.pathway_id, func.max(_RUN.c.created_at))
                .where(_RUN.c.dry_run.is_(False))
                .group_by(_RUN.c.pathway_id)
            ).all()
        )
    due = []
    for pathway_id, text, slot in pathways:
        try:
            schedule = parse_schedule(text)
        except ScheduleError as exc:
            log.warning("pathway %s: schedule not run: %s", pathway_id, exc)
            continue
        anchor = naive_utc(slot) or naive_utc(last.get(pathway_id))
        if anchor is None:  # never run, never fired: an interval starts now, a calendar waits
            due_slot = now if schedule.every is not None else None
            if due_slot is None:
                _claim(engine, pathway_id, now, queue=False)
        else:
            due_slot = schedule.latest_slot(anchor, now)
        if due_slot is not None:
            due.append((pathway_id, schedule, due_slot))
    return due


def _claim(engine: Engine, pathway_id: int, slot: datetime, *, queue: bool) -> int | None:
    """Take `slot` for the pathway (one conditional UPDATE) and queue its run, atomically.

    The UPDATE is the transaction's first statement, so a second worker waits for the first
    one's commit and then finds the slot taken. A slot whose previous run is still going is
    skipped (taken, nothing queued): the schedule carries on at the next one.
    """
    taken_slot = _PATHWAY.c.schedule_slot
    with engine.begin() as conn:
        taken = conn.execute(
            update(_PATHWAY)
            .where(
                _PATHWAY.c.id == pathway_id,
                or_(taken_slot.is_(None), taken_slot < slot.replace(tzinfo=UTC)),
            )
            .values(schedule_slot=slot.replace(tzinfo=UTC))
        ).rowcount
        if taken != 1 or not queue:
            return None
        try:
            return enqueue_in(conn, pathway_id, "schedule")
        except RunConflictError:
            log.info("pathway %s: slot %s skipped, its last run is still going", pathway_id, slot)
            return None


def enqueue_due_runs(engine: Engine, now: datetime | None = None) -> list[int]:
    """Queue one run per due slot (see the module docstring); returns the new run ids."""
    now_naive = naive_utc(now or utcnow())
    assert now_naive is not None
    queued = []
    for pathway_id, _schedule, slot in _due(engine, now_naive):
        run_id = _claim(engine, pathway_id, slot, queue=True)
        if run_id is not None:
            queued.append(run_id)
    return queued
