"""Step 3 of the wizard for the kinds beyond one Data Extension per audience, without Streamlit.

Membership flag (a True/False field on an existing shared DE), Contacts (attribute sets) and
Journey entry events: suggest a mapping, then validate what the user chose into a list of
problems (each saying what to fix) and the settings of the pathway to create. The engine checks
the destination again before it sends anything (`sync.destinations.push_destination`); the
wizard checks first so the user fixes it here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sfmc.types import DeField
from sync import destinations as dest
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
    """

    kind: str
    fields: tuple[DeField, ...]
    key_fields: tuple[DeField, ...]
    de: Any = None
    event: Any = None

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
    if len(de.primary_keys) == 1:
        return None
    return (
        f"'{de.name}' has {len(de.primary_keys)} primary key fields; a membership flag needs a "
        "Data Extension keyed by one contact key field. Pick another one."
    )


def target_for(kind: str, *, de: Any = None, event: Any = None, sets: Any = ()) -> Target:
    """The target of a kind: the shared DE, the event and its DE, or the attribute sets."""
    if kind == dest.CONTACTS:
        fields = [a.to_de_field() for a in dest.writable_attributes(sets)]
        keys = [DeField("ContactKey", "Text", dest.CONTACT_KEY_MAX, is_primary_key=True)]
    elif kind == dest.MEMBERSHIP_FLAG:
        fields = list(de.fields)
        keys = [f for f in fields if f.is_primary_key]
    else:
        fields = list(de.fields)
        keys = sorted(fields, key=lambda f: _norm(f.name) not in KEY_NAMES)
    return Target(kind, tuple(fields), tuple(keys), de=de, event=event)


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


def suggested_pairs(target: Target, columns: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """The mapping offered first: matching names, without Contacts sets the data cannot fill."""
    pairs = suggest_pairs(columns, target.fields, skip=[f.name for f in target.key_fields[:1]])
    if target.kind == dest.CONTACTS:
        gaps = incomplete_sets(target.fields, [d for _s, d in pairs])
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
    problems = []
    if choice.key_column is None:
        problems.append("Choose the contact key column: the one that identifies each supporter.")
    rows = [mapping_row(0, choice.key_column or "", key_by_name[choice.key_field], key=True)]
    for source, name in choice.pairs:
        field = by_name.get(name or "")
        if source and field is not None:
            rows.append(mapping_row(len(rows), str(source), field))
    names = [r["destination_field"].casefold() for r in rows]
    problems += [
        f"Two columns are sent to '{n}': remove one."
        for n in sorted(set(names))
        if names.count(n) > 1
    ]
    options: dict[str, Any] = {}
    if target.kind == dest.CONTACTS:
        problems += _contacts_problems(target, [r["destination_field"] for r in rows[1:]])
        label, de_key = "Contacts", ""
    elif target.kind == dest.MEMBERSHIP_FLAG:
        flag = choice.flag_field.strip()
        options["flag_field"] = flag
        problems += _flag_problems(target, flag, names)
        label, de_key = f"{target.de.name} · flag '{flag}'", target.de.customer_key
    else:
        options |= {"event_definition_key": target.event.key, "send_to": choice.send_to}
        problems += _event_problems(target, names)
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
    return settings, problems


def _contacts_problems(target: Target, mapped: Sequence[str]) -> list[str]:
    return [
        f"Attribute set '{name}' also needs {', '.join(attrs)} for new contacts: map a column "
        f"to {'it' if len(attrs) == 1 else 'them'}, or remove the set's other attributes."
        for name, attrs in incomplete_sets(target.fields, mapped).items()
    ]


def _flag_problems(target: Target, flag: str, names: Sequence[str]) -> list[str]:
    clash = next((f for f in target.fields if f.name.casefold() == flag.casefold()), None)
    if not flag:
        return ["Name the flag field, e.g. 'In Monthly givers'."]
    if clash is not None and clash.field_type != "Boolean":
        return [f"'{flag}' exists in the DE as {clash.field_type}; pick another name."]
    if flag.casefold() in names:
        return [f"'{flag}' is the flag: don't also map a column to it."]
    return []


def _event_problems(target: Target, names: Sequence[str]) -> list[str]:
    missing = [
        f.name
        for f in target.de.fields
        if (f.is_required or f.is_primary_key)
        and f.default_value is None
        and f.name.casefold() not in names
    ]
    if missing:
        return [f"The event's Data Extension needs {', '.join(missing)}: map a column."]
    return []


def summary_lines(settings: dict[str, Any]) -> list[str]:
    """The summary card's destination lines for a non-DE kind (Markdown, names escaped)."""
    opts = settings.get("options") or {}
    lines = [f"**Target**  \n{md(settings.get('de_name'))}"]
    if settings.get("kind") == dest.JOURNEY_EVENT:
        lines.append(f"**Who enters**  \n{SEND_TO[opts.get('send_to', 'new')][0]}")
    key = settings["primary_keys"][0]
    lines.append(f"**Contact key**  \n{md(settings.get('key_column') or '—')} → {md(key)}")
    return lines
