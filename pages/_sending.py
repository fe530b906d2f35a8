"""The 'Used for sending' and data retention widgets, shared by the wizard and Column Mapping.

Rendered inside a form: the values are read when it is submitted, and `ui.sending.apply` checks
them (the same rules a run checks before it calls Marketing Cloud).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import streamlit as st

from sfmc.types import RETENTION_UNITS
from ui import sending as usend


def send_settings(
    choice: usend.SendChoice, fields: Sequence[str], *, key: str, retention: bool = True
) -> usend.SendChoice:
    """Used for sending, its relationship and Testable; data retention when `retention`.

    Every widget has a key: without one its identity follows its default, which the page takes
    from the settings saved at the last submit, and a changed default would drop what the user
    submits next.
    """
    options = list(fields)
    if choice.field and choice.field not in options:
        options.append(choice.field)
    on = st.toggle(
        "Used for sending",
        value=choice.used_for_sending,
        key=f"{key}_on",
        help="Makes the Data Extension sendable, so that an email send or a journey's email "
        "can use it as its audience (SFMC's 'Used for Sending' / 'Is Sendable').",
    )
    left, right = st.columns(2)
    field = left.selectbox(
        "Send relationship: the field that identifies the subscriber",
        options,
        index=options.index(choice.field) if choice.field in options else None,
        key=f"{key}_field",
        placeholder="Choose a mapped field",
    )
    relations = list(usend.RELATIONS)
    relates_to = right.selectbox(
        "… relates to subscribers on",
        relations,
        index=relations.index(choice.relates_to),
        format_func=usend.RELATIONS.get,
        key=f"{key}_relates",
    )
    st.caption(usend.REQUIRED_NOTE)
    testable = st.toggle(
        "Testable (the audience of test sends too)",
        value=choice.testable,
        key=f"{key}_testable",
        help="Only a sendable Data Extension can be testable.",
    )
    picked = usend.SendChoice(
        used_for_sending=on, field=field, relates_to=relates_to, testable=testable and on
    )
    return _retention(choice, picked, key) if retention else picked


def _retention(choice: usend.SendChoice, picked: usend.SendChoice, key: str) -> usend.SendChoice:
    st.markdown("**Data retention**")
    on = st.toggle(
        "Delete data after a period",
        value=choice.retention,
        key=f"{key}_retention",
        help="Off: Marketing Cloud keeps the data until it is deleted by hand.",
    )
    left, right = st.columns(2)
    length = left.number_input(
        "Period", min_value=1, max_value=999, value=int(choice.length), key=f"{key}_length"
    )
    units = list(RETENTION_UNITS)
    unit = right.selectbox("Unit", units, index=units.index(choice.unit), key=f"{key}_unit")
    scopes = list(usend.SCOPES)
    scope = st.radio(
        "What is deleted",
        scopes,
        index=scopes.index(choice.scope),
        format_func=lambda s: usend.SCOPES[s][0],
        captions=[usend.SCOPES[s][1] for s in scopes],
        key=f"{key}_scope",
    )
    reset = st.checkbox(
        "Restart the period on each import (all rows only)",
        value=choice.reset_on_import,
        key=f"{key}_reset",
    )
    return replace(
        picked, retention=on, length=int(length), unit=unit, scope=scope, reset_on_import=reset
    )
