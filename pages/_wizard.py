"""Step 3 of the Push Audiences wizard: check the connection, pick the destination, review it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from pages import _destinations as other
from pages import _sending as sending
from pages import _widgets as widgets
from sfmc.schema import MAX_KEY_LENGTH, key_problem
from sfmc.types import FIELD_TYPES
from sync import destinations as dest
from sync import mapping as smap
from ui import connections as uconn
from ui import errors, state
from ui import keys as ukeys
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
    """Test the connection once per wizard; stop the page with the fix when it is not usable.

    Usable means signed in with every scope a push needs: a package that cannot write Data
    Extensions is not "verified". The failure is never kept: each visit checks again.
    """
    if st.session_state.get(state.PUSH_CHECKED) != conn["id"]:
        with st.spinner("Checking the connection with Marketing Cloud…"):
            ok, client = widgets.guard(state.client_for_connection_id, conn["id"])
            report = client.test_connection() if ok else None
        if report is not None:
            who = getattr(state.current_user(), "username", "")
            uconn.record_test(
                state.get_engine(), conn["id"], report, who
            )  # Connections shows it too
            judged = uconn.verdict(report)
        if report is None or not judged.ready:
            if report is not None:
                st.error(
                    f"The connection **{md(conn['name'])}** cannot be used yet: "
                    f"{md(judged.reason)}",
                    icon=":material/error:",
                )
                st.markdown(f"**How to fix it:** {md(judged.fix)}")
                user = state.current_user()
                st.caption(
                    "Fix it on the Connections page, then Check again."
                    if user is not None and user.can("admin")
                    else "An admin fixes connections on the Connections page."
                )
            st.button("Check again", key="review_recheck", icon=":material/refresh:")
            st.stop()
        st.session_state[state.PUSH_CHECKED] = conn["id"]
    st.success(
        f"Connection **{md(conn['name'])}** verified: signed in, with every scope a push needs.",
        icon=":material/verified:",
    )


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
    """Step 3: validate the connection, then the Pathway Summary and its settings.

    Back comes first, before anything that can stop the page, so the step never traps.
    """
    aud, conn = chosen_audience_and_connection(aud_by_id, conn_by_id, go)
    st.subheader("3. Review Pathway")
    if st.button("Back", key="review_back", icon=":material/arrow_back:"):
        go(2)
        st.rerun()
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


def _method_tab(saved: dict, generated: bool) -> dict[str, Any]:
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


def _inline_problem(text: str | None) -> None:
    """A problem shown under the choice it is about, as soon as it is there (before Next)."""
    if text:
        st.markdown(f":red[:material/error: {md(text)}]")


def _primary_keys(aud: dict, saved: dict, generated: bool, tag: str) -> list[str]:
    columns = [c["name"] for c in aud["columns"]]
    suggested = [c["name"] for c in aud["columns"] if c.get("type") == "email"][:1]
    keys = st.multiselect(
        "Primary key column(s) — required",
        columns,
        default=[k for k in saved.get("primary_keys", suggested) if k in columns],
        disabled=generated,
        key=f"push_pk_{tag}",
        placeholder="Choose the column(s) that identify each supporter",
        help=f"Off while the generated '{umap.GENERATED_KEY_FIELD}' key is on."
        if generated
        else "Several columns make a combined key. Usually the email or the supporter id.",
    )
    if generated:
        return keys
    if not keys:
        _inline_problem("Choose the column(s) that identify each supporter (e.g. email or id).")
        return keys
    ok, spaced = widgets.guard(ukeys.spaced_keys, state.get_engine(), aud["id"], keys)
    note = ukeys.warning(spaced) if ok else None
    if note:
        st.warning(md(note), icon=":material/space_bar:")
        if st.button("Trim the spaces in the data set", key=f"push_trim_{tag}"):
            who = getattr(state.current_user(), "username", "")
            ok, n = widgets.guard(ukeys.trim_keys, state.get_engine(), aud["id"], keys, who=who)
            if ok:
                st.toast(f"Trimmed the key values of {n:,} rows.", icon=":material/check:")
                st.rerun()
    return keys


def _folder(listing: Any, saved: dict, tag: str) -> dict[str, Any]:
    folders = {f.id: f for f in listing.folders}
    fids = list(folders)
    category = st.selectbox(
        "Category (Data Extension folder) — required",
        fids,
        index=fids.index(saved["category_id"]) if saved.get("category_id") in fids else None,
        format_func=lambda fid: folders[fid].path,
        placeholder="Choose a folder",
        key=f"push_folder_{tag}",
    )
    if listing.fallback or not fids:
        notice = md(listing.notice) if listing.notice else errors.EMPTY_CATEGORY_FIX
        st.warning(notice, icon=":material/folder_off:")
    elif category is None:
        _inline_problem("Choose the folder the Data Extension goes in.")
    return {
        "category_id": category,
        "category_path": folders[category].path if category in folders else None,
    }


def _required(aud: dict, conn: dict, saved: dict, generated: bool, listing: Any) -> dict:
    """Primary key, folder, name and key of the DE: on the step itself, each with its problem.

    Outside the form, so that a missing choice or a taken key shows as soon as it is there.
    """
    tag = f"{aud['id']}_{conn['id']}"
    left, right = st.columns(2)
    with left:
        values: dict[str, Any] = {"primary_keys": _primary_keys(aud, saved, generated, tag)}
        values["de_name"] = st.text_input(
            "Data Extension name",
            value=saved.get("de_name") or smap.de_name_for(aud["name"], conn["de_name_template"]),
            key=f"push_de_name_{tag}",
        )
    with right:
        values |= _folder(listing, saved, tag)
        default_key = smap.de_key_for(conn["client_id"], aud["id"], conn["de_key_template"])
        values["de_key"] = st.text_input(
            "Data Extension external key",
            value=saved.get("de_key") or default_key,
            max_chars=MAX_KEY_LENGTH,
            key=f"push_de_key_{tag}",
        )
        owners = upath.de_owners(state.get_engine(), conn["id"])
        _inline_problem(
            upath.ownership_problem(owners, dest.DATA_EXTENSION, values["de_key"])
            or key_problem(values["de_key"].strip())
        )
    return values


def _mapping_tab(aud: dict) -> dict[str, Any]:
    columns = [c["name"] for c in aud["columns"]]
    st.caption("Add or remove rows; Text defaults to 255 characters.")
    mapping = st.data_editor(
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
    return {"mapping": mapping}


def _sending_tab(aud: dict, saved: dict) -> dict[str, Any]:
    """Used for sending (suggested from the mapping), Testable and data retention."""
    rows = umap.frame_to_mapping(st.session_state[state.PUSH_MAPPING], [])
    choice = usend.initial_choice(saved.get("options"), aud["columns"], rows)
    fields = [r["destination_field"] for r in rows]
    return {"sending": sending.send_settings(choice, fields, key="push_send")}


def _review_data_extension(aud: dict, conn: dict, client: Any, go: Go) -> None:
    """The required choices, then Advanced Settings; on submit, validate and go to the summary."""
    session = st.session_state
    ok, listing = widgets.guard(_folders, conn["id"], client)
    if not ok:
        st.stop()
    saved = session.get(state.PUSH_SETTINGS) or {}
    saved = saved if saved.get("kind", dest.DATA_EXTENSION) == dest.DATA_EXTENSION else {}
    st.markdown("#### Pathway Summary")
    st.markdown(
        f"**{md(aud['name'])}** ({aud['count']:,} records) → **{md(conn['name'])}** · "
        "Data Extension"
    )
    title, generated = _key_toggles()
    if session.get(state.PUSH_MAPPING) is None:
        suggested = smap.suggest_mapping(aud["columns"], title_case_names=title)
        session[state.PUSH_MAPPING] = umap.mapping_frame(suggested)
    required = _required(aud, conn, saved, generated, listing)
    with st.form("push_review"):
        with st.expander("Advanced Settings: method, column mapping, sending"):
            method, colmap, send = st.tabs(["Method of Sync", "Column Mapping", "Sending"])
            with method:
                values = _method_tab(saved, generated)
            with colmap:
                values |= _mapping_tab(aud)
            with send:
                values |= _sending_tab(aud, saved)
        submitted = st.form_submit_button("Next: summary", type="primary")
    if not submitted:
        return
    choice = upath.DataExtensionChoice(
        **values, **required, generated_key=generated, title_case=title
    )
    settings, problems = upath.data_extension_settings(choice)
    owners = upath.de_owners(state.get_engine(), conn["id"])
    taken = upath.ownership_problem(owners, dest.DATA_EXTENSION, settings["de_key"])
    session[state.PUSH_MAPPING] = values["mapping"]
    widgets.finish_review(settings, [taken, *problems] if taken else problems, go)
