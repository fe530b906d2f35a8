"""Audiences (staff): upload data sets, preview them, define audiences with filters."""

from __future__ import annotations

import streamlit as st

from pages import _deps as deps
from pages import _widgets as ui
from store.audience_rows import count_matching, preview_matching
from store.audiences import create_audience, get_audience_by_name
from store.audit import record_audit
from store.datasets import list_datasets
from store.filters import OP_LABELS, OPS
from store.importer import ImportProgress, import_file

user = deps.require_role("staff")
st.title("Audiences")
engine = deps.get_engine()
state = st.session_state

with st.expander("Upload a data set (CSV or Excel)", expanded=False, icon=":material/upload:"):

    def _default_name() -> None:
        # The name follows the chosen file; a keyed widget keeps its identity across reruns.
        chosen = state.get("aud_upload")
        state["aud_ds_name"] = chosen.name.rsplit(".", 1)[0] if chosen else ""

    upload = st.file_uploader(
        "File", type=["csv", "txt", "xlsx"], key="aud_upload", on_change=_default_name
    )
    ds_name = st.text_input("Data set name", key="aud_ds_name")
    if st.button("Import", type="primary", disabled=upload is None or not ds_name.strip()):
        bar = st.progress(0.0, text="Importing…")

        def on_progress(p: ImportProgress) -> None:
            frac = min(p.bytes_read / p.bytes_total, 1.0) if p.bytes_total else 0.0
            bar.progress(frac, text=f"Importing… {p.rows_imported:,} rows")

        ok, report = ui.guard(
            import_file,
            engine,
            upload,
            name=ds_name.strip(),
            filename=upload.name,
            on_progress=on_progress,
        )
        bar.empty()
        if ok:
            state[deps.AUD_DATASET_ID] = report.dataset_id
            state[deps.AUD_IMPORT_REPORT] = {
                "summary": report.summary(),
                "notes": list(report.notes),
                "problems": list(report.problems),
            }
            with deps.session() as session:
                record_audit(user.username, "import data set", ds_name, session=session)
    rep = state.get(deps.AUD_IMPORT_REPORT)
    if rep:
        st.success(rep["summary"], icon=":material/check:")
        for note in rep["notes"]:
            st.caption(note)
        if rep["problems"]:
            st.warning(
                f"{len(rep['problems']):,} row(s) could not be imported; nothing was dropped "
                "silently. Fix them in the file and upload it again if you need them:"
            )
            ui.paginated(
                [{"Line": r.get("line"), "Problem": r.get("problem")} for r in rep["problems"]],
                key="aud_problems_page",
                page_size=20,
                column_config={"Problem": st.column_config.TextColumn(width="large")},
            )

with deps.session() as session:
    datasets = list_datasets(session=session, limit=1000)
if not datasets:
    st.info("No data sets yet. Upload a CSV or Excel file above to start.")
    st.stop()
by_id = {d.id: d for d in datasets}
ids = list(by_id)
cur = state.get(deps.AUD_DATASET_ID)
ds_id = st.selectbox(
    "Data set",
    ids,
    index=ids.index(cur) if cur in ids else 0,
    format_func=lambda i: f"{by_id[i].name} ({by_id[i].row_count:,} rows)",
)
state[deps.AUD_DATASET_ID] = ds_id
ds = by_id[ds_id]
cols = ds.columns
names = [c["name"] for c in cols]

tab_aud, tab_cols, tab_rows = st.tabs(["Audiences", "Columns and types", "Preview rows"])
with tab_cols:
    ui.columns_table(cols)
    if ds.problems:
        st.warning(f"{len(ds.problems):,} row(s) of the file could not be imported:")
        ui.paginated(
            [{"Line": r.get("line"), "Problem": r.get("problem")} for r in ds.problems],
            key="aud_ds_problems",
            page_size=20,
            column_config={"Problem": st.column_config.TextColumn(width="large")},
        )
with tab_rows:
    ui.paginated(
        preview_matching(engine, ds, [], limit=500).reset_index().rename(columns={"_row": "Row"}),
        key="aud_rows_page",
        page_size=25,
    )

with tab_aud:
    ui.audience_list(ds_id)
    st.markdown("#### New audience")
    filters = state[deps.AUD_FILTERS]
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
        a.markdown(f"`{f['column']}` {OP_LABELS.get(f['op'], f['op'])} `{f['value']}`")
        if b.button("Remove", key=f"aud_rm_{i}"):
            filters.pop(i)
            st.rerun()
    ok, count = ui.guard(count_matching, engine, ds, filters)
    if ok:
        st.metric("Matching records", f"{count:,}")
        with st.expander("Preview matching rows"):
            st.dataframe(preview_matching(engine, ds, filters, limit=20), hide_index=True)
    with st.form("aud_save"):
        name = st.text_input("Audience name")
        modeled = st.checkbox("Modeled (built from a score)")
        if st.form_submit_button("Save audience", type="primary"):
            with deps.session() as session:
                taken = get_audience_by_name(name.strip(), session=session)
            if not name.strip() or taken:
                st.error("Give the audience a new, unique name.", icon=":material/error:")
            else:
                with deps.session() as session:
                    ok, _ = ui.guard(
                        create_audience, name.strip(), ds_id, filters, modeled, session=session
                    )
                if ok:
                    state[deps.AUD_FILTERS] = []
                    st.toast(f"Audience {name} saved.", icon=":material/check:")
                    st.rerun()
