"""Step 3 of the wizard for the kinds beyond one Data Extension per audience, without Streamlit.

Membership flag (a True/False field on an existing shared DE), Contacts (attribute sets) and
Journey entry events: suggest a mapping, then validate what the user chose into a list of
problems (each saying what to fix) and the settings of the pathway to create. The rules are the
engine's (`sync.destination_rules`): a run checks the destination again before it sends anything
and stops at the first problem; the wizard shows them all, so the user fixes them here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sfmc.contacts import CONTACT_KEY_MAX, AttributeSetDefinition, writable_attributes
from sfmc.types import DeField
from sync import destination_rules as rules
from sync import destinations as dest
from sync.mapping import FieldMap
from ui.text import md

SEND_TO = {
    "new": ("New members only", "Each supporter enters the journey once, when they join."),
    "all": ("Every member, every sync", "Everyone in the audience enters again on each sync."),
}
# Field names that usually hold the contact key: offered first as the key of an event DE.
KEY_NAMES = ("contactkey", "subscriberkey", "contactid", "contact_key", "subscriber_key")
# Source columns tried, in order, as the default contact key column.
KEY_COLUMNS = ("donor_id", "contact_key", "id")


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.casefold())


@dataclass(frozen=True)
class Target:
    """Where a non-DE pathway writes, as read from SFMC in step 3.

    Attributes:
        kind: `MEMBERSHIP_FLAG`, `CONTACTS` or `JOURNEY_EVENT`.
        fields: the fields a column can be sent to.
        key_fields: the fields the contact key can be sent as (first = default).
        de: membership: the shared DE; journey: the event's DE; contacts: None.
        event: journey: the event definition; else None.
        sets: contacts: the account's attribute sets; else empty.
    """

    kind: str
    fields: tuple[DeField, ...]
    key_fields: tuple[DeField, ...]
    de: Any = None
    event: Any = None
    sets: tuple[AttributeSetDefinition, ...] = ()

    @property
    def signature(self) -> tuple[str, str]:
        """Identifies the target: the suggested mapping is rebuilt when it changes."""
        if self.event is not None:
            return (self.kind, self.event.key)
        return (self.kind, self.de.customer_key if self.de is not None else "")

    def value_fields(self) -> list[str]:
        """Fields a column may be sent to besides the key (a shared DE's key is the key only)."""
        keys = {f.name for f in self.key_fields}
        return [
            f.name for f in self.fields if self.kind != dest.MEMBERSHIP_FLAG or f.name not in keys
        ]


def shared_de_problem(de: Any) -> str | None:
    """Why a DE cannot hold membership flags (it must be keyed by one contact key field)."""
    return next((p.message for p in rules.shared_de_problems(de)), None)


def target_for(kind: str, *, de: Any = None, event: Any = None, sets: Any = ()) -> Target:
    """The target of a kind: the shared DE, the event and its DE, or the attribute sets."""
    if kind == dest.CONTACTS:
        fields = [a.to_de_field() for a in writable_attributes(sets)]
        keys = [DeField("ContactKey", "Text", CONTACT_KEY_MAX, is_primary_key=True)]
    elif kind == dest.MEMBERSHIP_FLAG:
        fields = list(de.fields)
        keys = [f for f in fields if f.is_primary_key]
    else:
        fields = list(de.fields)
        keys = sorted(fields, key=lambda f: _norm(f.name) not in KEY_NAMES)
    return Target(kind, tuple(fields), tuple(keys), de=de, event=event, sets=tuple(sets))


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


def suggested_pairs(target: Target, columns: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """The mapping offered first: matching names, without Contacts sets the data cannot fill."""
    pairs = suggest_pairs(columns, target.fields, skip=[f.name for f in target.key_fields[:1]])
    if target.kind == dest.CONTACTS:
        gaps = rules.incomplete_sets(target.sets, [d for _s, d in pairs])
        pairs = [(c, d) for c, d in pairs if d.split(".", 1)[0] not in gaps]
    return pairs


def default_key_column(columns: Sequence[str], saved: str | None) -> str | None:
    """The contact key column to preselect: the saved one, else a usual id column."""
    wanted = saved or next((c for c in KEY_COLUMNS if c in columns), None)
    return wanted if wanted in columns else None


def mapping_row(i: int, source: str, field: DeField, *, key: bool = False) -> dict[str, Any]:
    """A mapping row sending `source` to `field` (the key row is required)."""
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


@dataclass(frozen=True)
class Choice:
    """What the user chose on step 3 for a non-DE kind."""

    key_column: str | None
    key_field: str
    pairs: Sequence[tuple[Any, Any]]  # (source column, destination field) from the editor
    flag_field: str = ""  # membership flag
    send_to: str = "new"  # journey event


def validate(target: Target, choice: Choice) -> tuple[dict[str, Any], list[str]]:
    """The pathway settings of this choice, and what stops them from working (empty = none)."""
    by_name = {f.name: f for f in target.fields}
    key_by_name = {f.name: f for f in target.key_fields}
    rows = [mapping_row(0, choice.key_column or "", key_by_name[choice.key_field], key=True)]
    for source, name in choice.pairs:
        field = by_name.get(name or "")
        if source and field is not None:
            rows.append(mapping_row(len(rows), str(source), field))
    mapping = [
        FieldMap(
            r["source_column"],
            r["destination_field"],
            r["field_type"],
            is_primary_key=r["is_primary_key"],
        )
        for r in rows
    ]
    problems = rules.contact_key_problems(mapping)
    options: dict[str, Any] = {}
    if target.kind == dest.CONTACTS:
        problems += rules.contacts_problems(target.sets, mapping)
        label, de_key = "Contacts", ""
    elif target.kind == dest.MEMBERSHIP_FLAG:
        flag = choice.flag_field.strip()
        options["flag_field"] = flag
        de_key = target.de.customer_key
        problems += rules.membership_problems(de_key, target.de, flag, mapping)
        label = f"{target.de.name} · flag '{flag}'"
    else:
        options |= {"event_definition_key": target.event.key, "send_to": choice.send_to}
        problems += rules.journey_problems(target.event.key, target.event, target.de, mapping)
        label, de_key = f"{target.event.name} (event)", ""
    settings = {
        "kind": target.kind,
        "de_name": label,
        "de_key": de_key,
        "options": options,
        "key_column": choice.key_column,
        "primary_keys": [choice.key_field],
        "mapping": rows,
    }
    return settings, [p.message for p in problems]


def summary_lines(settings: dict[str, Any]) -> list[str]:
    """The summary card's destination lines for a non-DE kind (Markdown, names escaped)."""
    opts = settings.get("options") or {}
    lines = [f"**Target**  \n{md(settings.get('de_name'))}"]
    if settings.get("kind") == dest.JOURNEY_EVENT:
        lines.append(f"**Who enters**  \n{SEND_TO[opts.get('send_to', 'new')][0]}")
    key = settings["primary_keys"][0]
    lines.append(f"**Contact key**  \n{md(settings.get('key_column') or '—')} → {md(key)}")
    return lines
