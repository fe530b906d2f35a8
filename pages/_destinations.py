"""Wizard step 3 for the destination kinds beyond a Data Extension per audience.

Membership flag (a True/False column on an existing shared DE), Contacts (attribute sets) and
Journey entry events. The engine checks all of this again before it sends anything
(`sync.destinations.push_destination`); the wizard checks it first so the user fixes it here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from pages import _deps as deps
from pages import _widgets as ui
from sfmc.types import DeField
from sync import destinations as dest

PUSH_TARGETS = "push_targets"  # (connection id, kind) -> cached choices from SFMC
PUSH_DEST_FRAME = "push_dest_frame"  # (signature, mapping frame) of the non-DE mapping editor
SEND_TO = {
    "new": ("New members only", "Each supporter enters the journey once, when they join."),
    "all": ("Every member, every sync", "Everyone in the audience enters again on each sync."),
}
KEY_NAMES = ("contactkey", "subscriberkey", "contactid", "contact_key", "subscriber_key")


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.casefold())


def _cached(conn_id: int, kind: str, load: Callable[[], Any]) -> Any:
    cache = st.session_state.setdefault(PUSH_TARGETS, {})
    if (conn_id, kind) not in cache:
        cache[(conn_id, kind)] = load()
    return cache[(conn_id, kind)]


def suggest_pairs(
    columns: Sequence[dict[str, Any]], fields: Sequence[DeField], *, skip: Sequence[str] = ()
) -> list[tuple[str, str]]:
    """(source column, destination field) pairs whose names match, or email to email."""
    used = {s.casefold() for s in skip}
    pairs = []
    for field in fields:
        if field.name.casefold() in used:
            continue
        short = _norm(field.name.rsplit(".", 1)[-1])
        for col in columns:
            names = {_norm(col["name"]), _norm(str(col.get("original") or ""))}
            is_email = col.get("type") == "email" and field.field_type == "EmailAddress"
            if short in names or is_email:
                pairs.append((col["name"], field.name))
                used.add(field.name.casefold())
                break
    return pairs


def incomplete_sets(fields: Sequence[DeField], mapped: Sequence[str]) -> dict[str, list[str]]:
    """Contacts: mapped attribute sets missing a required attribute, as set -> attributes.

    SFMC refuses to create a contact whose attribute set lacks a required value.
    """
    names = {m.casefold() for m in mapped}
    used = {m.split(".", 1)[0].casefold() for m in mapped if "." in m}
    missing: dict[str, list[str]] = {}
    for f in fields:
        set_name, _, attr = f.name.partition(".")
        if f.is_required and set_name.casefold() in used and f.name.casefold() not in names:
            missing.setdefault(set_name, []).append(attr)
    return missing


def _pick_target(kind: str, conn: dict, client: Any, settings: dict) -> Any:
    """Membership: the shared DE (with fields); journey: (event definition, its DE). Else None."""
    if kind == dest.MEMBERSHIP_FLAG:
        ok, des = ui.guard(_cached, conn["id"], kind, client.list_data_extensions)
        if not ok:
            st.stop()
        keys = [d.customer_key for d in des]
        names = {d.customer_key: d.name for d in des}
        current = settings.get("de_key")
        key = st.selectbox(
            "Shared Data Extension (must exist, keyed by a contact key)",
            keys,
            index=keys.index(current) if current in keys else None,
            format_func=lambda k: f"{names[k]} ({k})",
            placeholder="Choose the Data Extension that holds your supporters",
        )
        if key is None:
            st.stop()
        ok, de = ui.guard(client.find_data_extension, customer_key=key)
        if not ok or de is None:
            st.stop()
        if len(de.primary_keys) != 1:
            st.error(
                f"**{de.name}** has {len(de.primary_keys)} primary key fields; a membership flag "
                "needs a Data Extension keyed by one contact key field. Pick another one.",
                icon=":material/key_off:",
            )
            st.stop()
        return de
    if kind == dest.JOURNEY_EVENT:
        ok, defs = ui.guard(_cached, conn["id"], kind, lambda: dest.list_event_definitions(client))
        if not ok:
            st.stop()
        if not defs:
            st.warning(
                "This account has no API entry event definitions. Create a journey with an API "
                "Event entry source in Journey Builder, then come back.",
                icon=":material/route:",
            )
            st.stop()
        by_key = {d.key: d for d in defs}
        current = (settings.get("options") or {}).get("event_definition_key")
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
        ok, de = ui.guard(client.find_data_extension, name=by_key[key].data_extension_name)
        if not ok or de is None:
            st.error(
                f"The Data Extension of event **{by_key[key].name}** was not found; fix the event "
                "in Journey Builder or pick another one.",
                icon=":material/error:",
            )
            st.stop()
        return by_key[key], de
    return None


def _fields(kind: str, target: Any, client: Any, conn: dict) -> list[DeField]:
    if kind == dest.CONTACTS:
        ok, sets = ui.guard(
            _cached, conn["id"], kind, lambda: dest.list_attribute_set_definitions(client)
        )
        if not ok:
            st.stop()
        return [a.to_de_field() for a in dest.writable_attributes(sets)]
    de = target if kind == dest.MEMBERSHIP_FLAG else target[1]
    return list(de.fields)


def _mapping_row(i: int, source: str, field: DeField, *, key: bool = False) -> dict[str, Any]:
    return {
        "ordinal": i,
        "source_column": source,
        "destination_field": field.name,
        "field_type": field.field_type,
        "length": field.max_length,
        "precision": field.precision,
        "scale": field.scale,
        "required": key or field.is_required,
        "is_primary_key": key,
    }


def review_other(kind: str, aud: dict, conn: dict, client: Any, go: Callable[[int], None]) -> None:
    """Target, contact key, options and field mapping of a non-DE kind; stores the settings."""
    state = st.session_state
    settings = state.get(deps.PUSH_SETTINGS) or {}
    settings = settings if settings.get("kind") == kind else {}
    columns = [c["name"] for c in aud["columns"]]
    target = _pick_target(kind, conn, client, settings)
    fields = _fields(kind, target, client, conn)
    by_name = {f.name: f for f in fields}
    if kind == dest.CONTACTS:
        key_fields = [DeField("ContactKey", "Text", dest.CONTACT_KEY_MAX, is_primary_key=True)]
    elif kind == dest.MEMBERSHIP_FLAG:
        key_fields = [f for f in fields if f.is_primary_key]
    else:
        key_fields = sorted(fields, key=lambda f: _norm(f.name) not in KEY_NAMES)
    key_by_name = {f.name: f for f in key_fields}
    signature = (kind, conn["id"], getattr(target, "customer_key", None) or str(target))
    frame_state = state.get(PUSH_DEST_FRAME)
    if not frame_state or frame_state[0] != signature:
        pairs = suggest_pairs(aud["columns"], fields, skip=[f.name for f in key_fields[:1]])
        if kind == dest.CONTACTS:  # leave out sets the data cannot complete
            gaps = incomplete_sets(fields, [d for _s, d in pairs])
            pairs = [(c, d) for c, d in pairs if d.split(".", 1)[0] not in gaps]
        frame = pd.DataFrame(pairs, columns=["Source column", "Destination field"])
        state[PUSH_DEST_FRAME] = frame_state = (signature, frame)
    options: dict[str, Any] = {}
    with st.form("push_review_other"):
        if kind == dest.MEMBERSHIP_FLAG:
            flag = st.text_input(
                "Flag field name (a True/False field, created if missing)",
                value=(settings.get("options") or {}).get("flag_field") or f"In {aud['name']}",
                max_chars=128,
            )
        if kind == dest.JOURNEY_EVENT:
            keys = list(SEND_TO)
            send_to = st.radio(
                "Who enters the journey",
                keys,
                index=keys.index((settings.get("options") or {}).get("send_to", "new")),
                format_func=lambda k: SEND_TO[k][0],
                captions=[SEND_TO[k][1] for k in keys],
            )
        left, right = st.columns(2)
        default_key = next((c for c in ("donor_id", "contact_key", "id") if c in columns), None)
        key_col = left.selectbox(
            "Contact key column (identifies each supporter)",
            columns,
            index=columns.index(settings.get("key_column") or default_key)
            if (settings.get("key_column") or default_key) in columns
            else None,
            placeholder="Choose the supporter id column",
        )
        key_dest = right.selectbox(
            "… sent as",
            list(key_by_name),
            disabled=len(key_by_name) == 1,
            help="The Data Extension's primary key, SFMC's contact key, or the event's key field.",
        )
        st.caption("Also send these columns (add or remove rows):")
        edited = st.data_editor(
            frame_state[1],
            num_rows="dynamic",
            hide_index=True,
            key="push_dest_editor",
            column_config={
                "Source column": st.column_config.SelectboxColumn(options=columns, required=True),
                "Destination field": st.column_config.SelectboxColumn(
                    options=[
                        f for f in by_name if kind != dest.MEMBERSHIP_FLAG or f not in key_by_name
                    ],
                    required=True,
                ),
            },
        )
        submitted = st.form_submit_button("Next: summary", type="primary")
    if st.button("Back", key="review_other_back"):
        go(2)
        st.rerun()
    if not submitted:
        return
    problems = []
    if key_col is None:
        problems.append("Choose the contact key column: the one that identifies each supporter.")
    rows = [_mapping_row(0, key_col or "", key_by_name[key_dest], key=True)]
    for rec in edited.to_dict("records"):
        source, field = rec.get("Source column"), by_name.get(rec.get("Destination field") or "")
        if source and field is not None:
            rows.append(_mapping_row(len(rows), str(source), field))
    names = [r["destination_field"].casefold() for r in rows]
    problems += [
        f"Two columns are sent to '{n}': remove one."
        for n in sorted(set(names))
        if names.count(n) > 1
    ]
    if kind == dest.CONTACTS:
        mapped = [r["destination_field"] for r in rows[1:]]
        problems += [
            f"Attribute set '{name}' also needs {', '.join(attrs)} for new contacts: map a column "
            f"to {'it' if len(attrs) == 1 else 'them'}, or remove the set's other attributes."
            for name, attrs in incomplete_sets(fields, mapped).items()
        ]
    if kind == dest.MEMBERSHIP_FLAG:
        flag = flag.strip()
        options["flag_field"] = flag
        clash = next((f for f in fields if f.name.casefold() == flag.casefold()), None)
        if not flag:
            problems.append("Name the flag field, e.g. 'In Monthly givers'.")
        elif clash is not None and clash.field_type != "Boolean":
            problems.append(f"'{flag}' exists in the DE as {clash.field_type}; pick another name.")
        elif flag.casefold() in names:
            problems.append(f"'{flag}' is the flag: don't also map a column to it.")
        target_label, de_key = f"{target.name} · flag '{flag}'", target.customer_key
    elif kind == dest.JOURNEY_EVENT:
        definition, de = target
        options |= {"event_definition_key": definition.key, "send_to": send_to}
        missing = [
            f.name
            for f in de.fields
            if (f.is_required or f.is_primary_key)
            and f.default_value is None
            and f.name.casefold() not in names
        ]
        if missing:
            problems.append(f"The event's Data Extension needs {', '.join(missing)}: map a column.")
        target_label, de_key = f"{definition.name} (event)", ""
    else:
        target_label, de_key = "Contacts", ""
    state[PUSH_DEST_FRAME] = (signature, edited)
    state[deps.PUSH_SETTINGS] = {
        "kind": kind,
        "de_name": target_label,
        "de_key": de_key,
        "options": options,
        "key_column": key_col,
        "primary_keys": [key_dest],
        "mapping": rows,
    }
    for p in problems:
        st.error(p, icon=":material/error:")
    if not problems:
        state[deps.PUSH_PATHWAY_ID] = None
        go(4)
        st.rerun()


def summary_lines(s: dict) -> list[str]:
    """The summary card's destination lines for a non-DE kind."""
    opts = s.get("options") or {}
    lines = [f"**Target**  \n{s.get('de_name')}"]
    if s.get("kind") == dest.JOURNEY_EVENT:
        lines.append(f"**Who enters**  \n{SEND_TO[opts.get('send_to', 'new')][0]}")
    lines.append(f"**Contact key**  \n{s.get('key_column') or '—'} → {s['primary_keys'][0]}")
    return lines
