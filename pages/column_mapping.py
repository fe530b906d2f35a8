"""Column Mapping (staff): edit a pathway's mapping, add columns, see schema drift."""

from __future__ import annotations

import streamlit as st

from pages import _sending as send_widgets
from pages import _widgets as widgets
from sfmc.types import FIELD_TYPES
from store.audiences import list_audiences
from store.connections import list_connections
from store.datasets import list_datasets
from store.pathways import get_mapping, list_pathways
from sync.destinations import DATA_EXTENSION
from ui import mapping as umap
from ui import pathways as upath
from ui import sending as usend
from ui import state
from ui.text import code, md

user = state.require_role("staff")
st.title("Column Mapping")
with state.session() as session:
    pathways = list_pathways(session=session)
    auds = {a.id: a for a in list_audiences(session=session)}
    sets = {d.id: d for d in list_datasets(session=session)}
    conns = {c.id: c.name for c in list_connections(session=session)}
if not pathways:
    st.info("No pathways yet. Create one on **Push Audiences**; its mapping can be edited here.")
    st.stop()
by_id = {p.id: p for p in pathways}
ids = list(by_id)
current = st.session_state.get(state.MAPPING_PATHWAY_ID)
pid = st.selectbox(
    "Pathway",
    ids,
    index=ids.index(current) if current in ids else 0,
    format_func=lambda i: (
        f"{auds[by_id[i].audience_id].name if by_id[i].audience_id in auds else '?'}"
        f" → {by_id[i].de_name} ({conns.get(by_id[i].connection_id, '?')})"
    ),
)
st.session_state[state.MAPPING_PATHWAY_ID] = pid
p = by_id[pid]
aud = auds.get(p.audience_id)
columns = sets[aud.dataset_id].columns if aud and aud.dataset_id in sets else []
col_names = [c["name"] for c in columns]
with state.session() as session:
    mapping = get_mapping(pid, session=session)
is_de = (p.destination_kind or DATA_EXTENSION) == DATA_EXTENSION

c1, c2, c3 = st.columns(3)
c1.markdown(f"**Data Extension**  \n{md(p.de_name)}  \n{code(p.de_customer_key)}")
c2.markdown(f"**Category** (fixed)  \n{md(p.category_path or '—')}")
c2.caption("Marketing Cloud keeps a Data Extension in its folder; the category cannot change here.")
c3.markdown(f"**Primary key**  \n{md(', '.join(p.primary_keys) or '—')}")

st.subheader("Mapping")
st.caption(
    "Add a row to map a new column: it becomes a new Data Extension field on the next sync. "
    "Marketing Cloud does not allow changing an existing field's type or shortening it."
)
with st.form(f"mapping_form_{pid}"):
    edited = st.data_editor(
        umap.mapping_frame(mapping),
        num_rows="dynamic",
        placeholder="—",
        hide_index=True,
        key=f"mapping_editor_{pid}",
        column_config={
            "Source column": st.column_config.SelectboxColumn(options=col_names, required=True),
            "Type": st.column_config.SelectboxColumn(options=FIELD_TYPES, required=True),
            "Length": st.column_config.NumberColumn(min_value=1, max_value=4000),
        },
    )
    saved = st.form_submit_button("Save mapping", type="primary")
if saved:
    keys = list(p.primary_keys)
    ok, problems = widgets.guard(
        upath.save_mapping,
        state.get_engine(),
        pid,
        umap.frame_to_mapping(edited, keys),
        keys,
        label=p.de_name,
        who=user.username,
        options=p.options if is_de else None,
    )
    for problem in problems or []:
        st.error(md(problem), icon=":material/error:")
    if ok and not problems:
        st.toast("Mapping saved; it applies on the next sync.", icon=":material/check:")
        st.rerun()

if is_de:
    st.subheader("Used for sending")
    st.caption(
        f"Now: {usend.sending_text(p.options)}. Data retention: {usend.retention_text(p.options)} "
        "(set when the Data Extension is created)."
    )
    rows = [m.model_dump() for m in mapping]
    with st.form(f"sending_form_{pid}"):
        choice = usend.current_choice(p.options, columns, rows)
        fields = [r["destination_field"] for r in rows]
        picked = send_widgets.send_settings(choice, fields, key=f"cm_send_{pid}", retention=False)
        save_sending = st.form_submit_button("Save sending settings")
    if save_sending:
        ok, problems = widgets.guard(
            usend.save_sending, state.get_engine(), pid, picked, label=p.de_name, who=user.username
        )
        for problem in problems or []:
            st.error(md(problem), icon=":material/error:")
        if ok and not problems:
            st.toast(
                "Saved; the next sync applies it to the Data Extension.", icon=":material/check:"
            )
            st.rerun()

st.subheader("Schema drift")
live: dict[str, object] = {}
checked = False
if st.toggle("Compare with the live Data Extension in Marketing Cloud", key=state.MAPPING_LIVE):
    ok, client = widgets.guard(state.client_for_connection_id, p.connection_id)
    if ok:
        ok, de = widgets.guard(client.find_data_extension, customer_key=p.de_customer_key)
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

drift = umap.drift_rows(col_names, mapping, live, checked=checked)
widgets.paginated(drift, key=f"drift_page_{pid}", page_size=30)
