"""Staff actions on one pathway (Manage Pathways): sync, re-send, pause, schedule, delete, fix."""

from __future__ import annotations

from typing import Any

import streamlit as st

from pages import _deps as deps
from pages import _widgets as ui
from store.audit import record_audit
from store.pathways import delete_pathway, update_pathway
from store.queue import active_run, enqueue_run, get_run, request_cancel

SCHEDULES = {"manual": "Manual only", "hourly": "Every hour", "daily": "Every day"}


def _queue(p: Any, label: str, user: Any, **kwargs: Any) -> None:
    ok, _ = ui.guard(
        enqueue_run, deps.get_engine(), p.id, "manual", created_by=user.username, **kwargs
    )
    if ok:
        deps.ensure_worker()
        st.toast(f"Sync of {label} queued.", icon=":material/schedule:")
        st.rerun()


@st.dialog("Delete pathway?")
def confirm_delete(pathway_id: int, label: str, who: str) -> None:
    st.write(f"Delete the pathway **{label}**? The Data Extension in Marketing Cloud is kept.")
    if st.button("Delete pathway", type="primary", key="pw_delete_yes"):
        with deps.session() as session:
            delete_pathway(pathway_id, session=session)
            record_audit(who, "delete pathway", label, session=session)
        st.rerun()


def actions(p: Any, label: str, status: Any, user: Any) -> None:
    """The action row of a pathway card (staff and admins only)."""
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
        with deps.session() as session:
            update_pathway(p.id, paused=not p.paused, session=session)
            record_audit(user.username, "resume" if p.paused else "pause", label, session=session)
        st.rerun()
    if c4.button("Delete", key=f"pw_del_{p.id}", icon=":material/delete:"):
        confirm_delete(p.id, label, user.username)
    keys = list(SCHEDULES)
    schedule = c5.selectbox(
        "Schedule",
        keys,
        index=keys.index(p.schedule) if p.schedule in keys else 0,
        format_func=SCHEDULES.get,
        key=f"pw_sched_{p.id}",
    )
    if schedule != p.schedule:
        with deps.session() as session:
            update_pathway(p.id, schedule=schedule, session=session)
            record_audit(user.username, f"schedule {schedule}", label, session=session)
        st.rerun()
    running = active_run(deps.get_engine(), p.id)
    if running is not None and st.button(
        "Cancel this sync", key=f"pw_cancel_{p.id}", icon=":material/stop_circle:"
    ):
        request_cancel(deps.get_engine(), running.id)
        st.rerun()
    last = get_run(deps.get_engine(), status.last_run_id) if status.last_run_id else None
    if last is not None and last.state == "needs_confirm":
        st.warning(
            last.message or "This Mirror sync would delete many rows.", icon=":material/warning:"
        )
        if st.button("Confirm the deletes and sync", key=f"pw_confirm_{p.id}", type="primary"):
            _queue(p, label, user, confirm_deletes=True)
    if status.status == "Error" and _is_folder_problem(status.message) and not p.de_object_id:
        repick_folder(p, label, user)


def _is_folder_problem(message: str | None) -> bool:
    low = (message or "").lower()
    return "folder" in low or "category" in low


def repick_folder(p: Any, label: str, user: Any) -> None:
    """The chosen folder is gone and the DE was never created: let staff pick a valid one."""
    st.error(
        "The folder (category) of this pathway was deleted or renamed in Marketing Cloud. "
        "Pick a valid folder below, then Sync now.",
        icon=":material/folder_off:",
    )
    ok, client = ui.guard(deps.client_for_connection_id, p.connection_id)
    ok, listing = ui.guard(client.list_folders) if ok else (False, None)
    if not ok:
        return
    folders = {f.id: f for f in listing.folders}
    if not folders:
        st.warning(listing.notice or ui.EMPTY_CATEGORY_FIX)
        return
    fid = st.selectbox(
        "New folder", list(folders), format_func=lambda i: folders[i].path, key=f"pw_folder_{p.id}"
    )
    if st.button("Use this folder", key=f"pw_folder_save_{p.id}"):
        with deps.session() as session:
            update_pathway(p.id, category_id=fid, category_path=folders[fid].path, session=session)
            record_audit(user.username, "change folder", label, session=session)
        st.toast("Folder changed: use Sync now.", icon=":material/check:")
        st.rerun()
