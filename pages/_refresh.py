"""Audiences page part: new versions of a data set (a file, or its database source) and its history.

The refresh is `store.refresh` through `ui.audiences`: atomic, so the page only shows what it
did (or the error saying what to fix; nothing changed then).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from pages import _upload
from pages import _widgets as widgets
from store.refresh_checks import MODES
from ui import audiences as uaud
from ui import state


def new_version(ds: Any, user: Any) -> None:
    """Upload a new version of a file data set, or read a database source again."""
    if ds.sql_query:
        st.caption("Rows come from a database query; read it again to get the latest rows.")
        if st.button("Refresh from the database", icon=":material/sync:", key="ds_sql_refresh"):
            with st.spinner("Reading the database…"):
                ok, report = widgets.guard(
                    uaud.refresh_sql, state.get_engine(), ds.id, who=user.username
                )
            if ok:
                show_report(report)
        return
    names = [c["name"] for c in ds.columns]
    upload = st.file_uploader(
        "New version (CSV or Excel)", type=["csv", "txt", "xlsx"], key="ds_v_file"
    )
    mode = st.radio(
        "The file holds",
        MODES,
        format_func={
            "replace": "all the rows (replace)",
            "upsert": "new and changed rows (upsert)",
        }.get,
        horizontal=True,
        key="ds_v_mode",
    )
    keys = st.multiselect(
        "Key column(s) that identify a row",
        names,
        default=[k for k in ds.refresh_keys or [] if k in names],
        key="ds_v_keys",
        help="Rows are matched on these, so only changed rows are sent again. Without a key, "
        "a replace swaps every row.",
    )
    remove = mode == "upsert" and st.checkbox("Remove rows that are not in the file", key="ds_v_rm")
    if st.button("Upload new version", type="primary", disabled=upload is None, key="ds_v_go"):
        ok, report = _upload.import_with_progress(
            "Reading the new version",
            uaud.refresh_dataset,
            state.get_engine(),
            ds.id,
            upload,
            filename=upload.name,
            mode=mode,
            keys=keys,
            remove_missing=bool(remove),
            who=user.username,
        )
        if ok:
            show_report(report)


def show_report(report: dict[str, Any]) -> None:
    """What the refresh did, right under its button (the tabs below already show the version)."""
    refused = (
        "row(s) of the new version could not be imported; fix them in the file and upload it "
        "again if you need them:"
    )
    _upload.import_report(report, refused=refused, key="ds_v_problems")


def history(ds: Any) -> None:
    """The data set's versions: when, who, from what, rows added / changed / removed."""
    rows = uaud.dataset_history(state.get_engine(), ds.id)
    if not rows:
        st.caption("One version so far (imported before versions were kept).")
        return
    widgets.table(rows)
