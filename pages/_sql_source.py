"""Audiences page part: a data set read from a database the organisation already runs.

The URL (with its password) is sent once and stored encrypted; the page never shows it again.
A preview of the first rows and the inferred types comes before saving.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from pages import _widgets as widgets
from ui import audiences as uaud
from ui import state
from ui.text import code


def sql_section(user: Any) -> None:
    """URL, query, preview, then save as a new data set."""
    url = st.text_input(
        "Database URL",
        type="password",
        key="sql_url",
        placeholder="postgresql://user:password@host:5432/crm",
        help="An SQLAlchemy URL of PostgreSQL or SQLite. Stored encrypted, never shown again.",
    )
    query = st.text_area(
        "Query (one SELECT)",
        key="sql_query",
        placeholder="SELECT id, email, first_name FROM supporters WHERE active",
        help="Read only: a single SELECT or WITH … SELECT, run in a read-only transaction.",
    )
    if st.button(
        "Preview", icon=":material/visibility:", disabled=not (url and query), key="sql_pv"
    ):
        ok, got = widgets.guard(uaud.preview_sql, url, query)
        if ok:
            st.caption(
                "Inferred types: " + ", ".join(f"{code(c)} {t}" for c, t in got.types.items())
            )
            widgets.table([dict(zip(got.columns, r, strict=True)) for r in got.rows])
    with st.form("sql_save", border=False):
        name = st.text_input("Data set name", key="sql_name")
        keys = st.text_input(
            "Key column(s), comma separated",
            key="sql_keys",
            help="Rows are matched on these at each refresh, so only changes are sent.",
        )
        if st.form_submit_button("Save database data set", type="primary"):
            ok, report = widgets.guard(
                uaud.create_sql_dataset,
                state.get_engine(),
                name,
                url,
                query,
                keys=[k.strip() for k in keys.split(",") if k.strip()],
                who=user.username,
            )
            if ok:
                st.session_state[state.AUD_DATASET_ID] = report["dataset_id"]
                st.session_state[state.AUD_IMPORT_REPORT] = report
                st.rerun()
