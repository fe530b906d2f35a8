"""What makes a membership, Contacts or Journey destination usable: one rule, one place.

Each rule is a pure function of what SFMC holds (the shared DE, the attribute sets, the event
definition and its DE) and the pathway's mapping, returning every `Problem` it finds. The wizard
shows them all (`ui.destinations.validate`); the engine checks them again before it sends
anything and stops at the first (`raise_first`), as a `SetupError` whose kind and detail the
failed run keeps. So the wizard and a run never disagree on what is wrong or how it is said.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sfmc.contacts import AttributeSetDefinition, writable_attributes
from sfmc.journeys import EventDefinition
from sfmc.types import DataExtension
from sync.mapping import FieldMap
from sync.types import SetupError

_CONTACTS = "check the contacts mapping"
_JOURNEY = "check the journey settings"
_JOURNEY_MAPPING = "check the journey mapping"
_MEMBERSHIP = "check the membership settings"
_MEMBERSHIP_MAPPING = "check the membership mapping"


@dataclass(frozen=True)
class Problem:
    """One reason a destination cannot be used as set up.

    Attributes:
        kind: what it is about, one of `sync.types.SETUP_KINDS`.
        message: what is wrong and what to fix, in the user's words.
        operation: what was being checked (`SetupError.operation`).
        detail: its facts (field names, keys), kept with a failed run.
    """

    kind: str
    message: str
    operation: str
    detail: dict[str, Any] = field(default_factory=dict)

    def error(self) -> SetupError:
        return SetupError(
            self.message, kind=self.kind, operation=self.operation, detail=self.detail
        )


def raise_first(problems: Sequence[Problem]) -> None:
    """Raise the first problem as a `SetupError` (the engine stops at the first)."""
    if problems:
        raise problems[0].error()


def is_contact_key(m: FieldMap) -> bool:
    """The contact key itself (SFMC's contactKey), not an attribute: the key without a set name."""
    return m.is_primary_key and "." not in m.destination_field


def contact_key_problems(mapping: Sequence[FieldMap]) -> list[Problem]:
    """Every non-DE kind: exactly one mapped column, chosen, is the contact key."""
    keyed = [m for m in mapping if m.is_primary_key]
    if len(keyed) != 1:
        msg = (
            "Mark exactly one mapped column as the contact key (the column that identifies a "
            f"supporter, e.g. a CRM id); {len(keyed)} are marked."
        )
        return [Problem("contact_key", msg, "check the mapping", {"marked": len(keyed)})]
    if not keyed[0].source_column:
        msg = "Choose the contact key column: the one that identifies each supporter."
        return [Problem("contact_key", msg, "check the mapping", {"marked": 0})]
    return []


def _sent_twice(mapping: Sequence[FieldMap], kind: str, operation: str) -> list[Problem]:
    names = [m.destination_field.casefold() for m in mapping]
    return [
        Problem(kind, f"Two columns are sent to '{n}': remove one.", operation, {"field": n})
        for n in sorted(set(names))
        if names.count(n) > 1
    ]


# -------------------------------------------------------------------------------- contacts


def incomplete_sets(
    sets: Iterable[AttributeSetDefinition], mapped: Sequence[str]
) -> dict[str, list[str]]:
    """Mapped attribute sets missing a required attribute, as set -> attributes.

    SFMC refuses to create a contact whose attribute set lacks a required value.
    """
    names = {m.casefold() for m in mapped}
    used = {m.split(".", 1)[0].casefold() for m in mapped if "." in m}
    missing: dict[str, list[str]] = {}
    for a in writable_attributes(sets):
        if (
            a.is_required
            and a.set_name.casefold() in used
            and a.qualified_name.casefold() not in names
        ):
            missing.setdefault(a.set_name, []).append(a.name)
    return missing


def contacts_problems(
    sets: Sequence[AttributeSetDefinition], mapping: Sequence[FieldMap]
) -> list[Problem]:
    """Contacts: each mapped field is a writable attribute, and each mapped set is complete."""
    problems = _sent_twice(mapping, "contacts_mapping", _CONTACTS)
    attrs = {a.qualified_name.casefold(): a for s in sets for a in s.attributes}
    for m in mapping:
        if is_contact_key(m):
            continue  # the contactKey itself, not an attribute
        attr = attrs.get(m.destination_field.casefold())
        if attr is None:
            known = ", ".join(a.qualified_name for a in writable_attributes(sets))
            msg = (
                f"'{m.destination_field}' is not an attribute of this account (map to "
                f"'<Attribute Set>.<Attribute>'). Available: {known}."
            )
            problems.append(
                Problem("contacts_mapping", msg, _CONTACTS, {"field": m.destination_field})
            )
        elif attr.is_read_only:
            msg = f"'{attr.qualified_name}' is read-only in SFMC; remove it from the mapping."
            detail = {"field": attr.qualified_name, "read_only": True}
            problems.append(Problem("contacts_mapping", msg, _CONTACTS, detail))
    gaps = incomplete_sets(sets, [m.destination_field for m in mapping])
    problems += [
        Problem(
            "contacts_mapping",
            f"Attribute set '{name}' also needs {', '.join(attrs)} for new contacts: map a column "
            f"to {'it' if len(attrs) == 1 else 'them'}, or remove the set's other attributes.",
            _CONTACTS,
            {"set": name, "fields": attrs},
        )
        for name, attrs in gaps.items()
    ]
    return problems


# --------------------------------------------------------------------------- journey events


def journey_problems(
    event_key: str,
    definition: EventDefinition | None,
    de: DataExtension | None,
    mapping: Sequence[FieldMap],
) -> list[Problem]:
    """Journey events: the event definition and its DE exist, and the mapping fits that DE.

    Args:
        event_key: the pathway's event definition key ("" when none was picked).
        definition: that definition as SFMC has it (None: not found).
        de: the definition's Data Extension (None: not found).
        mapping: the pathway's mapping.
    """
    if not event_key:
        msg = "Pick the Journey event definition to send members to (pathway option event_definition_key)."
        return [Problem("journey_settings", msg, _JOURNEY)]
    if definition is None:
        msg = (
            f"The event definition '{event_key}' does not exist in this account (deleted or "
            "renamed in Journey Builder?). Pick one of the account's event definitions in the "
            "pathway settings."
        )
        detail = {"event_definition_key": event_key}
        return [Problem("journey_settings", msg, "find the journey event definition", detail)]
    if de is None:
        msg = (
            f"The Data Extension of event '{definition.name}' "
            f"('{definition.data_extension_name}') was not found; fix the event in Journey Builder."
        )
        detail = {"data_extension": definition.data_extension_name}
        return [Problem("journey_settings", msg, "read the event's Data Extension", detail)]
    problems = _sent_twice(mapping, "journey_mapping", _JOURNEY_MAPPING)
    by_name = {f.name.casefold() for f in de.fields}
    for m in mapping:
        if m.destination_field.casefold() not in by_name:
            msg = (
                f"'{m.destination_field}' is not a field of the event's Data Extension "
                f"'{de.name}' (fields: {', '.join(f.name for f in de.fields)}); SFMC would refuse "
                "every event. Fix the mapping."
            )
            detail = {"field": m.destination_field}
            problems.append(Problem("journey_mapping", msg, _JOURNEY_MAPPING, detail))
    mapped = {m.destination_field.casefold() for m in mapping}
    missing = [
        f.name
        for f in de.fields
        if (f.is_required or f.is_primary_key)
        and f.default_value is None
        and f.name.casefold() not in mapped
    ]
    if missing:
        msg = (
            f"The event's Data Extension requires {', '.join(missing)}: map a column to "
            f"{'it' if len(missing) == 1 else 'each of them'}."
        )
        problems.append(Problem("journey_mapping", msg, _JOURNEY_MAPPING, {"fields": missing}))
    return problems


# -------------------------------------------------------------------------- membership flag


def shared_de_problems(de: DataExtension) -> list[Problem]:
    """Membership flag: the shared DE is keyed by one contact key field."""
    if len(de.primary_keys) == 1:
        return []
    msg = (
        f"'{de.name}' has {len(de.primary_keys)} primary key fields; a membership flag needs a "
        "Data Extension keyed by one contact key field. Pick another one."
    )
    detail = {"primary_key": list(de.primary_keys)}
    return [Problem("membership_mapping", msg, _MEMBERSHIP_MAPPING, detail)]


def membership_problems(
    customer_key: str, de: DataExtension | None, flag: str, mapping: Sequence[FieldMap]
) -> list[Problem]:
    """Membership flag: a flag name, the shared DE, its key, the mapped fields and the flag field.

    Args:
        customer_key: the shared DE's external key.
        de: that DE as SFMC has it (None: not found).
        flag: the flag field's name, stripped ("" when none was given).
        mapping: the pathway's mapping; every field must exist in the shared DE (its fields are
            not changed here, except that the flag is added when missing).
    """
    problems = []
    if not flag:
        msg = (
            "Name the True/False field that marks this audience's members (e.g. 'In Lapsed 2023')."
        )
        problems.append(Problem("membership_settings", msg, _MEMBERSHIP))
    if de is None:
        msg = (
            f"The shared Data Extension '{customer_key}' was not found. Membership flags go to an "
            "existing DE keyed by contact key: pick one that exists."
        )
        detail = {"customer_key": customer_key}
        return [
            *problems,
            Problem("shared_de_missing", msg, "find the shared Data Extension", detail),
        ]
    problems += _sent_twice(mapping, "membership_mapping", _MEMBERSHIP_MAPPING)
    problems += shared_de_problems(de) or _key_problems(de, mapping)
    by_name = {f.name.casefold(): f for f in de.fields}
    for m in mapping:
        de_field = by_name.get(m.destination_field.casefold())
        if de_field is None:
            msg = (
                f"'{m.destination_field}' is not a field of the shared DE '{de.name}'; add it in "
                "SFMC or remove it from the mapping (a shared DE's fields are not changed here)."
            )
            detail = {"field": m.destination_field}
            problems.append(Problem("membership_mapping", msg, _MEMBERSHIP_MAPPING, detail))
        elif flag and de_field.name.casefold() == flag.casefold():
            msg = f"'{flag}' is the membership flag; do not map a column to it."
            detail = {"field": de_field.name}
            problems.append(Problem("membership_mapping", msg, _MEMBERSHIP_MAPPING, detail))
    clash = by_name.get(flag.casefold()) if flag else None
    if clash is not None and clash.field_type != "Boolean":
        msg = f"'{clash.name}' exists in '{de.name}' as {clash.field_type}; pick another flag name."
        detail = {"flag_field": clash.name, "field_type": clash.field_type}
        problems.append(Problem("membership_settings", msg, _MEMBERSHIP, detail))
    return problems


def _key_problems(de: DataExtension, mapping: Sequence[FieldMap]) -> list[Problem]:
    """The contact key is sent as the shared DE's (single) primary key field."""
    key_map = next((m for m in mapping if m.is_primary_key), None)
    if key_map is None or key_map.destination_field.casefold() == de.primary_keys[0].casefold():
        return []  # no key at all: `contact_key_problems` says so
    msg = (
        f"'{key_map.destination_field}' must be the single primary key of '{de.name}' "
        f"(its primary key: {de.primary_keys[0]})."
    )
    detail = {"field": key_map.destination_field, "primary_key": list(de.primary_keys)}
    return [Problem("membership_mapping", msg, _MEMBERSHIP_MAPPING, detail)]
