"""Audiences page part: data sets in and out.

Upload one (CSV or Excel) and show what was imported or refused; delete one no audience uses.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from pages import _widgets as widgets
from store.datasets import audiences_using
from store.importer import ImportProgress
from ui import audiences as uaud
from ui import state
from ui.text import md


def _default_name() -> None:
    # The name follows the chosen file; a keyed widget keeps its identity across reruns.
    chosen = st.session_state.get(state.AUD_UPLOAD)
    st.session_state[state.AUD_DS_NAME] = chosen.name.rsplit(".", 1)[0] if chosen else ""


def import_with_progress(label: str, func: Any, *args: Any, **kwargs: Any) -> tuple[bool, Any]:
    """`widgets.guard(func, ...)` under a progress bar fed by the import's `on_progress`.

    A first import and a new version read a file the same way, so they show it the same way.
    """
    bar = st.progress(0.0, text=f"{label}…")

    def on_progress(p: ImportProgress) -> None:
        frac = min(p.bytes_read / p.bytes_total, 1.0) if p.bytes_total else 0.0
        bar.progress(frac, text=f"{label}… {p.rows_imported:,} rows")

    result = widgets.guard(func, *args, on_progress=on_progress, **kwargs)
    bar.empty()
    return result


def import_report(report: dict[str, Any], *, refused: str, key: str) -> None:
    """What an import did: its summary and notes, then the `refused` rows with why (if any)."""
    st.success(md(report["summary"]), icon=":material/check:")
    for note in report["notes"]:
        st.caption(md(note))
    if report["problems"]:
        st.warning(f"{len(report['problems']):,} {refused}")
        problems_table(report["problems"], key=key)


def problems_table(problems: list[dict[str, Any]], *, key: str) -> None:
    """Rows of a file that could not be imported, with why."""
    widgets.paginated(
        [{"Line": r.get("line"), "Problem": r.get("problem")} for r in problems],
        key=key,
        page_size=20,
        column_config={"Problem": st.column_config.TextColumn(width="large")},
    )


@st.dialog("Delete data set?")
def confirm_delete(dataset_id: int, label: str, who: str) -> None:
    """Delete a data set after confirmation; one that audiences use names them instead."""
    with state.session() as s:
        used = audiences_using(dataset_id, session=s)
    blocked = (
        f"{md(label)} is used by {len(used)} audience(s): {widgets.bold_names(used)}. A data set "
        "can be deleted once no audience uses it."
        if used
        else None
    )
    question = f"Delete **{md(label)}** and its rows? This cannot be undone."
    engine = state.get_engine()
    if widgets.delete_confirmation(
        blocked, question, "Delete data set", "ds_delete_yes", uaud.delete_dataset, engine,
        dataset_id, who=who,
    ):  # fmt: skip
        st.session_state[state.AUD_DATASET_ID] = None
        st.session_state[state.AUD_FILTERS] = []
        st.rerun()


def upload_section(user: Any) -> None:
    """The file picker, name and Import button, then the last import's report."""
    session = st.session_state
    upload = st.file_uploader(
        "File", type=["csv", "txt", "xlsx"], key=state.AUD_UPLOAD, on_change=_default_name
    )
    ds_name = st.text_input("Data set name", key=state.AUD_DS_NAME)
    if st.button("Import", type="primary", disabled=upload is None or not ds_name.strip()):
        ok, report = import_with_progress(
            "Importing",
            uaud.import_dataset,
            state.get_engine(),
            upload,
            name=ds_name,
            filename=upload.name,
            who=user.username,
        )
        if ok:
            session[state.AUD_DATASET_ID] = report["dataset_id"]
            session[state.AUD_IMPORT_REPORT] = report
    rep = session.get(state.AUD_IMPORT_REPORT)
    if rep:
        refused = (
            "row(s) could not be imported; nothing was dropped silently. Fix them in the file "
            "and upload it again if you need them:"
        )
        import_report(rep, refused=refused, key="aud_problems_page")
