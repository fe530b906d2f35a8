"""Column Mapping (staff): edit a pathway's mapping, add columns, see schema drift."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages import _deps as deps
from pages import _widgets as ui
from pages import _wizard as wiz
from store.audiences import list_audiences
from store.audit import record_audit
from store.connections import list_connections
from store.datasets import list_datasets
from store.pathways import get_mapping, list_pathways, set_mapping

user = deps.require_role("staff")
st.title("Column Mapping")
with deps.session() as session:
    pathways = list_pathways(session=session)
    auds = {a.id: a for a in list_audiences(session=session)}
    sets = {d.id: d for d in list_datasets(session=session)}
    conns = {c.id: c.name for c in list_connections(session=session)}
if not pathways:
    st.info("No pathways yet. Create one on **Push Audiences**; its mapping can be edited here.")
    st.stop()
by_id = {p.id: p for p in pathways}
ids = list(by_id)
current = st.session_state.get(deps.MAPPING_PATHWAY_ID)
pid = st.selectbox(
    "Pathway",
    ids,
    index=ids.index(current) if current in ids else 0,
    format_func=lambda i: (
        f"{auds[by_id[i].audience_id].name if by_id[i].audience_id in auds else '?'}"
        f" → {by_id[i].de_name} ({conns.get(by_id[i].connection_id, '?')})"
    ),
)
st.session_state[deps.MAPPING_PATHWAY_ID] = pid
p = by_id[pid]
aud = auds.get(p.audience_id)
columns = sets[aud.dataset_id].columns if aud and aud.dataset_id in sets else []
col_names = [c["name"] for c in columns]
with deps.session() as session:
    mapping = get_mapping(pid, session=session)

c1, c2, c3 = st.columns(3)
c1.markdown(f"**Data Extension**  \n{p.de_name}  \n`{p.de_customer_key}`")
c2.markdown(f"**Category** (fixed)  \n{p.category_path or '—'}")
c2.caption("Marketing Cloud keeps a Data Extension in its folder; the category cannot change here.")
c3.markdown(f"**Primary key**  \n{', '.join(p.primary_keys) or '—'}")

frame = pd.DataFrame(
    [
        {
            "Source column": m.source_column,
            "Destination field": m.destination_field,
            "Type": m.field_type,
            "Length": m.length,
            "Required": m.required,
        }
        for m in mapping
    ],
    columns=["Source column", "Destination field", "Type", "Length", "Required"],
)
st.subheader("Mapping")
st.caption(
    "Add a row to map a new column: it becomes a new Data Extension field on the next sync. "
    "Marketing Cloud does not allow changing an existing field's type or shortening it."
)
with st.form(f"mapping_form_{pid}"):
    edited = st.data_editor(
        frame,
        num_rows="dynamic",
        placeholder="—",
        hide_index=True,
        key=f"mapping_editor_{pid}",
        column_config={
            "Source column": st.column_config.SelectboxColumn(options=col_names, required=True),
            "Type": st.column_config.SelectboxColumn(options=wiz.FIELD_TYPES, required=True),
            "Length": st.column_config.NumberColumn(min_value=1, max_value=4000),
        },
    )
    saved = st.form_submit_button("Save mapping", type="primary")
if saved:
    rows = wiz.frame_to_mapping(edited, list(p.primary_keys))
    problems = wiz.mapping_problems(rows, list(p.primary_keys))
    for problem in problems:
        st.error(problem, icon=":material/error:")
    if not problems:
        with deps.session() as session:
            ok, _ = ui.guard(set_mapping, pid, rows, session=session)
            if ok:
                record_audit(user.username, "edit mapping", p.de_name, session=session)
        if ok:
            st.toast("Mapping saved; it applies on the next sync.", icon=":material/check:")
            st.rerun()

st.subheader("Schema drift")
live: dict[str, object] = {}
checked = False
if st.toggle("Compare with the live Data Extension in Marketing Cloud", key="mapping_live"):
    ok, client = ui.guard(deps.client_for_connection_id, p.connection_id)
    if ok:
        ok, de = ui.guard(client.find_data_extension, customer_key=p.de_customer_key)
        checked = ok
        if ok and de is None:
            st.warning(
                "The Data Extension does not exist in Marketing Cloud (not synced yet, or "
                "deleted there); the next sync creates it."
            )
        elif ok:
            live = {f.name.casefold(): f for f in de.fields}
else:
    st.caption("Turn on the comparison to read the Data Extension's fields from Marketing Cloud.")


drift = ui.drift_rows(col_names, mapping, live, checked=checked)
ui.paginated(drift, key=f"drift_page_{pid}", page_size=30)
