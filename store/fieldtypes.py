"""SFMC's value rules: one table, one entry per Data Extension field type.

Each `FieldType` entry says, for its type: how to check a value the way SFMC does when it saves a
row (`check`, with SFMC's error type and message), a fast "surely valid" test for the per-row path
(`sure`), how to convert a source value into what the push sends (`convert`), the text SFMC
stores and reads back (`canonical`), and how the importer recognises a column of that type
(`column_type`, `cell_pattern`). The preflight, the push's conversion and the importer all read
this table, so a rule changes in one place. The entries' code is in `store.fieldchecks` (checks,
fast tests, stored forms), `store.fieldconvert` (what the push sends) and `store.fieldvalues`
(the true/false words, the number syntaxes and the parsers they share).

Why it lives in `store/`: the layers allow `store/` to import only `store/`, and the SFMC client
(`sfmc/`) to import neither `store/` nor the engine (`sync/`). The importer (`store.inference`)
needs the true/false words and cell patterns, so the table must sit in `store/`, importing only the
standard library; the engine imports it from here (its door is `sync.values`). The client keeps
only what it needs itself: the error codes and the Data Extension schema rules (`sfmc.fieldrules`:
field lengths, precision and the create/change rules), which resolve a field's limits into the
`FieldShape` this table judges values against.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from store.fieldchecks import (
    Check,
    FieldShape,
    Sure,
    Violation,
    canonical_boolean,
    canonical_date,
    canonical_decimal,
    canonical_number,
    canonical_text,
    check_boolean,
    check_date,
    check_decimal,
    check_number,
    sure_boolean,
    sure_date,
    sure_decimal,
    sure_matching,
    sure_number,
    sure_text,
    text_check,
)
from store.fieldconvert import (
    convert_boolean,
    convert_date,
    convert_decimal,
    convert_email,
    convert_number,
    convert_text,
)
from store.fieldvalues import BOOLEAN_WORDS, EMAIL_RE, LOCALE_RE, is_blank, phone_ok


@dataclass(frozen=True)
class FieldType:
    """The rules of one SFMC field type.

    Attributes:
        name: the SFMC field type.
        check: judges a non-blank value (`check` below handles null and "" for every type).
        sure: builds, once per field, a fast test that returns True only for values `check`
            accepts (False means "run `check`"); None when the type has no fast test.
        convert: source value -> what the push sends (a value it cannot convert is returned
            as is, so that the check reports it).
        canonical: a value `check` accepts -> the text SFMC stores (None: it does not fit).
        column_type: the importer's column type that suggests this field type.
        cell_pattern: the importer's regular expression for one cell of that column type.
    """

    name: str
    check: Check
    sure: Callable[[FieldShape], Sure] | None
    convert: Callable[[object], object]
    canonical: Callable[[FieldShape, object], str | None]
    column_type: str | None = None
    cell_pattern: str | None = None


# --- the table -----------------------------------------------------------------------------------


_TEXT_CHECK = text_check(None, "", "")
_EMAIL_CHECK = text_check(
    EMAIL_RE.match, "InvalidEmailAddress", "email address. Parse error [InvalidEmailAddress]"
)
_PHONE_CHECK = text_check(
    phone_ok,
    "InvalidPhone",
    "phone number. Parse error [ExactTarget.Core.Validation.ValidationResult[]]",
)
_BOOLEAN_CELL = "(?i:" + "|".join(w for w in BOOLEAN_WORDS if not w.isdigit()) + ")"
_EMAIL_CELL = (
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}"
)

TYPES: Mapping[str, FieldType] = {
    t.name: t
    for t in (
        FieldType("Text", _TEXT_CHECK, sure_text, convert_text, canonical_text, "text"),
        FieldType(
            "Number",
            check_number,
            sure_number,
            convert_number,
            canonical_number,
            "integer",
            r"-?(?:0|[1-9]\d{0,17})",
        ),
        # The importer's decimal cell is stricter than SFMC's syntax (`DECIMAL_TEXT`: no sign, no
        # leading zeros, a fraction), so that zip codes and long ids stay text or integer columns.
        FieldType(
            "Decimal",
            check_decimal,
            sure_decimal,
            convert_decimal,
            canonical_decimal,
            "decimal",
            r"-?(?:0|[1-9]\d*)?\.\d+",
        ),
        # The importer reads dates in many more shapes (day-first, month names): `store.inference`.
        FieldType("Date", check_date, sure_date, convert_date, canonical_date, "date"),
        FieldType(
            "Boolean",
            check_boolean,
            sure_boolean,
            convert_boolean,
            canonical_boolean,
            "boolean",
            _BOOLEAN_CELL,
        ),
        FieldType(
            "EmailAddress",
            _EMAIL_CHECK,
            sure_matching(EMAIL_RE.match),
            convert_email,
            canonical_text,
            "email",
            _EMAIL_CELL,
        ),
        FieldType(
            "Phone",
            _PHONE_CHECK,
            sure_matching(phone_ok),
            convert_text,
            canonical_text,
            "phone",
            r"\+?\(?\d[\d\s().-]{5,22}\d",
        ),
        FieldType(
            "Locale",
            text_check(LOCALE_RE.match, "UnexpectedError", "locale."),
            sure_matching(LOCALE_RE.match),
            convert_text,
            canonical_text,
        ),
    )
}
# A type SFMC may add later is judged as unbounded text, never sure: every value gets `check`.
_OTHER = FieldType("", _TEXT_CHECK, None, convert_text, canonical_text)


def rules_for(field_type: str) -> FieldType:
    """The table entry of a field type (unknown types: text rules, no fast path)."""
    return TYPES.get(field_type, _OTHER)


def sure_check(shape: FieldShape) -> Sure | None:
    """The fast "surely valid" test of one field, built once per run (None: always `check`)."""
    build = rules_for(shape.field_type).sure
    return None if build is None else build(shape)


def check(shape: FieldShape, value: object) -> Violation | None:
    """Check one value against one field like SFMC does when it saves a row.

    Args:
        shape: the field, its limits resolved.
        value: the value as it would be sent (JSON scalar or string).

    Returns:
        None when SFMC accepts the value, otherwise the `Violation` it reports. Null and "" are
        accepted unless the field needs a value.
    """
    if is_blank(value):
        if shape.needs_value:
            return Violation(
                shape.name, "NullValue", f"Column [{shape.name}] does not allow null value."
            )
        return None
    return rules_for(shape.field_type).check(shape, value)


def canonical(shape: FieldShape, value: object) -> str | None:
    """The string SFMC stores (and reads back) for a value that passed `check`.

    Booleans become "True"/"False", numbers lose leading zeros and "+", decimals are rounded to the
    field's scale (SQL Server rounds half away from zero), dates become "M/D/YYYY h:mm:ss AM".

    Raises:
        ValueError: the value does not fit the field; call `check` first.
    """
    if is_blank(value):
        return None
    result = rules_for(shape.field_type).canonical(shape, value)
    if result is None:
        msg = (
            f"Value {value!r} does not fit field {shape.name!r} ({shape.field_type}); "
            "run check_value first."
        )
        raise ValueError(msg)
    return result
