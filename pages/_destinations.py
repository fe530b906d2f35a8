"""Wizard step 3 for the destination kinds beyond a Data Extension per audience.

Membership flag (a True/False column on an existing shared DE), Contacts (attribute sets) and
Journey entry events. What is chosen is validated by `ui.destinations.validate`; this module
only reads the choices from SFMC and renders them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from pages import _widgets as widgets
from sfmc.contacts import list_attribute_set_definitions
from sfmc.journeys import list_event_definitions
from sync import destinations as dest
from ui import destinations as udest
from ui import pathways as upath
from ui import sending as usend
from ui import state
from ui.text import md


def _cached(conn_id: int, kind: str, load: Callable[[], Any]) -> Any:
    cache = st.session_state.setdefault(state.PUSH_TARGETS, {})
    if (conn_id, kind) not in cache:
        cache[(conn_id, kind)] = load()
    return cache[(conn_id, kind)]


def _loaded(conn: dict, kind: str, load: Callable[[], Any]) -> Any:
    """The choices read from SFMC once per connection and kind; the page stops on an error."""
    ok, items = widgets.guard(_cached, conn["id"], kind, load)
    if not ok:
        st.stop()
    return items


def _warn_not_sendable(de: Any) -> None:
    """A shared DE nobody can send to: say so before the user relies on it for a send."""
    warning = usend.not_sendable_warning(de)
    if warning:
        st.warning(warning, icon=":material/unsubscribe:")


def _shared_de(conn: dict, client: Any, saved: dict) -> udest.Target:
    des = _loaded(conn, dest.MEMBERSHIP_FLAG, client.list_data_extensions)
    keys = [d.customer_key for d in des]
    names = {d.customer_key: d.name for d in des}
    current = saved.get("de_key")
    owners = upath.de_owners(state.get_engine(), conn["id"])

    def label(k: str) -> str:
        owner = owners.get(k.casefold())
        return f"{names[k]} ({k})" + (f" — owned by pathway {owner}" if owner else "")

    key = st.selectbox(
        "Shared Data Extension (must exist, keyed by a contact key)",
        keys,
        index=keys.index(current) if current in keys else None,
        format_func=label,
        placeholder="Choose the Data Extension that holds your supporters",
    )
    if key is None:
        st.stop()
    ok, de = widgets.guard(client.find_data_extension, customer_key=key)
    if not ok or de is None:
        st.stop()
    problem = udest.shared_de_problem(de)
    if problem:
        st.error(md(problem), icon=":material/key_off:")
        st.stop()
    _warn_not_sendable(de)
    return udest.target_for(dest.MEMBERSHIP_FLAG, de=de)


def _share_choice(conn: dict, target: udest.Target) -> bool:
    """A membership flag on a DE another pathway owns: only when the user says to share it."""
    owners = upath.de_owners(state.get_engine(), conn["id"])
    owner = owners.get(target.de.customer_key.casefold())
    if owner is None:
        return False
    shared = st.checkbox(
        f"Share it: add this audience's flag field to the Data Extension of the pathway '{owner}'",
        key=f"push_share_{conn['id']}_{target.de.customer_key}",
        help="That pathway keeps writing its own fields; this one only sets its flag field.",
    )
    if not shared:
        st.markdown(
            f":red[:material/error: {md(upath.ownership_problem(owners, target.kind, target.de.customer_key))}]"
        )
    return shared


def _journey(conn: dict, client: Any, saved: dict) -> udest.Target:
    defs = _loaded(conn, dest.JOURNEY_EVENT, lambda: list_event_definitions(client))
    if not defs:
        st.warning(
            "This account has no API entry event definitions. Create a journey with an API "
            "Event entry source in Journey Builder, then come back.",
            icon=":material/route:",
        )
        st.stop()
    by_key = {d.key: d for d in defs}
    current = (saved.get("options") or {}).get("event_definition_key")
    keys = list(by_key)
    key = st.selectbox(
        "Which journey (its API entry event)",
        keys,
        index=keys.index(current) if current in keys else None,
        format_func=lambda k: by_key[k].name,
        placeholder="Choose the journey's entry event",
    )
    if key is None:
        st.stop()
    ok, de = widgets.guard(client.find_data_extension, name=by_key[key].data_extension_name)
    if not ok or de is None:
        st.error(
            f"The Data Extension of event **{md(by_key[key].name)}** was not found; fix the event "
            "in Journey Builder or pick another one.",
            icon=":material/error:",
        )
        st.stop()
    _warn_not_sendable(de)
    return udest.target_for(dest.JOURNEY_EVENT, de=de, event=by_key[key])


def _target(kind: str, conn: dict, client: Any, saved: dict) -> udest.Target:
    if kind == dest.MEMBERSHIP_FLAG:
        return _shared_de(conn, client, saved)
    if kind == dest.JOURNEY_EVENT:
        return _journey(conn, client, saved)
    sets = _loaded(conn, kind, lambda: list_attribute_set_definitions(client))
    return udest.target_for(dest.CONTACTS, sets=sets)


def _mapping_frame(target: udest.Target, aud: dict, conn: dict) -> pd.DataFrame:
    """The editor's table: suggested once per target, then kept while the user edits it."""
    signature = (conn["id"], *target.signature)
    kept = st.session_state.get(state.PUSH_DEST_FRAME)
    if not kept or kept[0] != signature:
        pairs = udest.suggested_pairs(target, aud["columns"])
        frame = pd.DataFrame(pairs, columns=["Source column", "Destination field"])
        st.session_state[state.PUSH_DEST_FRAME] = kept = (signature, frame)
    return kept[1]


