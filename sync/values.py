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

import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sfmc import fieldrules
from sfmc.types import DeField
from store import fieldtypes
from store.fieldchecks import FieldShape, Violation
from store.fieldvalues import parse_date


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


# SFMC reads a date without a zone as its server time: Central Standard Time all year (UTC-6,
# no daylight saving) [C: issue 15]. A tenant whose dates mean another zone sets its own on the
# connection (`store.models.Connection.time_zone`).
SFMC_ZONE = "UTC-06:00"
_FIXED_ZONE = re.compile(r"^UTC([+-])(\d{1,2}):?(\d{2})?$", re.IGNORECASE)
_HAS_ZONE = re.compile(r"(?:[zZ]|[+-]\d{2}:?\d{2})$")


def tenant_zone(name: str | None) -> tzinfo:
    """The zone a connection's dates are sent in: an IANA name or `UTC+HH:MM` (None: SFMC's CST).

    Raises:
        ValueError: the name is neither (`zone_problem` says what to type).
    """
    text = (name or SFMC_ZONE).strip()
    fixed = _FIXED_ZONE.match(text)
    if fixed:
        sign = -1 if fixed[1] == "-" else 1
        hours, minutes = int(fixed[2]), int(fixed[3] or 0)
        if hours > 14 or minutes > 59:
            raise ValueError(text)
        return timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(text) from exc


def zone_problem(name: str) -> str | None:
    """Why `name` is not a time zone the connection can use, or None."""
    if not name.strip():
        return None
    try:
        tenant_zone(name)
    except ValueError:
        return (
            f"Time zone {name!r} is unknown: type an IANA name such as America/Chicago, or a "
            f"fixed offset such as {SFMC_ZONE} (SFMC's own server time), or leave it empty."
        )
    return None


@lru_cache(maxsize=32_768)
def _date_in_zone(text: str, zone: tzinfo) -> str | None:
    if not _HAS_ZONE.search(text):
        return None
    if parse_date(text) is None:  # not a date SFMC takes: the preflight reports the original
        return None
    try:
        parsed = datetime.fromisoformat(text.strip().replace("z", "Z"))
        local = parsed.astimezone(zone).replace(tzinfo=None, microsecond=0)
    except (ValueError, OverflowError):
        return None
    return local.isoformat()


def date_sender(zone: tzinfo) -> Callable[[object], object]:
    """A Date field's converter sending zone-aware values as wall time in the tenant's zone.

    SFMC stores a zone-less date as its server time: `2024-05-01T12:00:00Z` sent as UTC wall
    time would land six hours off in a CST tenant, so an offset or `Z` is converted into the
    tenant's zone first. Zone-less values already mean the tenant's time and are sent as they
    are (`store.fieldtypes`' Date converter).
    """
    convert = fieldtypes.rules_for("Date").convert

    def send(value: object) -> object:
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value.astimezone(zone).replace(tzinfo=None, microsecond=0).isoformat()
        if value.__class__ is str:
            local = _date_in_zone(value, zone)  # type: ignore[arg-type]
            if local is not None:
                return local
        return convert(value)

    return send
