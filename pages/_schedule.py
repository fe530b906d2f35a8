"""The schedule control of a pathway card (Manage Pathways): choose, read it in words, save."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import available_timezones

import streamlit as st

from pages import _widgets as widgets
from store.schedules import DAYS, ScheduleError
from ui import schedules as usched
from ui import state

_ZONES = sorted(available_timezones())
_UNITS = ("minutes", "hours")


def _inputs(p: Any, start: usched.ScheduleChoice) -> usched.ScheduleChoice:
    """The inputs of the chosen kind of schedule; returns what they say."""
    kinds = list(usched.KINDS)
    kind = st.radio("Runs", kinds, index=kinds.index(start.kind), format_func=usched.KINDS.get,
                    key=f"sch_kind_{p.id}")  # fmt: skip
    values: dict[str, Any] = {"kind": kind}
    if kind == "interval":
        a, b = st.columns(2)
        values["every"] = a.number_input("Every", min_value=1, max_value=1440, step=1,
                                          value=start.every, key=f"sch_every_{p.id}")  # fmt: skip
        values["unit"] = b.selectbox(
            "Unit", _UNITS, index=_UNITS.index(start.unit), key=f"sch_unit_{p.id}"
        )
    if kind == "weekly":
        values["days"] = tuple(
            st.multiselect("On", DAYS, default=list(start.days), key=f"sch_days_{p.id}")
        )
    if kind in ("daily", "weekly"):
        values["time_of_day"] = st.text_input("At (HH:MM, 24-hour clock)", value=start.time_of_day,
                                              key=f"sch_time_{p.id}")  # fmt: skip
    if kind == "cron":
        values["cron"] = st.text_input("Cron expression (minute hour day month weekday)",
                                       value=start.cron or "0 6 * * 1-5", key=f"sch_cron_{p.id}")  # fmt: skip
    if kind in ("daily", "weekly", "cron"):
        values["tz"] = st.selectbox("Time zone", _ZONES, index=_ZONES.index(start.tz) if start.tz in _ZONES else
                                    _ZONES.index("UTC"), key=f"sch_tz_{p.id}")  # fmt: skip
    return usched.ScheduleChoice(**values)


def schedule_control(p: Any, label: str, user: Any) -> None:
    """A popover with the pathway's schedule in words, its next runs, and the form to change it."""
    said = usched.in_words(p.schedule, p.schedule_slot)
    with st.popover(f"Schedule: {usched.title(p.schedule)}", icon=":material/event_repeat:"):
        st.caption(said)
        choice = _inputs(p, usched.choice_of(p.schedule))
        try:
            # Saved now, its first slot is the first one after now.
            preview = usched.in_words(usched.schedule_text(choice), datetime.now(UTC))
        except ScheduleError as exc:
            st.error(str(exc), icon=":material/error:")
            return
        st.info(preview, icon=":material/event:")
        st.caption("A scheduled run first reads a database source again; a missed slot runs once.")
        if st.button("Save schedule", key=f"sch_save_{p.id}", type="primary"):
            ok, said = widgets.guard(usched.save_schedule, state.get_engine(), p.id, choice,
                                     label=label, who=user.username)  # fmt: skip
            if ok:
                st.toast(f"Schedule saved: {said}", icon=":material/event_repeat:")
                st.rerun()
