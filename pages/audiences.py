"""Audiences (staff): upload data sets, preview them, define audiences with filters."""

from __future__ import annotations

from typing import Any

import streamlit as st

from pages import _audience_edit, _refresh, _sql_source, _upload
from pages import _widgets as widgets
from store.audience_rows import count_matching, index_filter_column, preview_matching
from store.datasets import list_datasets
from store.filters import OP_LABELS
from ui import audiences as uaud
from ui import state
from ui.text import code, md

user = state.require_role("staff")
st.title("Audiences")
engine = state.get_engine()
session = st.session_state

with st.expander("Upload a data set (CSV or Excel)", expanded=False, icon=":material/upload:"):
    _upload.upload_section(user)
with st.expander("Read a data set from a database (SQL)", icon=":material/database:"):
    _sql_source.sql_section(user)

with state.session() as s:
    datasets = list_datasets(session=s, limit=1000)
if not datasets:
    st.info("No data sets yet. Upload a CSV or Excel file above to start.")
    st.stop()
by_id = {d.id: d for d in datasets}
ids = list(by_id)
cur = session.get(state.AUD_DATASET_ID)
pick, drop = st.columns([5, 1], vertical_alignment="bottom")
ds_id = pick.selectbox(
    "Data set",
    ids,
    index=ids.index(cur) if cur in ids else 0,
    format_func=lambda i: f"{by_id[i].name} ({by_id[i].row_count:,} rows)",
)
session[state.AUD_DATASET_ID] = ds_id
ds = by_id[ds_id]
if drop.button("Delete", icon=":material/delete:", key="ds_delete", help="Delete this data set"):
    _upload.confirm_delete(ds_id, f"{ds.name} ({ds.row_count:,} rows)", user.username)
names = [c["name"] for c in ds.columns]
with st.expander("Upload a new version", icon=":material/sync:"):
    _refresh.new_version(ds, user)

tab_aud, tab_cols, tab_rows, tab_ver = st.tabs(
    ["Audiences", "Columns and types", "Preview rows", "Versions"]
)
with tab_ver:
    _refresh.history(ds)
with tab_cols:
    widgets.columns_table(ds.columns)
    if ds.problems:
        st.warning(f"{len(ds.problems):,} row(s) of the file could not be imported:")
        _upload.problems_table(ds.problems, key="aud_ds_problems")
with tab_rows:
    widgets.paginated(
        preview_matching(engine, ds, [], limit=500).reset_index().rename(columns={"_row": "Row"}),
        key="aud_rows_page",
        page_size=25,
    )


@st.fragment
def new_audience(ds: Any, names: list[str]) -> None:
    """Filters, live count and save of a new audience, as a fragment.

    A filter change reruns only this part, not the data set list, the row preview and every
    audience's count.
    """
    filters = session[state.AUD_FILTERS]
    f1, f2, f3 = st.columns([3, 2, 4], vertical_alignment="bottom")
    column = f1.selectbox("Column", names)
    index_filter_column(engine, ds, column)  # ready by the time the value is typed
    op = _audience_edit.operator_picker(f2, ds.columns[names.index(column)], key="aud_new_op")
    with f3.form("aud_filter_add", clear_on_submit=True, border=False):
        v, add = st.columns([3, 1], vertical_alignment="bottom")
        value = v.text_input(
            "Value",
            help="For 'in', separate values with commas; for "
            "'between', write two values separated by a comma.",
        )
        if add.form_submit_button("Add filter"):
            filters.append({"column": column, "op": op, "value": value})
    for i, f in enumerate(list(filters)):
        a, b = st.columns([6, 1])
        a.markdown(f"{code(f['column'])} {OP_LABELS.get(f['op'], f['op'])} {code(f['value'])}")
        if b.button("Remove", key=f"aud_rm_{i}"):
            filters.pop(i)
            st.rerun(scope="fragment")
    ok, count = widgets.guard(count_matching, engine, ds, filters, remembered=True)
    if ok:
        st.metric("Matching records", f"{count:,}")
        # On demand: finding the first rows of a rare value reads the whole table in row order.
        if filters and st.toggle("Preview matching rows", key="aud_match_preview"):
            widgets.table(preview_matching(engine, ds, filters, limit=20))
    with st.form("aud_save"):
        name = st.text_input("Audience name")
        modeled = st.checkbox("Modeled (built from a score)")
        if st.form_submit_button("Save audience", type="primary"):
            ok, problems = widgets.guard(
                uaud.create_audience,
                engine,
                name,
                ds.id,
                filters,
                modeled=modeled,
                who=user.username,
            )
            for problem in problems or []:
                st.error(md(problem), icon=":material/error:")
            if ok and not problems:
                session[state.AUD_FILTERS] = []
                st.toast(f"Audience {md(name)} saved.", icon=":material/check:")
                st.rerun()  # the whole page: the new audience joins the list above


with tab_aud:
    widgets.audience_list(ds_id)
    _audience_edit.manage(ds, user)
    st.markdown("#### New audience")
    new_audience(ds, names)