def _options(kind: str, aud: dict, saved: dict) -> dict[str, str]:
    opts = saved.get("options") or {}
    if kind == dest.MEMBERSHIP_FLAG:
        flag = st.text_input(
            "Flag field name (a True/False field, created if missing)",
            value=opts.get("flag_field") or f"In {aud['name']}",
            max_chars=128,
        )
        return {"flag_field": flag}
    if kind == dest.JOURNEY_EVENT:
        keys = list(udest.SEND_TO)
        send_to = st.radio(
            "Who enters the journey",
            keys,
            index=keys.index(opts.get("send_to", "new")),
            format_func=lambda k: udest.SEND_TO[k][0],
            captions=[udest.SEND_TO[k][1] for k in keys],
        )
        return {"send_to": send_to}
    return {}


def _choice_form(
    target: udest.Target, aud: dict, frame: pd.DataFrame, saved: dict
) -> tuple[udest.Choice | None, pd.DataFrame]:
    """The form of options, contact key and extra columns: (the Choice once submitted, table)."""
    columns = [c["name"] for c in aud["columns"]]
    with st.form("push_review_other"):
        options = _options(target.kind, aud, saved)
        left, right = st.columns(2)
        default_key = udest.default_key_column(columns, saved.get("key_column"))
        key_col = left.selectbox(
            "Contact key column (identifies each supporter)",
            columns,
            index=columns.index(default_key) if default_key else None,
            placeholder="Choose the supporter id column",
        )
        key_names = [f.name for f in target.key_fields]
        key_dest = right.selectbox(
            "… sent as",
            key_names,
            disabled=len(key_names) == 1,
            help="The Data Extension's primary key, SFMC's contact key, or the event's key field.",
        )
        st.caption("Also send these columns (add or remove rows):")
        edited = st.data_editor(
            frame,
            num_rows="dynamic",
            hide_index=True,
            key=state.PUSH_DEST_EDITOR,
            column_config={
                "Source column": st.column_config.SelectboxColumn(options=columns, required=True),
                "Destination field": st.column_config.SelectboxColumn(
                    options=target.value_fields(), required=True
                ),
            },
        )
        submitted = st.form_submit_button("Next: summary", type="primary")
    if not submitted:
        return None, edited
    pairs = [
        (r.get("Source column"), r.get("Destination field")) for r in edited.to_dict("records")
    ]
    return udest.Choice(key_col, key_dest, pairs, **options), edited


def review_other(kind: str, aud: dict, conn: dict, client: Any, go: Callable[[int], None]) -> None:
    """Target, contact key, options and field mapping of a non-DE kind; stores the settings."""
    session = st.session_state
    saved = session.get(state.PUSH_SETTINGS) or {}
    saved = saved if saved.get("kind") == kind else {}
    target = _target(kind, conn, client, saved)
    shared = _share_choice(conn, target) if kind == dest.MEMBERSHIP_FLAG else False
    frame = _mapping_frame(target, aud, conn)
    choice, edited = _choice_form(target, aud, frame, saved)
    if choice is None:
        return
    settings, problems = udest.validate(target, choice)
    if shared:
        settings["options"]["shared_de"] = True
    owners = upath.de_owners(state.get_engine(), conn["id"])
    taken = upath.ownership_problem(owners, kind, settings["de_key"], shared=shared)
    problems = [taken, *problems] if taken else problems
    session[state.PUSH_DEST_FRAME] = (session[state.PUSH_DEST_FRAME][0], edited)
    widgets.finish_review(settings, problems, go)
