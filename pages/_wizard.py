"""Step 3 of the Push Audiences wizard: check the connection, pick the destination, review it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from pages import _destinations as other
from pages import _sending as sending
from pages import _widgets as widgets
from sfmc.schema import MAX_KEY_LENGTH
from sfmc.types import FIELD_TYPES
from sync import destinations as dest
from sync import mapping as smap
from ui import errors, state
from ui import mapping as umap
from ui import pathways as upath
from ui import sending as usend
from ui.text import md

Go = Callable[[int], None]


def chosen_audience_and_connection(aud_by_id: dict, conn_by_id: dict, go: Go) -> tuple[dict, dict]:
    """The audience and connection chosen in steps 1-2; back to step 1 when either is gone."""
    aud = aud_by_id.get(st.session_state.get(state.PUSH_AUDIENCE_ID))
    conn = conn_by_id.get(st.session_state.get(state.PUSH_CONNECTION_ID))
    if aud is None or conn is None:
        go(1)
        st.rerun()
    return aud, conn


def _verify_connection(conn: dict) -> None:
    """Test the connection once per wizard; stop the page with the fix when it fails."""
    if st.session_state.get(state.PUSH_CHECKED) != conn["id"]:
        with st.spinner("Checking the connection with Marketing Cloud…"):
            ok, client = widgets.guard(state.client_for_connection_id, conn["id"])
            report = client.test_connection() if ok else None
        if report is None or not report.ok:
            if report is not None:
                st.error(
                    f"The connection **{md(conn['name'])}** cannot be used: {md(report.reason)}",
                    icon=":material/error:",
                )
                st.markdown(md(report.fix) if report.fix else errors.AUTH_FIX)
            st.stop()
        st.session_state[state.PUSH_CHECKED] = conn["id"]
    st.success(f"Connection **{md(conn['name'])}** verified.", icon=":material/verified:")


def _pick_kind() -> str:
    kinds = list(dest.DESTINATION_KINDS)
    kind = st.radio(
        "Destination Object",
        kinds,
        index=kinds.index(st.session_state.get(state.PUSH_KIND) or dest.DATA_EXTENSION),
        format_func=lambda k: dest.DESTINATION_KINDS[k],
        horizontal=True,
    )
    st.caption(dest.DESTINATION_HELP[kind])
    st.session_state[state.PUSH_KIND] = kind  # kept while the user goes to the summary and back
    return kind


def review_step(aud_by_id: dict, conn_by_id: dict, go: Go) -> None:
    """Step 3: validate the connection, then Pathway Summary with Advanced Settings."""
    aud, conn = chosen_audience_and_connection(aud_by_id, conn_by_id, go)
    st.subheader("3. Review Pathway")
    _verify_connection(conn)
    kind = _pick_kind()
    existing = upath.existing_pathway(state.get_engine(), aud["id"], conn["id"], kind)
    if existing:
        st.info(
            "This audience already has this kind of pathway on this connection; its saved "
            "settings and mapping are reused (change them on **Column Mapping**)."
        )
        st.session_state[state.PUSH_PATHWAY_ID] = existing
        if st.button("Next: summary", type="primary"):
            go(4)
            st.rerun()
        return
    client = state.client_for_connection_id(conn["id"])
    if kind != dest.DATA_EXTENSION:
        st.markdown("#### Pathway Summary")
        st.markdown(
            f"**{md(aud['name'])}** ({aud['count']:,} records) → **{md(conn['name'])}** · "
            f"{dest.DESTINATION_KINDS[kind]}"
        )
        other.review_other(kind, aud, conn, client, go)
        return
    _review_data_extension(aud, conn, client, go)


def _folders(conn_id: int, client: Any) -> Any:
    cached = st.session_state.get(state.PUSH_FOLDERS)
    if cached and cached[0] == conn_id:
        return cached[1]
    listing = client.list_folders()
    st.session_state[state.PUSH_FOLDERS] = (conn_id, listing)
    return listing


def _key_toggles() -> tuple[bool, bool]:
    """Title Case names and the generated key; a new name style re-suggests the mapping."""
    session = st.session_state
    left, right = st.columns(2)
    title = left.toggle(
        "Title Case field names (first_name → First Name)",
        value=bool(session.get(state.PUSH_TITLE_CASE)),
    )
    if title != bool(session.get(state.PUSH_TITLE_CASE)):
        session[state.PUSH_TITLE_CASE] = title
        session[state.PUSH_MAPPING] = None
    generated = right.toggle(
        "Generated unique ID as the key (append-only event tables)",
        value=bool(session.get(state.PUSH_GENERATED_KEY)),
        help=f"Each row gets a new UUID in a '{umap.GENERATED_KEY_FIELD}' key field on every "
        "sync, so rows are only ever added (e.g. a log of gifts or event sign-ups).",
    )
    session[state.PUSH_GENERATED_KEY] = generated
    return title, generated


def _information_tab(aud: dict, conn: dict, saved: dict, generated: bool) -> dict[str, Any]:
    keys = ["append"] if generated else list(upath.METHODS)
    method = saved.get("method", "upsert")
    values: dict[str, Any] = {}
    values["method"] = st.radio(
        "Method of Sync",
        keys,
        index=keys.index(method) if method in keys else 0,
        format_func=lambda k: upath.METHODS[k][0],
        captions=[upath.METHODS[k][1] for k in keys],
    )
    if generated:
        st.caption("A generated key makes every row new: the method is Append.")
    values["de_name"] = st.text_input(
        "Data Extension name", value=saved.get("de_name") or smap.de_name_for(aud["name"])
    )
    values["de_key"] = st.text_input(
        "Data Extension external key",
        value=saved.get("de_key") or smap.de_key_for(conn["client_id"], aud["id"]),
        max_chars=MAX_KEY_LENGTH,
    )
    values["guard_pct"] = st.slider(
        "Mirror safety stop: pause for confirmation if a sync would delete more than",
        5,
        100,
        int(saved.get("guard_pct", upath.DEFAULT_GUARD_PCT)),
        step=5,
        format="%d%%",
        help="Only used by Mirror: protects the Data Extension from a wrong filter.",
    )
    return values


def _mapping_tab(aud: dict, saved: dict, generated: bool, listing: Any) -> dict[str, Any]:
    columns = [c["name"] for c in aud["columns"]]
    suggested_pk = [c["name"] for c in aud["columns"] if c.get("type") == "email"][:1]
    folders = {f.id: f for f in listing.folders}
    values: dict[str, Any] = {}
    values["primary_keys"] = st.multiselect(
        "Primary key column(s) — several make a combined key",
        columns,
        default=[k for k in saved.get("primary_keys", suggested_pk) if k in columns],
        disabled=generated,
        help=f"Off while the generated '{umap.GENERATED_KEY_FIELD}' key is on."
        if generated
        else None,
    )
    fids = list(folders)
    category = st.selectbox(
        "Category (Data Extension folder) — required",
        fids,
        index=fids.index(saved["category_id"]) if saved.get("category_id") in fids else None,
        format_func=lambda fid: folders[fid].path,
        placeholder="Choose a folder",
    )
    values["category_id"] = category
    values["category_path"] = folders[category].path if category in folders else None
    if listing.fallback or not fids:
        notice = md(listing.notice) if listing.notice else errors.EMPTY_CATEGORY_FIX
        st.warning(notice, icon=":material/folder_off:")
    st.caption("Add Column Mapping: add or remove rows; Text defaults to 255 characters.")
    values["mapping"] = st.data_editor(
        st.session_state[state.PUSH_MAPPING],
        num_rows="dynamic",
        placeholder="—",
        hide_index=True,
        key=state.PUSH_MAPPING_EDITOR,
        column_config={
            "Source column": st.column_config.SelectboxColumn(options=columns, required=True),
            "Type": st.column_config.SelectboxColumn(options=FIELD_TYPES, required=True),
            "Length": st.column_config.NumberColumn(min_value=1, max_value=4000),
        },
    )
    return values


def _sending_tab(aud: dict, saved: dict) -> dict[str, Any]:
    """Used for sending (suggested from the mapping), Testable and data retention."""
    rows = umap.frame_to_mapping(st.session_state[state.PUSH_MAPPING], [])
    choice = usend.initial_choice(saved.get("options"), aud["columns"], rows)
    fields = [r["destination_field"] for r in rows]
    return {"sending": sending.send_settings(choice, fields, key="push_send")}


def _review_data_extension(aud: dict, conn: dict, client: Any, go: Go) -> None:
    """Advanced Settings of a Data Extension pathway; on submit, validate and go to the summary."""
    session = st.session_state
    ok, listing = widgets.guard(_folders, conn["id"], client)
    if not ok:
        st.stop()
    saved = session.get(state.PUSH_SETTINGS) or {}
    saved = saved if saved.get("kind", dest.DATA_EXTENSION) == dest.DATA_EXTENSION else {}
    title, generated = _key_toggles()
    if session.get(state.PUSH_MAPPING) is None:
        suggested = smap.suggest_mapping(aud["columns"], title_case_names=title)
        session[state.PUSH_MAPPING] = umap.mapping_frame(suggested)
    st.markdown("#### Pathway Summary")
    st.markdown(
        f"**{md(aud['name'])}** ({aud['count']:,} records) → **{md(conn['name'])}** · "
        "Data Extension"
    )
    with st.form("push_review"):
        with st.expander("Advanced Settings", expanded=True):
            info, colmap, send = st.tabs(["Information", "Column Mapping", "Sending"])
            with info:
                values = _information_tab(aud, conn, saved, generated)
            with colmap:
                values |= _mapping_tab(aud, saved, generated, listing)
            with send:
                values |= _sending_tab(aud, saved)
        submitted = st.form_submit_button("Next: summary", type="primary")
    if st.button("Back", key="review_back"):
        go(2)
        st.rerun()
    if not submitted:
        return
    choice = upath.DataExtensionChoice(**values, generated_key=generated, title_case=title)
    settings, problems = upath.data_extension_settings(choice)
    session[state.PUSH_MAPPING] = values["mapping"]
    widgets.finish_review(settings, problems, go)
