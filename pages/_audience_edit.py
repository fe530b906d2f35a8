"""Audiences page part: change an audience (name, filters), see who uses it, delete it.

Operators are offered per column type (`store.filters.ops_for`); saving goes through
`ui.audiences.edit_audience`, which checks every filter against the data set's columns.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from pages import _widgets as widgets
from store.audiences import list_audiences, pathways_using
from store.filters import OP_LABELS, OPS, ops_for
from ui import audiences as uaud
from ui import state
from ui.text import md


def operator_picker(where: Any, column: dict[str, Any], *, key: str) -> str:
    """An operator select offering only what fits the column's type."""
    return where.selectbox("Operator", ops_for(column), format_func=OP_LABELS.get, key=key)


def manage(ds: Any, user: Any) -> None:
    """Pick one of the data set's audiences; edit or delete it."""
    with state.session() as s:
        auds = list_audiences(session=s, dataset_id=ds.id, limit=1000)
    if not auds:
        return
    by_id = {a.id: a for a in auds}
    pick = st.selectbox(
        "Change an audience", list(by_id), format_func=lambda i: by_id[i].name, key="aud_pick"
    )
    aud = by_id[pick]
    with state.session() as s:
        used = pathways_using(aud.id, session=s)
    st.caption(
        "Used by pathway(s): " + ", ".join(f"**{md(n)}**" for n in used)
        if used
        else "No pathway uses this audience."
    )
    edit, drop = st.columns(2)
    if edit.button("Edit", icon=":material/edit:", key="aud_edit"):
        edit_dialog(ds, aud.id, aud.name, aud.filters, user.username)
    if drop.button("Delete", icon=":material/delete:", key="aud_del"):
        delete_dialog(aud.id, aud.name, used, user.username)


@st.dialog("Edit audience", width="large")
def edit_dialog(
    ds: Any, audience_id: int, name: str, filters: list[dict[str, Any]], who: str
) -> None:
    """Name and filters as a table: one row per filter, all combined with AND."""
    names = [c["name"] for c in ds.columns]
    types = ", ".join(
        f"{c['name']}: {', '.join(OP_LABELS[o] for o in ops_for(c))}" for c in ds.columns
    )
    new_name = st.text_input("Audience name", value=name, key="aud_e_name")
    frame = pd.DataFrame(
        [{"column": f["column"], "op": f["op"], "value": _text(f.get("value"))} for f in filters],
        columns=["column", "op", "value"],
    )
    edited = st.data_editor(
        frame,
        num_rows="dynamic",
        key="aud_e_filters",
        column_config={
            "column": st.column_config.SelectboxColumn("Column", options=names, required=True),
            "op": st.column_config.SelectboxColumn("Operator", options=list(OPS), required=True),
            "value": st.column_config.TextColumn("Value"),
        },
        hide_index=True,
    )
    st.caption(f"Operators per column: {md(types)}")
    if st.button("Save changes", type="primary", key="aud_e_save"):
        rows = [r for r in edited.to_dict("records") if r.get("column") and r.get("op")]
        ok, problems = widgets.guard(
            uaud.edit_audience,
            state.get_engine(),
            audience_id,
            name=new_name,
            filters=rows,
            who=who,
        )
        for problem in problems or []:
            st.error(md(problem), icon=":material/error:")
        if ok and not problems:
            st.rerun()


@st.dialog("Delete audience?")
def delete_dialog(audience_id: int, name: str, used: list[str], who: str) -> None:
    """Delete an audience no pathway pushes; one in use names its pathways instead."""
    blocked = (
        f"**{md(name)}** is pushed by {len(used)} pathway(s): {widgets.bold_names(used)}. "
        "Delete those pathways on Manage Pathways first."
        if used
        else None
    )
    question = f"Delete the audience **{md(name)}**? Its data set stays."
    engine = state.get_engine()
    if widgets.delete_confirmation(
        blocked, question, "Delete audience", "aud_del_yes", uaud.delete_audience, engine,
        audience_id, who=who,
    ):  # fmt: skip
        st.rerun()


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)
