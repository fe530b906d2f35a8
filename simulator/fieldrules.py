"""SFMC's value rules: whether a value fits a Data Extension field, and the string SFMC stores.

Written from `shared/reference/sfmc-api.md`: §3a (null and "" both mean "no value"; the rowset
error texts), §3b (null-value code 70001), §4.2 (types, lengths, accepted input) and §4.6. Where
the reference is silent ([I] or [?] there) the choice here is the one the product's preflight
makes, so the two can only disagree where one of them misreads the reference;
`tests/test_rules_agree.py` compares them value by value.

A field's rule is one compiled function (`converter`): it returns the stored string (None for no
value) or raises `Invalid` with SFMC's error type and message. It is the row path's fast path
and the only statement of each rule; `check_value` and `canonical` ask it their one question.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal
from functools import lru_cache

from simulator.fields import SimField, decimal_shape, max_length, needs_value
from simulator.scalars import (
    INT_MAX,
    INT_MIN,
    as_text,
    decimal_of,
    email_ok,
    format_date,
    integer_of,
    integer_text,
    locale_ok,
    parse_date,
    phone_ok,
)

# 70001 and 70002 are SFMC's custom-object codes [C: DOC-SOAP-CODES]; the other numbers are the
# simulator's own [I], one per validationErrorType so every refusal carries a code.
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

# §3a: texts [C] for length, email and phone; the others follow their pattern [I].
_OF_COLUMN = "The value for column [{}] "
MESSAGES: dict[str, str] = {
    "NullValue": "Column [{}] does not allow null value.",
    "MaxLengthExceeded": _OF_COLUMN + "exceeds the column's maximum length.",
    "InvalidEmailAddress": _OF_COLUMN
    + "is not a valid email address. Parse error [InvalidEmailAddress]",
    "InvalidPhone": _OF_COLUMN
    + "is not a valid phone number. Parse error [ExactTarget.Core.Validation.ValidationResult[]]",
    "InvalidNumber": _OF_COLUMN + "is not a valid number.",
    "InvalidDecimal": _OF_COLUMN + "is not a valid decimal.",
    "InvalidDate": _OF_COLUMN + "is not a valid date.",
    "InvalidBoolean": _OF_COLUMN + "is not a valid boolean.",
    "UnexpectedError": _OF_COLUMN + "is not a valid value.",
}
LOCALE_MESSAGE = _OF_COLUMN + "is not a valid locale."  # [I]; reported as UnexpectedError

TRUE_WORDS = frozenset({"true", "1", "yes", "y"})  # true/1 [I]; yes/y [?], accepted
FALSE_WORDS = frozenset({"false", "0", "no", "n"})
MEMO_SIZE = 4096  # distinct Date/Decimal texts remembered per field (columns repeat values)

Convert = Callable[[object], str | None]


class Invalid(ValueError):
    """SFMC refuses a value: `error_type` is the validationErrorType, `message` its text."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def _refusal(error_type: str, name: str, template: str | None = None) -> tuple[str, str]:
    """(error type, message) for one field, composed once when its rule is compiled."""
    return error_type, (template or MESSAGES[error_type]).format(name)


@dataclass(frozen=True)
class Violation:
    """Why one value does not fit one field, in SFMC's words.

    Attributes:
        field: the field name as defined on the DE.
        code: SFMC-style numeric code (see `ERROR_TYPES`).
        error_type: the validationErrorType name, e.g. "MaxLengthExceeded".
        message: SFMC's message without the "{field}: " prefix the hub rowset API adds.
    """

    field: str
    code: int
    error_type: str
    message: str

    @property
    def rowset_message(self) -> str:
        """The message as the hub rowset API shows it in `additionalErrors` ("{col}: ...")."""
        return f"{self.field}: {self.message}"


# ---------------------------------------------------------------- one compiled rule per field


def _blank_rule(field: SimField) -> Callable[[], None]:
    null = _refusal("NullValue", field.name) if needs_value(field) else None

    def blank() -> None:
        if null is not None:
            raise Invalid(*null)

    return blank


def _text_rule(field: SimField) -> Convert:
    """Text, EmailAddress, Phone, Locale (and any unknown type: text without a limit)."""
    name, limit, blank = field.name, max_length(field), _blank_rule(field)
    not_text = _refusal("UnexpectedError", name)
    too_long = _refusal("MaxLengthExceeded", name)
    ok, mismatch = {
        "EmailAddress": (email_ok, _refusal("InvalidEmailAddress", name)),
        "Phone": (phone_ok, _refusal("InvalidPhone", name)),
        "Locale": (locale_ok, _refusal("UnexpectedError", name, LOCALE_MESSAGE)),
    }.get(field.field_type, (None, not_text))

    def slow(value: object) -> str | None:
        if value is None or value == "":
            return blank()
        text = as_text(value)
        if text is None:
            raise Invalid(*not_text)
        if limit is not None and len(text) > limit:
            raise Invalid(*too_long)
        if ok is not None and not ok(text):
            raise Invalid(*mismatch)
        return text

    if limit is None:
        return slow
    if ok is None:

        def text(value: object) -> str | None:
            if value.__class__ is str and value and len(value) <= limit:  # type: ignore[arg-type]
                return value  # type: ignore[return-value]
            return slow(value)

        return text

    def patterned(value: object) -> str | None:
        if value.__class__ is str and len(value) <= limit and ok(value):  # type: ignore[arg-type]
            return value  # type: ignore[return-value]
        return slow(value)

    return patterned


