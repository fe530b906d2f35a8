"""Staff actions on one pathway (Manage Pathways): sync, re-send, pause, schedule, delete, fix."""

from __future__ import annotations

from typing import Any

import streamlit as st

from pages import _widgets as widgets
from pages._schedule import schedule_control
from store.queue import active_run
from ui import errors, state
from ui import pathways as upath
from ui import runs as uruns
from ui.text import md


def _queue(p: Any, label: str, user: Any, **flags: bool) -> None:
    ok, _ = widgets.guard(uruns.queue_sync, state.get_engine(), p.id, user.username, **flags)
    if ok:
        state.get_worker().wake()
        st.toast(f"Sync of {md(label)} queued.", icon=":material/schedule:")
        st.rerun()


def _change(use_case: Any, *args: Any, **kwargs: Any) -> None:
    """Run a pathway change (it writes its own audit entry); rerun to show it."""
    ok, _ = widgets.guard(use_case, state.get_engine(), *args, **kwargs)
    if ok:
        st.rerun()


@st.dialog("Delete pathway?")
def confirm_delete(pathway_id: int, label: str, who: str) -> None:
    st.markdown(
        f"Delete the pathway **{md(label)}**? The Data Extension in Marketing Cloud is kept."
    )
    if st.button("Delete pathway", type="primary", key="pw_delete_yes"):
        _change(upath.delete_pathway, pathway_id, label=label, who=who)


def actions(p: Any, label: str, status: Any, user: Any) -> None:
    """The action row of a pathway card (staff and admins only)."""
    engine = state.get_engine()
    busy = status.status == "Syncing"
    c1, c2, c3, c4, c5 = st.columns([1, 1.3, 1, 1, 1.6], vertical_alignment="bottom")
    if c1.button(
        "Sync now", key=f"pw_sync_{p.id}", icon=":material/sync:", disabled=busy or p.paused
    ):
        _queue(p, label, user)
    if c2.button(
        "Full re-send",
        key=f"pw_full_{p.id}",
        icon=":material/replay:",
        disabled=busy or p.paused,
        help="Send every row again, not only new and changed ones.",
    ):
        _queue(p, label, user, full_resend=True)
    if c3.button(
        "Resume" if p.paused else "Pause",
        key=f"pw_pause_{p.id}",
        icon=":material/play_arrow:" if p.paused else ":material/pause:",
    ):
        _change(upath.set_paused, p.id, not p.paused, label=label, who=user.username)
    if c4.button("Delete", key=f"pw_del_{p.id}", icon=":material/delete:"):
        confirm_delete(p.id, label, user.username)
    with c5:
        schedule_control(p, label, user)
    if active_run(engine, p.id) is not None and st.button(
        "Cancel this sync", key=f"pw_cancel_{p.id}", icon=":material/stop_circle:"
    ):
        uruns.cancel_sync(engine, p.id, user.username)
        st.rerun()
    last = widgets.load_run(status.last_run_id) if status.last_run_id else None
    if status.status == "Error" and errors.is_folder_problem(last) and not p.de_object_id:
        repick_folder(p, label, user)


def repick_folder(p: Any, label: str, user: Any) -> None:
    """The chosen folder is gone and the DE was never created: let staff pick a valid one."""
    st.error(
        "The folder (category) of this pathway was deleted or renamed in Marketing Cloud. "
        "Pick a valid folder below, then Sync now.",
        icon=":material/folder_off:",
    )
    ok, client = widgets.guard(state.client_for_connection_id, p.connection_id)
    ok, listing = widgets.guard(client.list_folders) if ok else (False, None)
    if not ok:
        return
    folders = {f.id: f for f in listing.folders}
    if not folders:
        st.warning(md(listing.notice) if listing.notice else errors.EMPTY_CATEGORY_FIX)
        return
    fid = st.selectbox(
        "New folder", list(folders), format_func=lambda i: folders[i].path, key=f"pw_folder_{p.id}"
    )
    if st.button("Use this folder", key=f"pw_folder_save_{p.id}"):
        ok, _ = widgets.guard(
            upath.change_folder,
            state.get_engine(),
            p.id,
            fid,
            folders[fid].path,
            label=label,
            who=user.username,
        )
        if ok:
            st.toast("Folder changed: use Sync now.", icon=":material/check:")
            st.rerun()
