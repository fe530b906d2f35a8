"""Steps 3 and 4 of the Push Audiences wizard, and the small loaders the wizard uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from pages import _deps as deps
from pages import _widgets as ui
from sfmc import mapping as smap
from store import audiences as saud
from store import repo
from store import runs as sruns

METHODS = {
    "upsert": ("Update or Create (recommended)", "Adds new rows and updates rows already there."),
    "mirror": ("Mirror", "Makes the Data Extension equal to the audience; removes rows not in it."),
    "append": ("Append", "Adds only new rows; rows already there are left as they are."),
    "update_only": ("Update Only", "Updates rows already there; new rows are reported, not added."),
}
FIELD_TYPES = ["Text", "Number", "Decimal", "Date", "Boolean", "EmailAddress", "Phone"]
PUSH_FOLDERS = "push_folders"
PUSH_CHECKED = "push_checked_connection"


def audience_rows() -> list[dict[str, Any]]:
    """Audiences as plain dicts with their record counts."""
    engine = deps.get_engine()
    with deps.session() as session:
        items = repo.list_audiences(session=session)
        sets = {d.id: d for d in repo.list_datasets(session=session)}
        rows = [
            {
                "id": a.id,
                "name": a.name,
                "modeled": a.modeled,
                "dataset_id": a.dataset_id,
                "dataset": sets[a.dataset_id].name if a.dataset_id in sets else "",
                "columns": sets[a.dataset_id].columns if a.dataset_id in sets else [],
            }
            for a in items
        ]
    for row in rows:
        row["count"] = saud.count_rows(engine, row["id"])
    return rows


def connection_rows() -> list[dict[str, Any]]:
    with deps.session() as session:
        return [
            {"id": c.id, "name": c.name, "client_id": c.client_id, "allow_modeled": c.allow_modeled}
            for c in repo.list_connections(session=session)
        ]


def pushed_pairs() -> dict[tuple[int, int], int]:
    """(audience id, connection id) -> pathway id, for "(Already Pushed)"."""
    with deps.session() as session:
        return {(p.audience_id, p.connection_id): p.id for p in repo.list_pathways(session=session)}


def _mapping_frame(fieldmaps: list[Any]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Source column": f.source_column,
                "Destination field": f.destination_field,
                "Type": f.field_type,
                "Length": f.length,
                "Required": bool(f.required),
            }
            for f in fieldmaps
        ]
    )


def frame_to_mapping(frame: pd.DataFrame, primary_keys: list[str]) -> list[dict[str, Any]]:
    """The edited table as mapping rows (ColumnMapping fields), primary keys marked."""
    rows = []
    for i, rec in enumerate(frame.to_dict("records")):
        source = str(rec.get("Source column") or "").strip()
        dest = str(rec.get("Destination field") or "").strip()
        if not source or not dest:
            continue
        length = rec.get("Length")
        is_pk = source in primary_keys
        rows.append(
            {
                "ordinal": i,
                "source_column": source,
                "destination_field": dest,
                "field_type": rec.get("Type") or "Text",
                "length": int(length) if length and not pd.isna(length) else None,
                "precision": 18 if rec.get("Type") == "Decimal" else None,
                "scale": 2 if rec.get("Type") == "Decimal" else None,
                "required": bool(rec.get("Required")) or is_pk,
                "is_primary_key": is_pk,
            }
        )
    return rows


def mapping_problems(rows: list[dict[str, Any]], primary_keys: list[str]) -> list[str]:
    problems = []
    if not rows:
        problems.append("Map at least one column.")
    if not primary_keys:
        problems.append("Choose at least one primary key column (Email is usual).")
    mapped = {r["source_column"] for r in rows}
    problems += [
        f"Primary key column '{k}' must also be mapped." for k in primary_keys if k not in mapped
    ]
    names = [r["destination_field"].casefold() for r in rows]
    dupes = sorted({n for n in names if names.count(n) > 1})
    problems += [f"Two columns map to the field '{d}': rename one." for d in dupes]
    return problems


def _folders(conn_id: int, client: Any) -> Any:
    cached = st.session_state.get(PUSH_FOLDERS)
    if cached and cached[0] == conn_id:
        return cached[1]
    listing = client.list_folders()
    st.session_state[PUSH_FOLDERS] = (conn_id, listing)
    return listing


def review_step(aud_by_id: dict, conn_by_id: dict, pushed: dict, go: Callable[[int], None]) -> None:
    """Step 3: validate the connection, then Pathway Summary with Advanced Settings."""
    state = st.session_state
    aud = aud_by_id.get(state.get(deps.PUSH_AUDIENCE_ID))
    conn = conn_by_id.get(state.get(deps.PUSH_CONNECTION_ID))
    if aud is None or conn is None:
        go(1)
        st.rerun()
    st.subheader("3. Review Pathway")
    if state.get(PUSH_CHECKED) != conn["id"]:
        with st.spinner("Checking the connection with Marketing Cloud…"):
            ok, client = ui.guard(deps.client_for_connection_id, conn["id"])
            report = client.test_connection() if ok else None
        if report is None or not report.ok:
            if report is not None:
                st.error(
                    f"The connection **{conn['name']}** cannot be used: {report.reason}",
                    icon=":material/error:",
                )
                st.markdown(report.fix or ui.AUTH_FIX)
            st.stop()
        state[PUSH_CHECKED] = conn["id"]
    st.success(f"Connection **{conn['name']}** verified.", icon=":material/verified:")
    existing = pushed.get((aud["id"], conn["id"]))
    if existing:
        st.info("This pathway exists already; its saved settings and mapping are reused.")
        state[deps.PUSH_PATHWAY_ID] = existing
        if st.button("Next: summary", type="primary"):
            go(4)
            st.rerun()
        return
    client = deps.client_for_connection_id(conn["id"])
    ok, listing = ui.guard(_folders, conn["id"], client)
    if not ok:
        st.stop()
    settings = state.get(deps.PUSH_SETTINGS) or {}
    columns = [c["name"] for c in aud["columns"]]
    if state.get(deps.PUSH_MAPPING) is None:
        state[deps.PUSH_MAPPING] = _mapping_frame(smap.suggest_mapping(aud["columns"]))
    suggested_pk = [c["name"] for c in aud["columns"] if c.get("type") == "email"][:1]
    folders = {f.id: f for f in listing.folders}
    st.markdown("#### Pathway Summary")
    st.markdown(
        f"**{aud['name']}** ({aud['count']:,} records) → **{conn['name']}** · Data Extension"
    )
    with st.form("push_review"):
        with st.expander("Advanced Settings", expanded=True):
            info, colmap = st.tabs(["Information", "Column Mapping"])
            with info:
                st.selectbox("Destination Object", ["Data Extension"], disabled=True)
                keys = list(METHODS)
                method = st.radio(
                    "Method of Sync",
                    keys,
                    index=keys.index(settings.get("method", "upsert")),
                    format_func=lambda k: METHODS[k][0],
                    captions=[METHODS[k][1] for k in keys],
                )
                de_name = st.text_input(
                    "Data Extension name",
                    value=settings.get("de_name") or smap.de_name_for(aud["name"]),
                )
                de_key = st.text_input(
                    "Data Extension external key",
                    value=settings.get("de_key") or smap.de_key_for(conn["client_id"], aud["id"]),
                    max_chars=smap.MAX_CUSTOMER_KEY,
                )
                guard_pct = st.slider(
                    "Mirror safety stop: pause for confirmation if a sync would delete more than",
                    5,
                    100,
                    int(settings.get("guard_pct", 50)),
                    step=5,
                    format="%d%%",
                    help="Only used by Mirror: protects the Data Extension from a wrong filter.",
                )
            with colmap:
                pks = st.multiselect(
                    "Primary key column(s)",
                    columns,
                    default=settings.get("primary_keys", suggested_pk),
                )
                fids = list(folders)
                category = st.selectbox(
                    "Category (Data Extension folder) — required",
                    fids,
                    index=fids.index(settings["category_id"])
                    if settings.get("category_id") in fids
                    else None,
                    format_func=lambda fid: folders[fid].path,
                    placeholder="Choose a folder",
                )
                if listing.fallback or not fids:
                    st.warning(
                        listing.notice or ui.EMPTY_CATEGORY_FIX, icon=":material/folder_off:"
                    )
                st.caption(
                    "Add Column Mapping: add or remove rows; Text defaults to 255 characters."
                )
                edited = st.data_editor(
                    state[deps.PUSH_MAPPING],
                    num_rows="dynamic",
                    placeholder="—",
                    hide_index=True,
                    key="push_mapping_editor",
                    column_config={
                        "Source column": st.column_config.SelectboxColumn(
                            options=columns, required=True
                        ),
                        "Type": st.column_config.SelectboxColumn(
                            options=FIELD_TYPES, required=True
                        ),
                        "Length": st.column_config.NumberColumn(min_value=1, max_value=4000),
                    },
                )
        submitted = st.form_submit_button("Next: summary", type="primary")
    if st.button("Back", key="review_back"):
        go(2)
        st.rerun()
    if submitted:
        rows = frame_to_mapping(edited, pks)
        problems = mapping_problems(rows, pks)
        if category is None:
            problems.insert(
                0, "Choose a Category (the Data Extension folder) on the Column Mapping tab."
            )
        state[deps.PUSH_MAPPING] = edited
        state[deps.PUSH_SETTINGS] = {
            "method": method,
            "de_name": de_name.strip(),
            "de_key": de_key.strip(),
            "primary_keys": pks,
            "category_id": category,
            "category_path": folders[category].path if category in folders else None,
            "guard_pct": guard_pct,
            "mapping": rows,
        }
        if problems:
            for p in problems:
                st.error(p, icon=":material/error:")
        else:
            state[deps.PUSH_PATHWAY_ID] = None
            go(4)
            st.rerun()


def summary_step(aud_by_id: dict, conn_by_id: dict, go: Callable[[int], None], user: Any) -> None:
    """Step 4: summary card, dry run, Confirm -> queued run with live progress."""
    state = st.session_state
    aud = aud_by_id.get(state.get(deps.PUSH_AUDIENCE_ID))
    conn = conn_by_id.get(state.get(deps.PUSH_CONNECTION_ID))
    if aud is None or conn is None:
        go(1)
        st.rerun()
    st.subheader("4. Summary")
    pathway_id = state.get(deps.PUSH_PATHWAY_ID)
    s = dict(state.get(deps.PUSH_SETTINGS) or {})
    if pathway_id:
        with deps.session() as session:
            p = repo.get_pathway(pathway_id, session=session)
            s = {
                "method": p.method,
                "de_name": p.de_name,
                "de_key": p.de_customer_key,
                "primary_keys": p.primary_keys,
                "category_path": p.category_path,
                "mapping": [m.model_dump() for m in repo.get_mapping(pathway_id, session=session)],
            }
    with st.container(border=True):
        a, b = st.columns(2)
        a.markdown(f"**Audience**  \n{aud['name']}")
        a.markdown(f"**Destination**  \n{conn['name']} · Data Extension")
        a.markdown(f"**Data Extension**  \n{s.get('de_name')}  \n`{s.get('de_key')}`")
        a.markdown(f"**Folder**  \n{s.get('category_path') or '—'}")
        b.markdown(f"**Method of Sync**  \n{METHODS[s.get('method', 'upsert')][0]}")
        b.markdown(f"**Primary key**  \n{', '.join(s.get('primary_keys') or []) or '—'}")
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
                sruns.enqueue_run,
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
                sruns.enqueue_run, deps.get_engine(), pid, "manual", created_by=user.username
            )
            if ok:
                state[deps.PUSH_RUN_ID] = run.id
                deps.ensure_worker()
                st.rerun()


def _ensure_pathway(aud: dict, conn: dict, s: dict, user: Any) -> int:
    """The pathway of this audience and connection, created with its mapping on first push."""
    existing = pushed_pairs().get((aud["id"], conn["id"]))
    if existing:
        return existing
    with deps.session() as session:
        pathway = repo.create_pathway(
            audience_id=aud["id"],
            connection_id=conn["id"],
            de_name=s["de_name"],
            de_customer_key=s["de_key"],
            category_id=s["category_id"],
            category_path=s["category_path"],
            method=s["method"],
            primary_keys=s["primary_keys"],
            delete_guard_share=s.get("guard_pct", 50) / 100,
            created_by=user.username,
            session=session,
        )
        repo.set_mapping(pathway.id, s["mapping"], session=session)
        repo.record_audit(
            user.username, "create pathway", f"{aud['name']} -> {conn['name']}", session=session
        )
        return pathway.id
