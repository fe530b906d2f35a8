"""Push Audiences (staff): the four-step wizard from audience to a running sync."""

from __future__ import annotations

import streamlit as st

from pages import _widgets as widgets
from pages import _wizard as wiz
from pages import _wizard_summary as summary
from ui import state
from ui.audiences import audience_rows_for_wizard
from ui.connections import connection_rows
from ui.pathways import pushed_pairs
from ui.text import md

user = state.require_role("staff")
st.title("Push Audiences")
STEPS = ("Select audience", "Choose destination", "Review Pathway", "Summary")
session = st.session_state
step = int(session.get(state.PUSH_STEP) or 1)
widgets.stepper(STEPS, step)

engine = state.get_engine()
audiences = audience_rows_for_wizard(engine)
connections = connection_rows(engine)
if not audiences:
    st.info("No audiences yet. Upload a data set and define an audience on **Audiences** first.")
    st.stop()
if not connections:
    st.info("No connections yet — an admin adds one on **Connections**.")
    st.stop()
pushed = pushed_pairs(engine)
aud_by_id = {a["id"]: a for a in audiences}
conn_by_id = {c["id"]: c for c in connections}


def go(n: int) -> None:
    session[state.PUSH_STEP] = n


if step == 1:
    st.subheader("1. Select audience")
    ids = [a["id"] for a in audiences]
    current = session.get(state.PUSH_AUDIENCE_ID)

    def label(aid: int) -> str:
        a = aud_by_id[aid]
        done = [conn_by_id[c]["name"] for (x, c) in pushed if x == aid and c in conn_by_id]
        tag = f" · (Already Pushed) to {', '.join(done)}" if done else ""
        return f"{a['name']} — {a['count']:,} records{' · modeled' if a['modeled'] else ''}{tag}"

    choice = st.selectbox(
        "Audience (type to search)",
        ids,
        index=ids.index(current) if current in ids else None,
        format_func=label,
        placeholder="Choose an audience",
    )
    widgets.static_table(
        [
            {
                "Audience": a["name"],
                "Records": f"{a['count']:,}",
                "Data set": a["dataset"],
                "Already pushed to": ", ".join(
                    conn_by_id[c]["name"] for (x, c) in pushed if x == a["id"] and c in conn_by_id
                ),
                "Modeled": "yes" if a["modeled"] else "",
            }
            for a in audiences
        ]
    )
    if st.button("Next: choose destination", type="primary", disabled=choice is None):
        session[state.PUSH_AUDIENCE_ID] = choice
        state.forget_draft()
        go(2)
        st.rerun()

elif step == 2:
    aud = aud_by_id.get(session.get(state.PUSH_AUDIENCE_ID))
    if aud is None:
        go(1)
        st.rerun()
    st.subheader("2. Choose destination")
    st.caption(f"Audience: **{md(aud['name'])}** ({aud['count']:,} records)")
    ids = [c["id"] for c in connections]
    current = session.get(state.PUSH_CONNECTION_ID)
    choice = st.radio(
        "Marketing Cloud connection",
        ids,
        index=ids.index(current) if current in ids else 0,
        format_func=lambda cid: (  # radio options are Markdown
            md(conn_by_id[cid]["name"])
            + (" (Already Pushed)" if (aud["id"], cid) in pushed else "")
        ),
    )
    blocked = aud["modeled"] and not conn_by_id[choice]["allow_modeled"]
    if blocked:
        st.error("You cannot push modeled audiences to this destination.", icon=":material/block:")
        st.caption("An admin can allow modeled audiences on this connection (Connections page).")
    elif (aud["id"], choice) in pushed:
        st.info(
            "This audience already has a pathway to this connection. Continuing re-syncs it with "
            "its saved mapping; change the mapping on **Column Mapping**."
        )
    back, nxt, _ = st.columns([1, 2, 5])
    if back.button("Back"):
        go(1)
        st.rerun()
    if nxt.button("Next: review pathway", type="primary", disabled=blocked):
        if session.get(state.PUSH_CONNECTION_ID) != choice:
            state.forget_draft()
        session[state.PUSH_CONNECTION_ID] = choice
        go(3)
        st.rerun()

elif step == 3:
    wiz.review_step(aud_by_id, conn_by_id, go)

else:
    summary.summary_step(aud_by_id, conn_by_id, go, user)
