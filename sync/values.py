"""The engine's door to SFMC's value rules: a DE field's value checks and stored forms.

The rules themselves are one table in `store.fieldtypes` (one entry per field type); the limits
of a field (Text's default MaxLength, a Decimal's precision) are the SFMC client's schema rules
(`sfmc.fieldrules`). This module joins the two: `shape_of` resolves a `DeField` into the
`FieldShape` the table judges, and `check_value` / `canonical` are the product's public
single-value entry points (the preflight, the row keys and the tests use them);
`schema_problems` is the client's field-list rules plus the one that needs the table (a default
value must fit its field).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from sfmc import fieldrules
from sfmc.types import DeField
from store import fieldtypes
from store.fieldchecks import FieldShape, Violation


@lru_cache(maxsize=4096)
def shape_of(field: DeField) -> FieldShape:
    """The field as the value rules see it: effective MaxLength, precision/scale, needs a value."""
    precision, scale = fieldrules.decimal_shape(field)
    return FieldShape(
        name=field.name,
        field_type=field.field_type,
        limit=fieldrules.max_length(field),
        precision=precision,
        scale=scale,
        needs_value=field.is_primary_key or (field.is_required and field.default_value is None),
    )


def check_value(field: DeField, value: object) -> Violation | None:
    """Check one value against one field like SFMC does when it saves a row.

    Args:
        field: the DE field.
        value: the value as it would be sent (JSON scalar or string).

    Returns:
        None when SFMC accepts the value, otherwise the `Violation` it reports. Null and "" are
        accepted unless the field is required or a primary key (and has no default value).
    """
    return fieldtypes.check(shape_of(field), value)


def canonical(field: DeField, value: object) -> str | None:
    """The string SFMC stores (and reads back) for a value that passed `check_value`.

    Raises:
        ValueError: the value does not fit the field; call `check_value` first.
    """
    return fieldtypes.canonical(shape_of(field), value)


def key_part(field: DeField, value: object) -> str:
    """Normalised primary-key component: SFMC's SQL collation compares text case-insensitively [I].

    Two rows whose keys differ only in letter case are the SAME row in a DE.
    """
    stored = canonical(field, value)
    return "" if stored is None else stored.casefold()


def default_value_problem(field: DeField) -> str | None:
    """Why a field's default value does not fit its type (Date's "Now()" always fits), or None."""
    default = field.default_value
    if not default:
        return None
    if field.field_type == "Date" and default.lower() == "now()":
        return None
    if check_value(field, default) is None:
        return None
    return (
        f"Default value {default!r} of field {field.name!r} does not fit its "
        f"type {field.field_type}; fix or remove the default."
    )


def schema_problems(fields: Sequence[DeField]) -> list[str]:
    """SFMC's create-time rules for a DE's field list, default values included.

    Returns:
        A list of problems, each saying what to fix; empty when SFMC would accept the fields.
    """
    return fieldrules.check_schema(fields, value_problem=default_value_problem)