def _number_rule(field: SimField) -> Convert:
    blank, refused = _blank_rule(field), _refusal("InvalidNumber", field.name)

    def number(value: object) -> str | None:
        cls = value.__class__
        if cls is int:
            whole: int | None = value  # type: ignore[assignment]
        elif cls is str and value:
            text = value.strip()  # type: ignore[attr-defined]
            whole = int(text) if len(text) < 20 and integer_text(text) else integer_of(text)
        elif value is None or value == "":
            return blank()
        else:
            whole = integer_of(value)
        if whole is None or not INT_MIN <= whole <= INT_MAX:
            raise Invalid(*refused)
        return str(whole)

    return number


def _decimal_rule(field: SimField) -> Convert:
    """Decimal(precision, scale): at most precision-scale digits before the point.

    Accepted values are rounded to `scale` places, half away from zero as SQL Server does [I].
    """
    precision, scale = decimal_shape(field)
    before = precision - scale
    not_decimal = _refusal("InvalidDecimal", field.name)
    too_long = _refusal(
        "InvalidDecimal",
        field.name,
        _OF_COLUMN
        + f"is not a valid decimal. It allows at most {before} digits before the decimal point.",
    )
    places = Decimal(1).scaleb(-scale)
    room = Context(prec=max(precision, 1) + 2)  # a rounding carry never overflows the context

    def read(value: object) -> str:
        number = decimal_of(value)
        if number is None:
            raise Invalid(*not_decimal)
        if (number.adjusted() + 1 if abs(number) >= 1 else 0) > before:
            raise Invalid(*too_long)
        return str(number.quantize(places, rounding=ROUND_HALF_UP, context=room))

    return _memoised(read, _blank_rule(field))


def _date_rule(field: SimField, offset_h: int = 0) -> Convert:
    refused = _refusal("InvalidDate", field.name)

    def read(value: object) -> str:
        moment = parse_date(value, offset_h)
        if moment is None:
            raise Invalid(*refused)
        return format_date(moment)

    return _memoised(read, _blank_rule(field))


def _memoised(read: Callable[[object], str], blank: Callable[[], None]) -> Convert:
    """`read` with a bounded per-field memory of the texts it accepted (columns repeat values)."""
    memo: dict[str, str] = {}

    def convert(value: object) -> str | None:
        if value.__class__ is str and value:
            stored = memo.get(value)  # type: ignore[call-overload]
            if stored is None:
                stored = read(value)
                if len(memo) >= MEMO_SIZE:
                    memo.clear()
                memo[value] = stored  # type: ignore[index]
            return stored
        if value is None or value == "":
            return blank()
        return read(value)

    return convert


def _boolean_rule(field: SimField) -> Convert:
    blank, refused = _blank_rule(field), _refusal("InvalidBoolean", field.name)
    words = {**dict.fromkeys(TRUE_WORDS, "True"), **dict.fromkeys(FALSE_WORDS, "False")}

    def flag(value: object) -> str | None:
        if value is True or value is False:
            return "True" if value else "False"
        if isinstance(value, str):
            stored = words.get(value.strip().lower())
            if stored is not None:
                return stored
            if value == "":
                return blank()
        elif value is None:
            return blank()
        elif isinstance(value, int) and value in (0, 1):
            return "True" if value else "False"
        raise Invalid(*refused)

    return flag


_RULES: dict[str, Callable[[SimField], Convert]] = {
    "Number": _number_rule,
    "Decimal": _decimal_rule,
    "Boolean": _boolean_rule,
}


def converter(field: SimField, date_offset_h: int = 0) -> Convert:
    """The field's rule as one function: value -> stored string (None: no value).

    `date_offset_h`: the hours from UTC that dates with a zone are stored in (0 = UTC, -6 = the
    realistic profile's CST); zone-less dates are stored as given either way.

    Raises:
        Invalid: SFMC refuses the value (error type and message as SFMC reports them).
    """
    if field.field_type == "Date":
        return _date_rule(field, date_offset_h)
    return _RULES.get(field.field_type, _text_rule)(field)


_rule = lru_cache(maxsize=256)(converter)  # for the one-off questions below


def check_value(field: SimField, value: object) -> Violation | None:
    """SFMC's verdict on one value for one field: None when it saves it, else why not.

    Null and "" are "no value": refused only for primary keys and required fields without a
    DefaultValue [I, §3a].
    """
    try:
        _rule(field)(value)
    except Invalid as refused:
        code = CODES[refused.error_type]
        return Violation(field.name, code, refused.error_type, refused.message)
    return None


def canonical(field: SimField, value: object) -> str | None:
    """The string SFMC stores and reads back for an accepted value (None for no value).

    Booleans become "True"/"False", numbers lose "+" and leading zeros, decimals are rounded to
    the field's scale, dates read "M/D/YYYY h:mm:ss AM".

    Raises:
        ValueError: the value does not fit the field; call `check_value` first.
    """
    if value is None or value == "":
        return None
    try:
        return _rule(field)(value)
    except Invalid as refused:
        msg = (
            f"Value {value!r} does not fit field {field.name!r} ({field.field_type}); "
            "run check_value first."
        )
        raise ValueError(msg) from refused


def key_part(field: SimField, value: object) -> str:
    """One primary-key component as rows are matched: letter case ignored (SQL collation) [I]."""
    stored = canonical(field, value)
    return "" if stored is None else stored.casefold()
