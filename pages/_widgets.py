"""Small UI pieces shared by the pages: stepper, tables, error help, run progress.

Values from users, uploads or SFMC are escaped (`ui.text.md`) before they join Markdown, and
every table goes through `table`, whose cells a spreadsheet will not run as formulas.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitAPIException

from sfmc.errors import SfmcError
from store import audience_rows, audiences, queue, reports
from store.filters import OP_LABELS
from store.status import run_outcome
from ui import audiences as uaud
from ui import errors, rejects, state
from ui import runs as uruns
from ui.text import md, sheet_safe


def show_error(exc: BaseException) -> None:
    """Render an error caught at the page boundary (H14)."""
    st.error(errors.error_help(exc), icon=":material/error:")


def guard(func: Any, *args: Any, **kwargs: Any) -> tuple[bool, Any]:
    """Call `func`; on an SfmcError/LookupError/ValueError show it and return (False, None)."""
    try:
        return True, func(*args, **kwargs)
    except (SfmcError, LookupError, ValueError) as exc:
        show_error(exc)
        return False, None


def bold_names(names: Sequence[str]) -> str:
    """Names in bold, comma-separated (Markdown-escaped: they are user input)."""
    return ", ".join(f"**{md(n)}**" for n in names)


def delete_confirmation(
    blocked: str | None,
    question: str,
    button: str,
    key: str,
    delete: Any,
    *args: Any,
    **kwargs: Any,
) -> bool:
    """A delete dialog's body: why it cannot go yet (`blocked`), or the question and its button.

    The button calls `delete(*args, **kwargs)` through `guard`; True once it is deleted (the
    caller then resets what pointed at it and reruns).
    """
    if blocked:
        st.warning(blocked, icon=":material/block:")
        return False
    st.markdown(question)
    return st.button(button, type="primary", key=key) and guard(delete, *args, **kwargs)[0]


def page_link(where: Any, path: str, label: str, icon: str) -> None:
    """A link to another page; plain text when the page runs outside the router (tests)."""
    try:
        where.page_link(path, label=label, icon=icon)
    except StreamlitAPIException:
        where.caption(f"Open **{label.removeprefix('Open ')}** from the menu.")


def stepper(steps: Sequence[str], current: int) -> None:
    """A visible step indicator: done steps ticked, the current one bold (1-based)."""
    cols = st.columns(len(steps))
    for i, (col, label) in enumerate(zip(cols, steps, strict=True), start=1):
        if i < current:
            col.markdown(f":green[:material/check_circle: {i}. {label}]")
        elif i == current:
            col.markdown(f":blue[:material/radio_button_checked:] **{i}. {label}**")
        else:
            col.markdown(f":gray[:material/radio_button_unchecked: {i}. {label}]")
    st.progress((current - 1) / max(len(steps) - 1, 1))


def table(rows: Sequence[dict[str, Any]] | pd.DataFrame, **kwargs: Any) -> None:
    """A read-only table; its toolbar's CSV download gets formula-safe cells (`sheet_safe`)."""
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    st.dataframe(sheet_safe(frame), hide_index=True, **kwargs)


def static_table(rows: Sequence[dict[str, Any]]) -> None:
    """A plain table that does not look clickable; its long cells wrap instead of being cut.

    `st.table` renders Markdown in cells, so every text cell is escaped (`md`).
    """
    frame = pd.DataFrame(
        [{k: md(v) if isinstance(v, str) else v for k, v in r.items()} for r in rows]
    )
    st.table(frame, hide_index=True, border="horizontal")


