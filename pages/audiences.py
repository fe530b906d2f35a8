"""Audiences (staff): upload data sets, preview them, define audiences with filters."""

from __future__ import annotations

import streamlit as st

from pages import _upload
from pages import _widgets as widgets
from store.audience_rows import count_matching, preview_matching
from store.datasets import list_datasets
from store.filters import OP_LABELS, OPS
from ui import audiences as uaud
from ui import state
from ui.text import code, md

user = state.require_role("staff")
st.title("Audiences")
engine = state.get_engine()
session = st.session_state

with st.expander("Upload a data set (CSV or Excel)", expanded=False, icon=":material/upload:"):
    _upload.upload_section(user)

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

tab_aud, tab_cols, tab_rows = st.tabs(["Audiences", "Columns and types", "Preview rows"])
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

with tab_aud:
    widgets.audience_list(ds_id)
    st.markdown("#### New audience")
    filters = session[state.AUD_FILTERS]
    with st.form("aud_filter_add", clear_on_submit=True, border=False):
        f1, f2, f3, f4 = st.columns([3, 2, 3, 1], vertical_alignment="bottom")
        column = f1.selectbox("Column", names)
        op = f2.selectbox("Operator", OPS, format_func=OP_LABELS.get)
        value = f3.text_input(
            "Value",
            help="For 'in', separate values with commas; for "
            "'between', write two values separated by a comma.",
        )
        if f4.form_submit_button("Add filter"):
            filters.append({"column": column, "op": op, "value": value})
    for i, f in enumerate(list(filters)):
        a, b = st.columns([6, 1])
        a.markdown(f"{code(f['column'])} {OP_LABELS.get(f['op'], f['op'])} {code(f['value'])}")
        if b.button("Remove", key=f"aud_rm_{i}"):
            filters.pop(i)
            st.rerun()
    ok, count = widgets.guard(count_matching, engine, ds, filters)
    if ok:
        st.metric("Matching records", f"{count:,}")
        with st.expander("Preview matching rows"):
            widgets.table(preview_matching(engine, ds, filters, limit=20))
    with st.form("aud_save"):
        name = st.text_input("Audience name")
        modeled = st.checkbox("Modeled (built from a score)")
        if st.form_submit_button("Save audience", type="primary"):
            ok, problems = widgets.guard(
                uaud.create_audience, engine, name, ds_id, filters, modeled=modeled
            )
            for problem in problems or []:
                st.error(md(problem), icon=":material/error:")
            if ok and not problems:
                session[state.AUD_FILTERS] = []
                st.toast(f"Audience {md(name)} saved.", icon=":material/check:")
                st.rerun()
