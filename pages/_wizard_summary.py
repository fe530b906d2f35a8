"""Step 4 of the Push Audiences wizard: the summary card, dry run, Confirm and live progress."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from pages import _widgets as widgets
from pages._wizard import chosen_audience_and_connection
from sync import destinations as dest
from ui import destinations as udest
from ui import pathways as upath
from ui import runs as uruns
from ui import sending as usend
from ui import state
from ui.mapping import GENERATED_KEY_FIELD
from ui.text import code, md


def _summary_card(aud: dict, conn: dict, s: dict) -> None:
    kind = s.get("kind") or dest.DATA_EXTENSION
    with st.container(border=True):
        a, b = st.columns(2)
        a.markdown(f"**Audience**  \n{md(aud['name'])}")
        a.markdown(f"**Destination**  \n{md(conn['name'])} · {dest.DESTINATION_KINDS[kind]}")
        if kind == dest.DATA_EXTENSION:
            a.markdown(f"**Data Extension**  \n{md(s.get('de_name'))}  \n{code(s.get('de_key'))}")
            a.markdown(f"**Folder**  \n{md(s.get('category_path') or '—')}")
            b.markdown(f"**Method of Sync**  \n{upath.METHODS[s.get('method', 'upsert')][0]}")
            keys = s.get("primary_keys") or []
            if (s.get("options") or {}).get("generated_key"):
                keys = [f"{GENERATED_KEY_FIELD} (generated)"]
            b.markdown(f"**Primary key**  \n{md(', '.join(keys) or '—')}")
            for line in usend.summary_lines(s.get("options")):
                a.markdown(line)
        else:
            for line in udest.summary_lines(s):
                a.markdown(line)
        b.markdown(f"**Mapped columns**  \n{len(s.get('mapping') or [])}")
        b.markdown(f"**Estimated record count**  \n{aud['count']:,}")


def _processing(run_id: int, go: Callable[[int], None]) -> None:
    st.markdown("#### Processing")
    widgets.live_run(run_id, key="push")
    c1, c2 = st.columns(2)
    if c1.button("Push another audience"):
        state.reset_wizard()  # every wizard key, the dry run's too
        go(1)
        st.rerun()
    widgets.page_link(c2, "pages/manage_pathways.py", "Open Manage Pathways", ":material/sync:")


def _push(aud: dict, conn: dict, s: dict, user: Any, *, dry_run: bool) -> Any:
    """Create the pathway on first push and queue its run; the run, or None (error shown)."""
    ok, pushed = widgets.guard(
        uruns.push, state.get_engine(), aud, conn, s, user.username, dry_run=dry_run
    )
    if not ok:
        return None
    pathway_id, run = pushed
    st.session_state[state.PUSH_PATHWAY_ID] = pathway_id
    state.get_worker().wake()
    return run


def summary_step(aud_by_id: dict, conn_by_id: dict, go: Callable[[int], None], user: Any) -> None:
    """Step 4: summary card, dry run, Confirm -> queued run with live progress."""
    session = st.session_state
    aud, conn = chosen_audience_and_connection(aud_by_id, conn_by_id, go)
    st.subheader("4. Summary")
    pathway_id = session.get(state.PUSH_PATHWAY_ID)
    settings = dict(session.get(state.PUSH_SETTINGS) or {})
    if pathway_id:
        ok, settings = widgets.guard(upath.saved_settings, state.get_engine(), pathway_id)
        if not ok:
            st.stop()
    _summary_card(aud, conn, settings)
    if session.get(state.PUSH_RUN_ID):
        _processing(session[state.PUSH_RUN_ID], go)
        return
    back, dry, confirm, _ = st.columns([1, 2, 2, 3])
    if back.button("Back"):
        go(3)
        st.rerun()
    if dry.button("Dry run preview", icon=":material/preview:"):
        run = _push(aud, conn, settings, user, dry_run=True)
        if run is not None:
            session[state.PUSH_DRY_RUN_ID] = run.id
    if session.get(state.PUSH_DRY_RUN_ID):
        widgets.live_run(session[state.PUSH_DRY_RUN_ID], key="dry")
    if confirm.button("Confirm and push", type="primary", icon=":material/send:"):
        run = _push(aud, conn, settings, user, dry_run=False)
        if run is not None:
            session[state.PUSH_RUN_ID] = run.id
            st.rerun()