def paginated(
    rows: Sequence[dict[str, Any]] | pd.DataFrame, *, key: str, page_size: int = 25, **kwargs: Any
) -> None:
    """A dataframe shown one page at a time, with a page picker when there is more than one."""
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    pages = max(1, -(-len(frame) // page_size))
    page = 1
    if pages > 1:
        page = st.number_input(
            f"Page (of {pages})", min_value=1, max_value=pages, value=1, step=1, key=key
        )
    start = (int(page) - 1) * page_size
    table(frame.iloc[start : start + page_size], **kwargs)
    if pages > 1:
        st.caption(f"Rows {start + 1:,}–{min(start + page_size, len(frame)):,} of {len(frame):,}")


def fmt_when(value: Any) -> str:
    if value is None:
        return "Never"
    return value.strftime("%d %b %Y %H:%M UTC") if hasattr(value, "strftime") else str(value)


def fmt_ago(value: Any) -> str:
    """Relative time ("5m ago"), for metrics that have little room."""
    if value is None:
        return "Never"
    when = value if value.tzinfo else value.replace(tzinfo=UTC)
    secs = (datetime.now(UTC) - when).total_seconds()
    if secs < 0:
        return "in " + uruns.fmt_duration(-secs)
    if secs < 60:
        return "just now"
    if secs < 86400:
        return uruns.fmt_duration(secs).split(" ")[0] + " ago"
    return value.strftime("%d %b %Y")


def outcome_text(outcome: Any) -> str:
    """An outcome (`store.status.run_outcome`) as coloured Markdown: word, then counts."""
    return f":{outcome.tone}[**{outcome.word}**] · {outcome.counts}"


def run_progress(run: Any) -> None:
    """Progress bar and figures of one SyncRun row (rows, rate, ETA), then its outcome."""
    total = max(run.rows_total or 0, 1)
    done = (run.rows_succeeded or 0) + (run.rows_failed or 0) + (run.rows_skipped or 0)
    done = max(done, run.rows_sent or 0)
    what = "Dry run" if run.dry_run else "Sync"
    if run.state == "queued":
        st.progress(0.0, text=f"{what} queued: waiting for the worker to pick it up…")
        return
    if run.state == "running":
        st.progress(min(done / total, 1.0), text=uruns.progress_text(run))
        if run.message:
            st.caption(md(run.message))
        return
    outcome = run_outcome(run)
    if run.dry_run:
        if run.state == "failed":
            st.error(f"The dry run failed: {md(run.error or run.message)}", icon=":material/error:")
        else:
            st.markdown(":green[:material/preview:] **Dry run finished — nothing was written.**")
        return
    st.markdown(f"{outcome_text(outcome)} ({run.api_calls:,} API calls)")
    if run.state == "needs_confirm":
        mirror_stop(run, key="live")
    if run.state == "failed" and run.error:
        st.error(errors.run_error_help(run), icon=":material/error:")
    if run.rows_failed:
        st.info(rejects.REJECTED_FIX, icon=":material/download:")
        rejected_download(run, key_prefix="live")


def mirror_stop(run: Any, *, key: str) -> None:
    """A run stopped at Mirror's safety stop: why, once, and (for staff) the confirm control.

    The control sits beside the message that asks for it, wherever the run is shown; the
    deletes go ahead only after the box saying so is ticked.
    """
    st.warning(
        md(run.message or "This Mirror sync would delete many rows."), icon=":material/warning:"
    )
    user = state.current_user()
    if user is None or not user.can("staff"):
        st.caption("Only staff can confirm these deletes; you can view the pathway.")
        return
    sure = st.checkbox(
        f"I checked the audience: delete the rows it no longer has ({run.plan.get('delete', 0):,})",
        key=f"{key}_sure_{run.id}",
    )
    if st.button(
        "Confirm the deletes and sync",
        key=f"{key}_confirm_{run.id}",
        type="primary",
        disabled=not sure,
        icon=":material/delete_sweep:",
    ):
        ok, confirmed = guard(uruns.confirm_deletes, state.get_engine(), run, user.username)
        if ok:
            if st.session_state.get(state.PUSH_RUN_ID) == run.id:  # the wizard follows it
                st.session_state[state.PUSH_RUN_ID] = confirmed.id
            state.get_worker().wake()
            st.toast("Sync queued with the deletes confirmed.", icon=":material/schedule:")
            st.rerun()


def rejected_download(run: Any, *, key_prefix: str) -> bytes:
    """Download buttons of a run's rejected rows; returns the spreadsheet-safe CSV.

    Two files, each saying what it is for: one for spreadsheets (formula-like cells escaped)
    and one with the raw values; Update Only adds its unmatched rows.
    """
    engine = state.get_engine()
    data = reports.rejected_rows_csv(engine, run.id)
    name = f"pathway{run.pathway_id}_run{run.id}"
    files = (
        ("", f"{run.rows_failed:,} rejected rows for Excel", data, ":material/download:"),
        (
            "_raw",
            "rejected rows, raw values",
            lambda: reports.rejected_rows_csv(engine, run.id, safe=False),
            ":material/data_object:",
        ),
    )
    for col, (tag, label, content, icon) in zip(st.columns(2), files, strict=True):
        col.download_button(
            f"Run {run.id}: {label}",
            data=content,
            file_name=f"{name}_rejected{tag}.csv",
            mime="text/csv",
            key=f"{key_prefix}_dl{tag}_{run.id}",
            on_click="ignore",
            icon=icon,
            width="stretch",
        )
    st.caption(
        "Both are CSV files. **For Excel**: values starting with + - = or @ get a leading ' so "
        "a spreadsheet shows them as text ('+15280502514). **Raw values**: every value exactly "
        "as it was, for scripts and re-imports; do not open it in a spreadsheet."
    )
    if run.method == "update_only":
        st.download_button(
            f"Run {run.id}: unmatched rows (CSV)",
            data=rejects.csv_rows_of_type(data, "NotFound"),
            file_name=f"{name}_unmatched.csv",
            mime="text/csv",
            key=f"{key_prefix}_dl_nf_{run.id}",
            on_click="ignore",
        )
    return data


def load_run(run_id: int) -> Any:
    return queue.get_run(state.get_engine(), run_id)


def live_run(run_id: int, *, key: str) -> Any:
    """Live progress of a run, re-read from the store while it is active (H11, N4).

    Often in its first seconds, then every 2 s (`ui.runs.refresh_every`).
    """
    run = load_run(run_id)
    if run is None:
        st.warning("This run no longer exists (its pathway was deleted).")
        return None
    every = uruns.refresh_every(run)

    @st.fragment(run_every=every)
    def _progress() -> None:
        fresh = load_run(run_id)
        if fresh is None:
            return
        run_progress(fresh)
        if fresh.dry_run and fresh.plan and fresh.state not in queue.ACTIVE_STATES:
            show_plan(fresh.plan, uruns.dry_run_note(state.get_engine(), fresh))
        if every is not None and uruns.refresh_every(fresh) != every:
            st.rerun()  # the whole page: once with the final figures, or to re-read less often

    with st.container(key=f"run_{key}_{run_id}"):
        _progress()
    return run


def show_plan(plan: dict[str, Any], note: str | None = None) -> None:
    """The dry-run plan: rows to create / update / delete / skip / reject, a sample of rejects.

    `note` says what the real sync will do differently (Mirror's safety stop).
    """
    cols = st.columns(5)
    for col, name in zip(cols, ("create", "update", "delete", "skip", "reject"), strict=True):
        col.metric(f"To {name}", f"{int(plan.get(name, 0) or 0):,}")
    if note:
        st.warning(md(note), icon=":material/front_hand:")
    first = plan.get("first_rejects") or plan.get("rejects") or []
    if first:
        st.markdown(rejects.sample_heading(len(first), int(plan.get("reject") or len(first))))
        total = int(plan.get("reject") or len(first))
        counts = rejects.plan_type_counts(first)
        sample = len(first) if len(first) < total else None
        for line in rejects.rejected_help(counts, sample=sample):
            st.markdown(f"- {line}")
        table(rejects.plan_reject_rows(first))
    for note_line in plan.get("notes") or []:
        st.caption(md(note_line))


def columns_table(cols: Sequence[dict[str, Any]]) -> None:
    """A data set's columns with their inferred types and values that did not fit."""
    table(
        [
            {
                "Column": c.get("original", c["name"]),
                "Safe name": c["name"],
                "Type": c.get("type"),
                "Longest": c.get("max_length"),
                "Values that did not fit": ", ".join(map(str, (c.get("bad_examples") or [])[:3])),
            }
            for c in cols
        ]
    )


def audience_list(dataset_id: int) -> None:
    """The audiences of a data set: filters in words, record count, modeled toggle."""
    with state.session() as session:
        existing = audiences.list_audiences(session=session, dataset_id=dataset_id, limit=1000)
    if not existing:
        st.caption("No audiences on this data set yet: define one below.")
        return
    for a in existing:
        c1, c2, c3 = st.columns([4, 2, 2])
        rules = " AND ".join(
            f"{f['column']} {OP_LABELS.get(f['op'], f['op'])} {f.get('value', '')}"
            for f in a.filters
        )
        c1.markdown(f"**{md(a.name)}**  \n{md(rules) if rules else 'all rows'}")
        with c2:
            ok, n = guard(audience_rows.count_rows, state.get_engine(), a.id, remembered=True)
            if ok:
                st.markdown(f"**{n:,}** records")
        modeled = c3.toggle("Modeled", value=a.modeled, key=f"aud_modeled_{a.id}")
        if modeled != a.modeled:
            who = getattr(state.current_user(), "username", "")
            uaud.set_modeled(state.get_engine(), a.id, modeled, who=who)
            st.rerun()


def finish_review(settings: dict[str, Any], problems: Sequence[str], go: Any) -> None:
    """End step 3 of the wizard: keep the settings; on no problem, forget the old dry run, go on."""
    st.session_state[state.PUSH_SETTINGS] = settings
    for p in problems:
        st.error(md(p), icon=":material/error:")
    if not problems:
        st.session_state[state.PUSH_PATHWAY_ID] = None
        st.session_state[state.PUSH_DRY_RUN_ID] = None  # a dry run of other settings
        go(4)
        st.rerun()
