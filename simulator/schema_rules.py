"""SFMC's rules for a Data Extension's field list: at creation (§4.1-§4.3) and when it changes (§4.3-§4.4).

The SOAP handlers answer 310007 with these texts joined; each says what to fix. Limits the
reference leaves open (field-name length) follow SQL Server [I].
"""

from __future__ import annotations

from collections.abc import Sequence

from simulator.fieldrules import check_value
from simulator.fields import (
    FIELD_TYPES,
    LENGTH_LIMIT,
    MAX_PRECISION,
    SimField,
    decimal_shape,
    max_length,
)

MAX_FIELD_NAME = 128  # [I]: SQL Server identifier length


def check_schema(fields: Sequence[SimField]) -> list[str]:
    """What SFMC would refuse in a new DE's field list (the CustomerKey length is checked apart).

    Returns:
        One sentence per problem, saying what to fix; empty when the list is acceptable.
    """
    if not fields:
        return ["A Data Extension needs at least one field; add a field."]
    problems: list[str] = []
    seen: set[str] = set()
    for field in fields:
        name = field.name
        if not name or not name.strip():
            problems.append("Every field needs a name; give the unnamed field a name.")
            continue
        if name.casefold() in seen:  # names compare case-insensitively [C: MCDEV]
            problems.append(
                f"Field name {name!r} is used twice (names are case-insensitive); rename one."
            )
        seen.add(name.casefold())
        problems.extend(_field_problems(field))
    return problems


def _field_problems(field: SimField) -> list[str]:
    name, kind = field.name, field.field_type
    found: list[str] = []
    if name.startswith("_"):  # system names such as _SubscriberKey [C: MCDEV]
        found.append(f"Field name {name!r} starts with '_', which SFMC reserves; rename it.")
    if len(name) > MAX_FIELD_NAME:
        found.append(f"Field name {name!r} is longer than {MAX_FIELD_NAME} characters.")
    if kind not in FIELD_TYPES:
        found.append(
            f"Field {name!r} has unknown type {kind!r}; use one of {', '.join(FIELD_TYPES)}."
        )
        return found
    limit = LENGTH_LIMIT.get(kind)
    if limit is not None and field.max_length is not None and not 1 <= field.max_length <= limit:
        found.append(f"Field {name!r} ({kind}) has MaxLength {field.max_length}; use 1 to {limit}.")
    if kind == "Decimal":
        precision, scale = decimal_shape(field)
        if not 1 <= precision <= MAX_PRECISION:
            found.append(
                f"Decimal field {name!r} has precision {precision}; use 1 to {MAX_PRECISION}."
            )
        if not 0 <= scale <= precision:
            found.append(
                f"Decimal field {name!r} has scale {scale}; use 0 to its precision {precision}."
            )
    if field.is_primary_key and not field.is_required:  # §4.3 [C]
        found.append(f"Primary key field {name!r} must also be required (IsRequired=true).")
    if field.is_primary_key and kind == "Date":  # §4.3 [C]
        found.append(f"Field {name!r} is a Date; SFMC does not allow Date primary keys.")
    default = field.default_value
    if default not in (None, ""):
        now = kind == "Date" and default.lower() == "now()"  # type: ignore[union-attr]
        if not now and check_value(field, default) is not None:
            found.append(
                f"Default value {default!r} of field {name!r} does not fit its type {kind}; "
                "fix or remove the default."
            )
    return found


def check_field_change(old: SimField | None, new: SimField, *, de_has_rows: bool) -> str | None:
    """Whether SFMC lets a field be added (`old` None) or changed on an existing DE (§4.3).

    Returns:
        None when allowed, otherwise what is not allowed and what to do instead.
    """
    name = new.name
    if old is None:
        return _addition_problem(new, de_has_rows=de_has_rows)
    if old.field_type != new.field_type:
        return (
            f"Field {name!r} is {old.field_type}; SFMC cannot change a field's type to "
            f"{new.field_type}. Map to a new field instead."
        )
    old_length, new_length = max_length(old), max_length(new)
    if old_length is not None and new_length is not None and new_length < old_length:
        return f"Field {name!r}: MaxLength cannot shrink from {old_length} to {new_length}."
    if old.field_type == "Decimal":
        (old_p, old_s), (new_p, new_s) = decimal_shape(old), decimal_shape(new)
        if new_p < old_p or new_s < old_s:
            return f"Field {name!r}: Decimal precision/scale cannot shrink from {old_p},{old_s}."
    if new.is_required and not old.is_required:
        return f"Field {name!r} is nullable; SFMC cannot make an existing field required."
    if new.is_primary_key != old.is_primary_key and de_has_rows:
        return f"Field {name!r}: the primary key cannot change while the Data Extension has rows."
    return None


def _addition_problem(new: SimField, *, de_has_rows: bool) -> str | None:
    """New fields on a DE with rows: no primary key, and nullable or with a default [C: MCDEV]."""
    if not de_has_rows:
        return None
    name = new.name
    if new.is_primary_key:
        return (
            f"Cannot add primary key field {name!r}: the Data Extension has rows. Clear the "
            "rows first or add the field as a non-key, nullable field."
        )
    if new.is_required and new.default_value in (None, ""):
        return (
            f"Cannot add required field {name!r} without a default value: the Data Extension "
            "has rows. Make it nullable or give it a default value."
        )
    return None
