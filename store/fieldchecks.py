"""The per-type pieces of SFMC's value rules: checks, fast tests and stored forms.

`store.fieldtypes` assembles them into its table (one entry per field type); this module holds
their code, judged against a `FieldShape` (a field whose limits the SFMC client's schema rules
have resolved). The fast tests exist for the per-row path of a push: built once per field, each
is specialised for its type and limits, and only ever says "surely valid" (False means: run the
full check, which alone decides).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal

from store.fieldconvert import convert_boolean
from store.fieldvalues import (
    DECIMAL_TEXT,
    INT32_MAX,
    INT32_MIN,
    INTEGER_RE,
    as_text,
    date_text_ok,
    format_date,
    parse_bool,
    parse_date,
    parse_decimal,
    parse_int,
)


@dataclass(frozen=True)
class FieldShape:
    """One Data Extension field as the value rules see it, its limits already resolved.

    Attributes:
        name: the field name as defined on the DE.
        field_type: the SFMC field type (a key of `TYPES`; others are judged as unbounded text).
        limit: effective MaxLength of a text-like field (None: unbounded).
        precision: total digits of a Decimal field.
        scale: digits after the decimal point of a Decimal field.
        needs_value: null and "" are refused (a primary key, or required without a default).
    """

    name: str
    field_type: str
    limit: int | None
    precision: int
    scale: int
    needs_value: bool


@dataclass(frozen=True)
class Violation:
    """Why one value does not fit one field, in SFMC's words.

    Attributes:
        field: the field name as defined on the DE.
        error_type: the validationErrorType name, e.g. "MaxLengthExceeded".
        message: SFMC's message without the "{field}: " prefix the hub rowset API adds.
    """

    field: str
    error_type: str
    message: str

    @property
    def rowset_message(self) -> str:
        """The message as the hub rowset API shows it in `additionalErrors` ("{col}: ...")."""
        return f"{self.field}: {self.message}"


Check = Callable[[FieldShape, object], Violation | None]
Sure = Callable[[object], bool]


def _invalid(shape: FieldShape, error_type: str, what: str) -> Violation:
    return Violation(
        shape.name, error_type, f"The value for column [{shape.name}] is not a valid {what}"
    )


# --- check: what SFMC refuses -------------------------------------------------------------------


def check_number(shape: FieldShape, value: object) -> Violation | None:
    number = parse_int(value)
    if number is None or not INT32_MIN <= number <= INT32_MAX:
        return _invalid(shape, "InvalidNumber", "number.")
    return None


def check_decimal(shape: FieldShape, value: object) -> Violation | None:
    dec = parse_decimal(value)
    if dec is None:
        return _invalid(shape, "InvalidDecimal", "decimal.")
    allowed = shape.precision - shape.scale
    int_digits = len(str(abs(int(dec)))) if abs(dec) >= 1 else 0
    if int_digits > allowed:
        return _invalid(
            shape,
            "InvalidDecimal",
            f"decimal. It allows at most {allowed} digits before the decimal point.",
        )
    return None


def check_date(shape: FieldShape, value: object) -> Violation | None:
    if parse_date(value) is None:
        return _invalid(shape, "InvalidDate", "date.")
    return None


def check_boolean(shape: FieldShape, value: object) -> Violation | None:
    if parse_bool(value) is None:
        return _invalid(shape, "InvalidBoolean", "boolean.")
    return None


def text_check(fits: Callable[[str], object] | None, error_type: str, what: str) -> Check:
    """The check of a text-like type: some text, at most MaxLength, then the type's own syntax."""

    def check(shape: FieldShape, value: object) -> Violation | None:
        text = as_text(value)
        if text is None:
            return _invalid(shape, "UnexpectedError", "value.")
        if shape.limit is not None and len(text) > shape.limit:
            return Violation(
                shape.name,
                "MaxLengthExceeded",
                f"The value for column [{shape.name}] exceeds the column's maximum length.",
            )
        if fits is not None and not fits(text):
            return _invalid(shape, error_type, what)
        return None

    return check


