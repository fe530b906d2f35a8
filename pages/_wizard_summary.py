"""Step 4 of the Push Audiences wizard: the summary card, dry run, Confirm and live progress."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from pages import _deps as deps
from pages import _destinations as other
from pages import _widgets as ui
from pages._wizard import (
    GENERATED_KEY_FIELD,
    METHODS,
    PUSH_CHECKED,
    PUSH_GENERATED_KEY,
    PUSH_KIND,
    PUSH_TITLE_CASE,
    chosen_audience_and_connection,
    pathway_for,
)
from store.audit import record_audit
from store.pathways import create_pathway, get_mapping, get_pathway, set_mapping
from store.queue import enqueue_run
from sync import destinations as dest


def summary_step(aud_by_id: dict, conn_by_id: dict, go: Callable[[int], None], user: Any) -> None:
    """Step 4: summary card, dry run, Confirm -> queued run with live progress."""
    state = st.session_state
    aud, conn = chosen_audience_and_connection(aud_by_id, conn_by_id, go)
    st.subheader("4. Summary")
    pathway_id = state.get(deps.PUSH_PATHWAY_ID)
    s = dict(state.get(deps.PUSH_SETTINGS) or {})
    if pathway_id:
        with deps.session() as session:
            p = get_pathway(pathway_id, session=session)
            s = {
                "kind": p.destination_kind,
                "options": p.options,
                "method": p.method,
                "de_name": p.de_name,
                "de_key": p.de_customer_key,
                "primary_keys": p.primary_keys,
                "category_path": p.category_path,
                "mapping": [m.model_dump() for m in get_mapping(pathway_id, session=session)],
            }
    kind = s.get("kind") or dest.DATA_EXTENSION
    with st.container(border=True):
        a, b = st.columns(2)
        a.markdown(f"**Audience**  \n{aud['name']}")
        a.markdown(f"**Destination**  \n{conn['name']} · {dest.DESTINATION_KINDS[kind]}")
        if kind == dest.DATA_EXTENSION:
            a.markdown(f"**Data Extension**  \n{s.get('de_name')}  \n`{s.get('de_key')}`")
            a.markdown(f"**Folder**  \n{s.get('category_path') or '—'}")
            b.markdown(f"**Method of Sync**  \n{METHODS[s.get('method', 'upsert')][0]}")
            keys = s.get("primary_keys") or []
            if (s.get("options") or {}).get("generated_key"):
                keys = [f"{GENERATED_KEY_FIELD} (generated)"]
            b.markdown(f"**Primary key**  \n{', '.join(keys) or '—'}")
        else:
            for line in other.summary_lines(s):
                a.markdown(line)
        b.markdown(f"**Mapped columns**  \n{len(s.get('mapping') or [])}")
        b.markdown(f"**Estimated record count**  \n{aud['count']:,}")
    run_id = state.get(deps.PUSH_RUN_ID)
    if run_id:
        st.markdown("#### Processing")
        ui.live_run(run_id, key="push")
        c1, c2 = st.columns(2)
        if c1.button("Push another audience"):
            for k in (
                deps.PUSH_RUN_ID,
                deps.PUSH_PATHWAY_ID,
                deps.PUSH_AUDIENCE_ID,
                deps.PUSH_CONNECTION_ID,
                deps.PUSH_MAPPING,
                PUSH_CHECKED,
                PUSH_KIND,
                PUSH_TITLE_CASE,
                chosen_audience_and_connection,
                PUSH_GENERATED_KEY,
                other.PUSH_DEST_FRAME,
            ):
                state[k] = None
            state[deps.PUSH_SETTINGS] = {}
            go(1)
            st.rerun()
        ui.page_link(c2, "pages/manage_pathways.py", "Open Manage Pathways", ":material/sync:")
        return
    back, dry, confirm, _ = st.columns([1, 2, 2, 3])
    if back.button("Back"):
        go(3)
        st.rerun()
    if dry.button("Dry run preview", icon=":material/preview:"):
        ok, pid = ui.guard(_ensure_pathway, aud, conn, s, user)
        if ok:
            state[deps.PUSH_PATHWAY_ID] = pid
            ok, run = ui.guard(
                enqueue_run,
                deps.get_engine(),
                pid,
                "manual",
                dry_run=True,
                created_by=user.username,
            )
            if ok:
                state["push_dry_run_id"] = run.id
                deps.ensure_worker()
    dry_id = state.get("push_dry_run_id")
    if dry_id:
        ui.live_run(dry_id, key="dry")
    if confirm.button("Confirm and push", type="primary", icon=":material/send:"):
        ok, pid = ui.guard(_ensure_pathway, aud, conn, s, user)
        if ok:
            state[deps.PUSH_PATHWAY_ID] = pid
            ok, run = ui.guard(
                enqueue_run, deps.get_engine(), pid, "manual", created_by=user.username
            )
            if ok:
                state[deps.PUSH_RUN_ID] = run.id
                deps.ensure_worker()
                st.rerun()


def _ensure_pathway(aud: dict, conn: dict, s: dict, user: Any) -> int:
    """The pathway of this audience and connection, created with its mapping on first push."""
    kind = s.get("kind") or dest.DATA_EXTENSION
    existing = pathway_for(aud["id"], conn["id"], kind)
    if existing:
        return existing
    with deps.session() as session:
        pathway = create_pathway(
            audience_id=aud["id"],
            connection_id=conn["id"],
            de_name=s["de_name"],
            de_customer_key=s["de_key"],
            destination_kind=kind,
            options=s.get("options") or {},
            category_id=s.get("category_id"),
            category_path=s.get("category_path"),
            method=s.get("method", "upsert"),
            primary_keys=s["primary_keys"],
            delete_guard_share=s.get("guard_pct", 50) / 100,
            created_by=user.username,
            session=session,
        )
        set_mapping(pathway.id, s["mapping"], session=session)
        record_audit(
            user.username, "create pathway", f"{aud['name']} -> {conn['name']}", session=session
        )
        return pathway.id
