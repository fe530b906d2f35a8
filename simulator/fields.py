"""A Data Extension field as the simulator holds it, and the per-type limits of §4.2.

The simulator is the test oracle for the product's SFMC client, so it keeps its own field type
instead of sharing the product's: both are written from `shared/reference/sfmc-api.md` and a
differential test (`tests/test_rules_agree.py`) checks that they judge values alike. Any object
with the same attributes (the product's field dataclass in tests, for example) works too.
"""

from __future__ import annotations

from dataclasses import dataclass

# `DataExtensionFieldType` (§4.2); the Base16Encrypted types of newer WSDLs are not simulated.
FIELD_TYPES = ("Text", "Number", "Decimal", "Date", "Boolean", "EmailAddress", "Phone", "Locale")

# §4.2: MaxLength when omitted (Text 50 [I] over SOAP; Email 254 [C]; Phone 50 and Locale 5 [I])
# and the largest MaxLength a field may declare (Text 4000 [C]).
DEFAULT_LENGTH = {"Text": 50, "EmailAddress": 254, "Phone": 50, "Locale": 5}
LENGTH_LIMIT = {"Text": 4000, "EmailAddress": 254, "Phone": 50, "Locale": 5}
DEFAULT_PRECISION = 18  # Decimal precision when neither Precision nor MaxLength is given [I]
MAX_PRECISION = 29  # total digits of a Decimal at most [C: DOC-SSJS]


@dataclass(frozen=True)
class SimField:
    """One field of a simulated Data Extension (the SOAP `DataExtensionField` properties)."""

    name: str
    field_type: str = "Text"
    max_length: int | None = None
    precision: int | None = None
    scale: int | None = None
    is_primary_key: bool = False
    is_required: bool = False
    default_value: str | None = None


def max_length(field: SimField) -> int | None:
    """The MaxLength a field enforces (its own or its type's default); None for untyped lengths."""
    default = DEFAULT_LENGTH.get(field.field_type)
    if default is None:
        return None
    return field.max_length or default


def decimal_shape(field: SimField) -> tuple[int, int]:
    """(precision, scale) of a Decimal field: SFMC takes the precision as Precision or MaxLength."""
    return field.precision or field.max_length or DEFAULT_PRECISION, field.scale or 0


def needs_value(field: SimField) -> bool:
    """A blank value is refused: primary keys always, required fields without a DefaultValue."""
    return field.is_primary_key or (field.is_required and field.default_value is None)
