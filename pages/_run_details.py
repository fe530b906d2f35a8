"""Run details: one run's timeline (queued, phases, batches, finished), its figures, its error and fix."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from pages import _widgets as widgets
from store.run_events import list_events
from store.status import run_outcome
from ui import changes, state
from ui.errors import run_error_help
from ui.text import md


def _since(start: Any, moment: Any) -> str:
    if start is None or moment is None:
        return ""
    return f"+{max(0.0, (moment - start).total_seconds()):,.1f} s"


def _counts(figures: dict[str, int | None]) -> dict[str, str]:
    return {k: "" if v is None else f"{v:,}" for k, v in figures.items()}


def timeline(run: Any) -> pd.DataFrame:
    """Queued, started, each recorded phase and batch, finished: when, what, rows, API calls."""
    rows = [{"At": run.created_at, "Step": "queued", "What": f"by {run.created_by or run.trigger}"}]
    if run.started_at:
        rows.append({"At": run.started_at, "Step": "started", "What": run.worker_id or ""})
    for e in list_events(state.get_engine(), run.id):
        figures = {"Up to row": e.rows, "API calls": e.api_calls}
        rows.append({"At": e.at, "Step": e.phase, "What": e.detail, **_counts(figures)})
    if run.finished_at:
        rows.append({"At": run.finished_at, "Step": "finished", "What": run_outcome(run).word})
    frame = pd.DataFrame(rows, columns=["At", "Step", "What", "Up to row", "API calls"]).fillna("")
    frame.insert(1, "After", [_since(run.created_at, at) for at in frame["At"]])
    frame["At"] = [widgets.fmt_when(at) for at in frame["At"]]
    return frame


def run_details(run_id: int) -> None:
    """Everything about one run: outcome and figures, the timeline, the error with its fix."""
    run = widgets.load_run(run_id)
    if run is None:
        st.warning("This run no longer exists (its pathway was deleted).")
        return
    outcome = run_outcome(run)
    st.markdown(f"**Run {run.id}** · {widgets.outcome_text(outcome)}")
    figures = {
        "Added": getattr(run, "rows_new", None),
        "Changed": getattr(run, "rows_changed", None),
        "Removed": run.rows_deleted,
        "Rejected": run.rows_failed,
        "Written": run.rows_succeeded,
        "API calls": run.api_calls,
    }
    for column, (label, value) in zip(st.columns(len(figures)), figures.items(), strict=True):
        column.metric(label, "—" if value is None else f"{value:,}")
    words = changes.change_words(run)
    if words:
        st.caption(words)
    if run.state == "failed" or (run.error and outcome.word == "Failed"):
        st.error(md(run_error_help(run)), icon=":material/error:")
    elif run.message:
        st.caption(md(run.message))
    widgets.table(timeline(run), width="stretch")


def run_picker(runs: list[Any], *, key: str) -> None:
    """Choose one of a pathway's runs and show its details."""
    choice = st.selectbox(
        "Run details",
        [r.id for r in runs],
        format_func=lambda rid: next(
            f"Run {r.id} · {widgets.fmt_when(r.started_at or r.created_at)} · "
            f"{run_outcome(r).word}{' (dry run)' if r.dry_run else ''}"
            for r in runs
            if r.id == rid
        ),
        key=key,
    )
    if choice is not None:
        run_details(choice)
