"""SFMC's Data Extension schema rules, checked locally before anything is sent.

`check_new_data_extension` guards a Create; `plan_field_changes` turns a wanted field list into
the fields an Update must send (new ones, lengthened ones), refusing changes SFMC would refuse.
`sending_problems` and `retention_problems` are the rules of a sendable DE and of data retention:
the client checks them before a Create or the "Used for Sending" Update, the engine before it
calls SFMC at all, and the wizard (`ui.sending`) before a pathway is saved. The reference names
the properties (sfmc-api.md §4.1); which field types a relationship takes and which retention
combinations are refused follow SFMC's Contact Builder form [I].
Field-level rules themselves live in `sfmc.fieldrules`; whether a default value fits its type is
a value rule (`store.fieldtypes`, outside the client), which the engine adds through
`sync.values.schema_problems` before it creates a Data Extension.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from sfmc import fieldrules
from sfmc.errors import SfmcConfigError
from sfmc.types import (
    EMAIL_ADDRESS,
    RETENTION_UNITS,
    SEND_RELATIONS,
    SUBSCRIBER_KEY,
    DataExtension,
    DeField,
    Retention,
    Sending,
)

# The field type a send relationship needs: an email address relates on an EmailAddress field,
# a subscriber key (at most 254 characters, sfmc-api.md §4.2) on a Text field.
SEND_FIELD_TYPES = {EMAIL_ADDRESS: "EmailAddress", SUBSCRIBER_KEY: "Text"}
MAX_RETENTION_LENGTH = 999  # [I] the period's number; SFMC's own form takes three digits
MAX_KEY_LENGTH = 36  # SFMC's CustomerKey limit (sfmc-api.md §4.1)


def key_problem(customer_key: str) -> str | None:
    """What makes `customer_key` unusable as a DE external key, or None when it is fine.

    The reference names only the length rule (1-36). Control characters cannot travel in SOAP's
    XML 1.0, so they are refused too. Anything else (spaces, `#`, `?`, `/`, `%`, XML specials...)
    is allowed: SOAP escapes it and REST paths encode it (`sfmc.transport.rest_path`).
    """
    if not customer_key.strip() or len(customer_key) > MAX_KEY_LENGTH:
        return (
            f"The external key must be 1-{MAX_KEY_LENGTH} characters (got {len(customer_key)}): "
            "shorten it."
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in customer_key):
        return "The external key contains a control character (a tab or line break): remove it."
    return None


def check_new_data_extension(de: DataExtension) -> None:
    """Raise `SfmcConfigError` (kind "schema") naming every rule the new DE breaks."""
    problems = []
    if not de.name.strip():
        problems.append("The Data Extension needs a name.")
    key = key_problem(de.customer_key)
    if key:
        problems.append(key)
    if not de.fields:
        problems.append("The Data Extension needs at least one field.")
    problems.extend(p for p in fieldrules.check_schema(de.fields) if p not in problems)
    if de.sending is not None:
        problems.extend(sending_problems(de.fields, de.sending))
    if de.retention is not None:
        problems.extend(retention_problems(de.retention))
    if problems:
        raise SfmcConfigError(
            " ".join(problems), operation=f"create Data Extension {de.name}", kind="schema"
        )


def sending_problems(fields: Sequence[DeField], sending: Sending) -> list[str]:
    """What stops a DE with these fields from being sendable on `sending` (SFMC's rules).

    The send relationship names one of the DE's fields, which must be required (a row without
    it could not be sent to) and of the type the subscriber attribute needs (`SEND_FIELD_TYPES`).
    Used before the Create, before an Update that makes a DE sendable, and by the wizard.
    """
    if sending.relates_to not in SEND_RELATIONS:
        return [
            f"The send relationship must relate to {' or '.join(SEND_RELATIONS)} "
            f"(got {sending.relates_to!r})."
        ]
    by_name = {f.name.casefold(): f for f in fields}
    field = by_name.get(sending.field.casefold()) if sending.field else None
    if field is None:
        return [
            f"A sendable Data Extension needs its send relationship field: "
            f"{sending.field or '(none chosen)'!r} is not one of its fields; choose a mapped field."
        ]
    problems = []
    wanted = SEND_FIELD_TYPES[sending.relates_to]
    if field.field_type != wanted:
        problems.append(
            f"Field {field.name!r} is {field.field_type}; a send relationship on "
            f"{sending.relates_to} needs a field of type {wanted}: change its type, or relate it to "
            f"{_other_relation(sending.relates_to)}."
        )
    if not (field.is_required or field.is_primary_key):
        problems.append(
            f"Field {field.name!r} relates the Data Extension to {sending.relates_to}, so it must "
            "be required: tick Required for it (rows without a value are then rejected)."
        )
    return problems


def sendable_change_problems(de: DataExtension, sending: Sending) -> list[str]:
    """What stops an existing DE, as SFMC has it, from becoming sendable on `sending`.

    SFMC lets a DE become sendable ("Used for Sending") when its relationship field already
    fits (required, matching type): an existing field cannot be made required once the DE has
    rows, and the relationship of a DE that is sendable already is fixed [I]. Each problem says
    what to do instead.
    """
    if de.sending is not None and _same_relationship(de.sending, sending):
        return []
    new_de = (
        f"or give the pathway a new Data Extension key so that a new, sendable Data Extension "
        f"is created in place of {de.customer_key!r}."
    )
    if de.sending is not None:
        return [
            f"The Data Extension {de.customer_key!r} is already sendable on "
            f"{de.sending.relates_to} → {de.sending.field}, and Marketing Cloud cannot change a "
            f"send relationship: choose that relationship, {new_de}"
        ]
    problems = sending_problems(de.fields, sending)
    if problems:
        return [
            f"The Data Extension {de.customer_key!r} cannot become sendable as it is in "
            "Marketing Cloud: " + " ".join(problems) + f" Choose a field that fits, {new_de}"
        ]
    return []


def _same_relationship(have: Sending, want: Sending) -> bool:
    return (have.field.casefold(), have.relates_to) == (want.field.casefold(), want.relates_to)


def _other_relation(relates_to: str) -> str:
    return next(r for r in SEND_RELATIONS if r != relates_to)


def retention_problems(retention: Retention) -> list[str]:
    """What SFMC refuses in a data retention setting (each problem says what to fix)."""
    problems = []
    if not 1 <= retention.length <= MAX_RETENTION_LENGTH:
        problems.append(
            f"The retention period must be 1-{MAX_RETENTION_LENGTH} {retention.unit.lower()} "
            f"(got {retention.length})."
        )
    if retention.unit not in RETENTION_UNITS:
        problems.append(
            f"The retention unit must be one of {', '.join(RETENTION_UNITS)} "
            f"(got {retention.unit!r})."
        )
    if retention.row_based and retention.delete_de:
        problems.append(
            "Retention that deletes individual rows cannot delete the whole Data Extension too: "
            "choose one of them."
        )
    if retention.row_based and retention.reset_on_import:
        problems.append(
            "Resetting the period on import applies to whole-Data-Extension retention, not to "
            "retention of individual rows: turn one of them off."
        )
    return problems


def plan_field_changes(
    current: DataExtension,
    fields: Sequence[DeField],
    *,
    has_rows: Callable[[], bool],
    object_ids: Mapping[str, str],
) -> list[tuple[DeField, str | None]]:
    """Fields to send in the Update: new ones (no ObjectID) and lengthened ones (with ObjectID)."""
    existing = {f.name.lower(): f for f in current.fields}
    problems = fieldrules.check_schema(fields) if fields else []
    changes: list[tuple[DeField, str | None]] = []
    rows_known: bool | None = None
    for new in fields:
        old = existing.get(new.name.lower())
        if old == new or (old is not None and _same_field(old, new)):
            continue
        if old is None and (new.is_primary_key or new.is_required) and rows_known is None:
            rows_known = has_rows()
        problem = fieldrules.check_field_change(old, new, de_has_rows=bool(rows_known))
        if problem:
            problems.append(problem)
            continue
        changes.append((new, None if old is None else object_ids.get(new.name.lower())))
    if problems:
        raise SfmcConfigError(
            " ".join(problems), operation=f"add fields to {current.customer_key}", kind="schema"
        )
    return changes


def _same_field(old: DeField, new: DeField) -> bool:
    return (
        old.field_type == new.field_type
        and (new.max_length is None or old.max_length == new.max_length)
        and old.is_primary_key == new.is_primary_key
        and old.is_required == new.is_required
        and (
            new.field_type != "Decimal" or (old.precision, old.scale) == (new.precision, new.scale)
        )
    )
