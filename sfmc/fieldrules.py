"""SFMC's Data Extension field rules that the client needs itself: error codes and schema rules.

The client checks a Data Extension's field list before it creates or changes one (`sfmc.schema`),
so it knows field lengths and precision (Text defaults to 50 characters, a Decimal to 18 digits)
and what SFMC allows at create and change time. Sources are `shared/reference/sfmc-api.md` §3,
§4.2-§4.6; where SFMC's behaviour is unknown the choice made here is marked [I] (inferred).

Whether a *value* fits a field is not decided here: those rules are one table per field type in
`store.fieldtypes`, which the client may not import (it imports neither the store nor the engine).
The engine's `sync.values` joins the two (`shape_of` turns a field's limits from here into the
table's `FieldShape`; `schema_problems` adds the default-value rule to `check_schema`).

Error codes: 70001 (null value) and 70002 (max length) are SFMC's custom-object codes [C]; the
remaining 700xx numbers are this project's own assignments [I] so that every `error_type` has a code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sfmc.types import FIELD_TYPES, DeField

ERROR_TYPES: dict[int, str] = {
    70000: "UnexpectedError",
    70001: "NullValue",
    70002: "MaxLengthExceeded",
    70003: "InvalidEmailAddress",
    70004: "InvalidPhone",
    70005: "InvalidNumber",
    70006: "InvalidDecimal",
    70007: "InvalidDate",
    70008: "InvalidBoolean",
    70009: "DuplicateKey",
    70010: "PrimaryKeyViolation",
    70011: "NotFound",
    70012: "UnknownColumn",
}
CODES: dict[str, int] = {name: code for code, name in ERROR_TYPES.items()}

# Default and maximum lengths per type (§4.2). Text defaults to 50 when MaxLength is omitted.
DEFAULT_MAX_LENGTH = {"Text": 50, "EmailAddress": 254, "Phone": 50, "Locale": 5}
LIMIT_MAX_LENGTH = {"Text": 4000, "EmailAddress": 254, "Phone": 50, "Locale": 5}
DEFAULT_PRECISION = 18
MAX_PRECISION = 29  # DOC-SSJS: Decimal total digits at most 29 [C]
MAX_FIELD_NAME = 128  # [I]: SQL Server identifier length


def max_length(field: DeField) -> int | None:
    """The effective MaxLength of a field (Text defaults to 50), None for unbounded types."""
    if field.field_type in DEFAULT_MAX_LENGTH:
        return field.max_length or DEFAULT_MAX_LENGTH[field.field_type]
    return None


def decimal_shape(field: DeField) -> tuple[int, int]:
    """(precision, scale) of a Decimal field; SOAP may carry precision as MaxLength."""
    precision = field.precision or field.max_length or DEFAULT_PRECISION
    return precision, field.scale or 0


def check_schema(
    fields: Sequence[DeField], *, value_problem: Callable[[DeField], str | None] | None = None
) -> list[str]:
    """Create-time rules for a DE's field list (the 36-char CustomerKey rule lives elsewhere).

    Args:
        fields: the fields of the DE to be created (or the fields to add).
        value_problem: the rules about a field's values (whether its default value fits its
            type), which live outside the client; `sync.values.schema_problems` passes them.

    Returns:
        A list of problems, each saying what to fix; empty when SFMC would accept the fields.
    """
    problems: list[str] = []
    if not fields:
        problems.append("A Data Extension needs at least one field; add a field.")
    seen: set[str] = set()
    for field in fields:
        name = field.name
        if not name or not name.strip():
            problems.append("Every field needs a name; give the unnamed field a name.")
            continue
        folded = name.casefold()
        if folded in seen:
            problems.append(
                f"Field name {name!r} is used twice (names are case-insensitive); rename one."
            )
        seen.add(folded)
        if name.startswith("_"):
            problems.append(f"Field name {name!r} starts with '_', which SFMC reserves; rename it.")
        if len(name) > MAX_FIELD_NAME:
            problems.append(f"Field name {name!r} is longer than {MAX_FIELD_NAME} characters.")
        if field.field_type not in FIELD_TYPES:
            problems.append(
                f"Field {name!r} has unknown type {field.field_type!r}; use one of "
                f"{', '.join(FIELD_TYPES)}."
            )
            continue
        if field.field_type in LIMIT_MAX_LENGTH and field.max_length is not None:
            limit = LIMIT_MAX_LENGTH[field.field_type]
            if not 1 <= field.max_length <= limit:
                problems.append(
                    f"Field {name!r} ({field.field_type}) has MaxLength {field.max_length}; "
                    f"use 1 to {limit}."
                )
        if field.field_type == "Decimal":
            precision, scale = decimal_shape(field)
            if not 1 <= precision <= MAX_PRECISION:
                problems.append(
                    f"Decimal field {name!r} has precision {precision}; use 1 to {MAX_PRECISION}."
                )
            if not 0 <= scale <= precision:
                problems.append(
                    f"Decimal field {name!r} has scale {scale}; use 0 to its precision {precision}."
                )
        if field.is_primary_key and not field.is_required:
            problems.append(f"Primary key field {name!r} must also be required (IsRequired=true).")
        if field.is_primary_key and field.field_type == "Date":
            problems.append(f"Field {name!r} is a Date; SFMC does not allow Date primary keys.")
        problem = None if value_problem is None else value_problem(field)
        if problem:
            problems.append(problem)
    return problems


def check_field_change(old: DeField | None, new: DeField, *, de_has_rows: bool) -> str | None:
    """Whether SFMC allows adding (`old` None) or changing a field on an existing DE (§4.3).

    Returns:
        None when allowed, otherwise a message saying what is not allowed and what to do instead.
    """
    name = new.name
    if old is None:
        if new.is_primary_key and de_has_rows:
            return (
                f"Cannot add primary key field {name!r}: the Data Extension has rows. Clear the "
                "rows first or add the field as a non-key, nullable field."
            )
        if new.is_required and new.default_value in (None, "") and de_has_rows:
            return (
                f"Cannot add required field {name!r} without a default value: the Data Extension "
                "has rows. Make it nullable or give it a default value."
            )
        return None
    if old.field_type != new.field_type:
        return (
            f"Field {name!r} is {old.field_type}; SFMC cannot change a field's type to "
            f"{new.field_type}. Map to a new field instead."
        )
    old_len, new_len = max_length(old), max_length(new)
    if old_len is not None and new_len is not None and new_len < old_len:
        return f"Field {name!r}: MaxLength cannot shrink from {old_len} to {new_len}."
    if old.field_type == "Decimal":
        (old_p, old_s), (new_p, new_s) = decimal_shape(old), decimal_shape(new)
        if new_p < old_p or new_s < old_s:
            return f"Field {name!r}: Decimal precision/scale cannot shrink from {old_p},{old_s}."
    if new.is_required and not old.is_required:
        return f"Field {name!r} is nullable; SFMC cannot make an existing field required."
    if new.is_primary_key != old.is_primary_key and de_has_rows:
        return f"Field {name!r}: the primary key cannot change while the Data Extension has rows."
    return None