# --- sure: the per-row fast path (never accepts what `check` refuses) --------------------------

_SHORT_INT = 9  # at most 9 characters: surely inside the 32-bit Number range


def sure_text(shape: FieldShape) -> Sure:
    limit = shape.limit if shape.limit is not None else sys.maxsize
    if shape.needs_value:
        return lambda v: v.__class__ is str and 0 < len(v) <= limit  # type: ignore[arg-type,operator]
    return lambda v: v.__class__ is str and len(v) <= limit  # type: ignore[arg-type,operator]


def sure_matching(fits: Callable[[str], object]) -> Callable[[FieldShape], Sure]:
    """A fast test for a patterned text type (email, phone, locale): length, then syntax."""

    def build(shape: FieldShape) -> Sure:
        limit = shape.limit if shape.limit is not None else sys.maxsize
        blank_ok = not shape.needs_value

        def sure(v: object) -> bool:
            if v.__class__ is not str:
                return False
            if v == "":
                return blank_ok
            return len(v) <= limit and bool(fits(v))  # type: ignore[arg-type,operator]

        return sure

    return build


def sure_number(shape: FieldShape) -> Sure:
    whole = INTEGER_RE.fullmatch
    blank_ok = not shape.needs_value

    def sure(v: object) -> bool:
        if v.__class__ is not str:
            return False
        if v == "":
            return blank_ok
        if len(v) > _SHORT_INT:  # type: ignore[arg-type]
            return False
        return (v.isascii() and v.isdigit()) or whole(v) is not None  # type: ignore[attr-defined,arg-type]

    return sure


def sure_decimal(shape: FieldShape) -> Sure:
    # SFMC's decimal syntax with at most precision - scale integer digits after leading zeros.
    allowed = shape.precision - shape.scale
    digits = f"[0-9]{{1,{allowed}}}" if allowed > 0 else ""
    fits = re.compile(rf"(?={DECIMAL_TEXT}\Z)[+-]?0*(?:{digits})?(?:\.[0-9]*)?").fullmatch
    blank_ok = not shape.needs_value

    def sure(v: object) -> bool:
        if v.__class__ is not str:
            return False
        if v == "":
            return blank_ok
        return fits(v) is not None  # type: ignore[arg-type]

    return sure


def sure_date(shape: FieldShape) -> Sure:
    blank_ok = not shape.needs_value

    def sure(v: object) -> bool:
        # For a text, `check` is exactly `parse_date`; real columns repeat their dates, so the
        # verdict per text is remembered (`date_text_ok`).
        if v.__class__ is not str:
            return False
        if v == "":
            return blank_ok
        return date_text_ok(v)  # type: ignore[arg-type]

    return sure


def sure_boolean(shape: FieldShape) -> Sure:
    # The flags exactly as the push sends them (`convert_boolean`): SFMC reads both.
    sent = {convert_boolean(True), convert_boolean(False)}
    if not shape.needs_value:
        sent.add("")
    return lambda v: v.__class__ is str and v in sent


# Wide enough for SFMC's largest Decimal (precision 38): the default 28 digits overflow.
_WIDE = Context(prec=80)

# --- canonical: what SFMC stores -----------------------------------------------------------------


def canonical_number(_shape: FieldShape, value: object) -> str | None:
    number = parse_int(value)
    return None if number is None else str(number)


def canonical_decimal(shape: FieldShape, value: object) -> str | None:
    dec = parse_decimal(value)
    if dec is None:
        return None
    # SQL Server rounds half away from zero.
    return str(dec.quantize(Decimal(1).scaleb(-shape.scale), ROUND_HALF_UP, _WIDE))


def canonical_date(_shape: FieldShape, value: object) -> str | None:
    parsed = parse_date(value)
    return None if parsed is None else format_date(parsed)


def canonical_boolean(_shape: FieldShape, value: object) -> str | None:
    flag = parse_bool(value)
    return None if flag is None else ("True" if flag else "False")


def canonical_text(_shape: FieldShape, value: object) -> str | None:
    return as_text(value)
