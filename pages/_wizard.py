"""Steps 3 and 4 of the Push Audiences wizard, and the small loaders the wizard uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from pages import _deps as deps
from pages import _destinations as other
from pages import _widgets as ui
from store.audience_rows import count_rows
from store.audiences import list_audiences
from store.connections import list_connections
from store.datasets import list_datasets
from store.pathways import list_pathways
from sync import destinations as dest
from sync import mapping as smap

METHODS = {
    "upsert": ("Update or Create (recommended)", "Adds new rows and updates rows already there."),
    "mirror": ("Mirror", "Makes the Data Extension equal to the audience; removes rows not in it."),
    "append": ("Append", "Adds only new rows; rows already there are left as they are."),
    "update_only": ("Update Only", "Updates rows already there; new rows are reported, not added."),
}
FIELD_TYPES = ["Text", "Number", "Decimal", "Date", "Boolean", "EmailAddress", "Phone"]
PUSH_FOLDERS = "push_folders"
PUSH_CHECKED = "push_checked_connection"
PUSH_KIND = "push_kind"
PUSH_TITLE_CASE = "push_title_case"
PUSH_GENERATED_KEY = "push_generated_key"
GENERATED_KEY_FIELD = "Pathways ID"


def audience_rows() -> list[dict[str, Any]]:
    """Audiences as plain dicts with their record counts."""
    engine = deps.get_engine()
    with deps.session() as session:
        items = list_audiences(session=session)
        sets = {d.id: d for d in list_datasets(session=session)}
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
        row["count"] = count_rows(engine, row["id"])
    return rows


def connection_rows() -> list[dict[str, Any]]:
    with deps.session() as session:
        return [
            {"id": c.id, "name": c.name, "client_id": c.client_id, "allow_modeled": c.allow_modeled}
            for c in list_connections(session=session)
        ]


def pushed_pairs() -> dict[tuple[int, int], int]:
    """(audience id, connection id) -> pathway id, for "(Already Pushed)"."""
    with deps.session() as session:
        return {(p.audience_id, p.connection_id): p.id for p in list_pathways(session=session)}


def pathway_for(audience_id: int, connection_id: int, kind: str) -> int | None:
    """The pathway of this audience, connection and destination kind, if one exists."""
    with deps.session() as session:
        return next(
            (
                p.id
                for p in list_pathways(session=session)
                if (p.audience_id, p.connection_id, p.destination_kind)
                == (audience_id, connection_id, kind)
            ),
            None,
        )


def _generated_key_row(ordinal: int) -> dict[str, Any]:
    return {
        "ordinal": ordinal,
        "source_column": dest.GENERATED_KEY_COLUMN,
        "destination_field": GENERATED_KEY_FIELD,
        "field_type": "Text",
        "length": 36,
        "precision": None,
        "scale": None,
        "required": True,
        "is_primary_key": True,
    }


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


def chosen_audience_and_connection(
    aud_by_id: dict, conn_by_id: dict, go: Callable[[int], None]
) -> tuple[dict, dict]:
    """The audience and connection chosen in steps 1-2; back to step 1 when either is gone."""
    state = st.session_state
    aud = aud_by_id.get(state.get(deps.PUSH_AUDIENCE_ID))
    conn = conn_by_id.get(state.get(deps.PUSH_CONNECTION_ID))
    if aud is None or conn is None:
        go(1)
        st.rerun()
    return aud, conn


def review_step(aud_by_id: dict, conn_by_id: dict, pushed: dict, go: Callable[[int], None]) -> None:
    """Step 3: validate the connection, then Pathway Summary with Advanced Settings."""
    state = st.session_state
    aud, conn = chosen_audience_and_connection(aud_by_id, conn_by_id, go)
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
    kinds = list(dest.DESTINATION_KINDS)
    kind = st.radio(
        "Destination Object",
        kinds,
        index=kinds.index(state.get(PUSH_KIND) or dest.DATA_EXTENSION),
        format_func=lambda k: dest.DESTINATION_KINDS[k],
        horizontal=True,
    )
    st.caption(dest.DESTINATION_HELP[kind])
    state[PUSH_KIND] = kind  # kept while the user goes to the summary and back
    existing = pathway_for(aud["id"], conn["id"], kind)
    if existing:
        st.info(
            "This audience already has this kind of pathway on this connection; its saved "
            "settings and mapping are reused (change them on **Column Mapping**)."
        )
        state[deps.PUSH_PATHWAY_ID] = existing
        if st.button("Next: summary", type="primary"):
            go(4)
            st.rerun()
        return
    client = deps.client_for_connection_id(conn["id"])
    if kind != dest.DATA_EXTENSION:
        st.markdown("#### Pathway Summary")
        st.markdown(
            f"**{aud['name']}** ({aud['count']:,} records) → **{conn['name']}** · "
            f"{dest.DESTINATION_KINDS[kind]}"
        )
        other.review_other(kind, aud, conn, client, go)
        return
    ok, listing = ui.guard(_folders, conn["id"], client)
    if not ok:
        st.stop()
    settings = state.get(deps.PUSH_SETTINGS) or {}
    settings = settings if settings.get("kind", dest.DATA_EXTENSION) == kind else {}
    columns = [c["name"] for c in aud["columns"]]
    left, right = st.columns(2)
    title = left.toggle(
        "Title Case field names (first_name → First Name)",
        value=bool(state.get(PUSH_TITLE_CASE)),
    )
    if title != bool(state.get(PUSH_TITLE_CASE)):
        state[PUSH_TITLE_CASE] = title
        state[deps.PUSH_MAPPING] = None  # re-suggest the field names
    generated = right.toggle(
        "Generated unique ID as the key (append-only event tables)",
        value=bool(state.get(PUSH_GENERATED_KEY)),
        help=f"Each row gets a new UUID in a '{GENERATED_KEY_FIELD}' key field on every sync, so "
        "rows are only ever added (e.g. a log of gifts or event sign-ups).",
    )
    state[PUSH_GENERATED_KEY] = generated
    if state.get(deps.PUSH_MAPPING) is None:
        suggested = smap.suggest_mapping(aud["columns"], title_case_names=title)
        state[deps.PUSH_MAPPING] = _mapping_frame(suggested)
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
                keys = ["append"] if generated else list(METHODS)
                method = st.radio(
                    "Method of Sync",
                    keys,
                    index=keys.index(settings.get("method", "upsert"))
                    if settings.get("method", "upsert") in keys
                    else 0,
                    format_func=lambda k: METHODS[k][0],
                    captions=[METHODS[k][1] for k in keys],
                )
                if generated:
                    st.caption("A generated key makes every row new: the method is Append.")
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
                    "Primary key column(s) — several make a combined key",
                    columns,
                    default=[k for k in settings.get("primary_keys", suggested_pk) if k in columns],
                    disabled=generated,
                    help=f"Off while the generated '{GENERATED_KEY_FIELD}' key is on."
                    if generated
                    else None,
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
        pks = [dest.GENERATED_KEY_COLUMN] if generated else pks
        rows = frame_to_mapping(edited, pks)
        if generated:
            rows.append(_generated_key_row(len(rows)))
        problems = mapping_problems(rows, pks)
        if category is None:
            problems.insert(
                0, "Choose a Category (the Data Extension folder) on the Column Mapping tab."
            )
        state[deps.PUSH_MAPPING] = edited
        state[deps.PUSH_SETTINGS] = {
            "kind": dest.DATA_EXTENSION,
            "options": {"generated_key": True, "title_case": title} if generated else {},
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
