"""SFMC's Data Extension field rules, shared by the simulator and the engine's preflight.

One module decides whether a value fits a field and what SFMC would store for it, so that a row the
preflight accepts is a row the simulator (standing in for SFMC) accepts, with the same error texts.
Sources are `shared/reference/sfmc-api.md` §3, §4.2-§4.6. Where SFMC's behaviour is unknown the
choice made here is marked [I] (inferred) and is deliberately on the strict side.

Error codes: 70001 (null value) and 70002 (max length) are SFMC's custom-object codes [C]; the
remaining 700xx numbers are this project's own assignments [I] so that every `error_type` has a code.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

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
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
MAX_FIELD_NAME = 128  # [I]: SQL Server identifier length
MIN_DATE, MAX_DATE = date(1753, 1, 1), date(9999, 12, 31)  # SQL Server datetime range [I]

_EMAIL_RE = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
_PHONE_CHARS_RE = re.compile(r"^\+?[0-9 ().\-/]+(?:\s*(?:x|ext\.?)\s*[0-9]{1,6})?$", re.I)
_INT_RE = re.compile(r"^[+-]?[0-9]+$")
_DECIMAL_RE = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$")
_LOCALE_RE = re.compile(r"^[A-Za-z]{2}(?:-[A-Za-z]{2})?$")
_DROP_DIGITS = str.maketrans("", "", "0123456789")
_TRUE = {"true", "1", "yes", "y"}  # [I]: true/false and 1/0 are documented-ish, yes/no/y/n lenient
_FALSE = {"false", "0", "no", "n"}
_ISO_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}")
# The common US shapes, ASCII only, with exactly the ranges strptime's %m %d %Y %H %M %S accept:
# a match is what the first matching `_US_DATE_FORMATS` entry would give; anything else (12-hour
# clock, single-digit minutes, several spaces...) goes through strptime as before.
_US_DATE_FAST_RE = re.compile(
    r"(1[0-2]|0?[1-9])/(3[01]|[12][0-9]|0?[1-9])/([0-9]{4})"
    r"(?: (2[0-3]|[01]?[0-9]):([0-5][0-9])(?::([0-5][0-9]))?)?"
)
_US_DATE_FORMATS = (
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y",
)


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


def _violation(field: DeField, error_type: str, message: str) -> Violation:
    return Violation(field.name, CODES[error_type], error_type, message)


def max_length(field: DeField) -> int | None:
    """The effective MaxLength of a field (Text defaults to 50), None for unbounded types."""
    if field.field_type in DEFAULT_MAX_LENGTH:
        return field.max_length or DEFAULT_MAX_LENGTH[field.field_type]
    return None


def decimal_shape(field: DeField) -> tuple[int, int]:
    """(precision, scale) of a Decimal field; SOAP may carry precision as MaxLength."""
    precision = field.precision or field.max_length or DEFAULT_PRECISION
    return precision, field.scale or 0


def is_blank(value: object) -> bool:
    """SFMC treats null and "" alike: "no value" [I, §3a Nulls]."""
    return value is None or (isinstance(value, str) and value == "")


def _as_text(value: object) -> str | None:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return repr(value) if not value.is_integer() else str(int(value))
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return None


def _parse_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str) and _INT_RE.match(value.strip()):
        return int(value.strip())
    return None


def _parse_decimal(value: object) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, str) and _DECIMAL_RE.match(value.strip()):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    return None


def parse_date(value: object) -> datetime | None:
    """Parse what SFMC accepts for a Date: ISO 8601 or US `MM/DD/YYYY[ HH:MM[:SS]]` (§4.2)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        parsed = _parse_date_text(text)
        if parsed is None:
            return None
    else:
        return None
    if parsed.tzinfo is not None:
        # [I] SFMC converts to server time; we keep UTC so results are deterministic.
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    if not MIN_DATE <= parsed.date() <= MAX_DATE:
        return None
    return parsed


def _parse_date_text(text: str) -> datetime | None:
    fast = _US_DATE_FAST_RE.fullmatch(text)
    if fast is not None:
        hour, minute, second = int(fast[4] or 0), int(fast[5] or 0), int(fast[6] or 0)
        try:
            return datetime(int(fast[3]), int(fast[1]), int(fast[2]), hour, minute, second)  # noqa: DTZ001
        except ValueError:
            pass  # e.g. 2/30/2024: strptime below comes to the same verdict
    if _ISO_DATE_RE.match(text):
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            return None
    for fmt in _US_DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt)  # noqa: DTZ007 - SFMC dates are zone-less
        except ValueError:
            continue
    return None


def _parse_bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        low = value.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
    return None


def _phone_ok(text: str) -> bool:
    if not _PHONE_CHARS_RE.match(text.strip()):
        return False
    head = text.split("x")[0].split("X")[0]
    # The pattern admits ASCII digits only, so counting 0-9 is counting str.isdigit characters.
    digits = len(head) - len(head.translate(_DROP_DIGITS))
    return 7 <= digits <= 15


def check_value(field: DeField, value: object) -> Violation | None:
    """Check one value against one field like SFMC does when it saves a row.

    Args:
        field: the DE field.
        value: the value as it would be sent (JSON scalar or string).

    Returns:
        None when SFMC accepts the value, otherwise the `Violation` it reports. Null and "" are
        accepted unless the field is required or a primary key (and has no default value).
    """
    name = field.name
    if is_blank(value):
        if field.is_primary_key or (field.is_required and field.default_value is None):
            return _violation(field, "NullValue", f"Column [{name}] does not allow null value.")
        return None
    ftype = field.field_type
    if ftype == "Number":
        number = _parse_int(value)
        if number is None or not INT32_MIN <= number <= INT32_MAX:
            return _violation(
                field, "InvalidNumber", f"The value for column [{name}] is not a valid number."
            )
        return None
    if ftype == "Decimal":
        dec = _parse_decimal(value)
        precision, scale = decimal_shape(field)
        if dec is None:
            return _violation(
                field, "InvalidDecimal", f"The value for column [{name}] is not a valid decimal."
            )
        int_digits = len(str(abs(int(dec)))) if abs(dec) >= 1 else 0
        if int_digits > precision - scale:
            return _violation(
                field,
                "InvalidDecimal",
                f"The value for column [{name}] is not a valid decimal. It allows at most "
                f"{precision - scale} digits before the decimal point.",
            )
        return None
    if ftype == "Date":
        if parse_date(value) is None:
            return _violation(
                field, "InvalidDate", f"The value for column [{name}] is not a valid date."
            )
        return None
    if ftype == "Boolean":
        if _parse_bool(value) is None:
            return _violation(
                field, "InvalidBoolean", f"The value for column [{name}] is not a valid boolean."
            )
        return None
    text = _as_text(value)
    if text is None:
        return _violation(
            field, "UnexpectedError", f"The value for column [{name}] is not a valid value."
        )
    limit = max_length(field)
    if limit is not None and len(text) > limit:
        return _violation(
            field,
            "MaxLengthExceeded",
            f"The value for column [{name}] exceeds the column's maximum length.",
        )
    if ftype == "EmailAddress" and not _EMAIL_RE.match(text):
        return _violation(
            field,
            "InvalidEmailAddress",
            f"The value for column [{name}] is not a valid email address. "
            "Parse error [InvalidEmailAddress]",
        )
    if ftype == "Phone" and not _phone_ok(text):
        return _violation(
            field,
            "InvalidPhone",
            f"The value for column [{name}] is not a valid phone number. "
            "Parse error [ExactTarget.Core.Validation.ValidationResult[]]",
        )
    if ftype == "Locale" and not _LOCALE_RE.match(text):
        return _violation(
            field, "UnexpectedError", f"The value for column [{name}] is not a valid locale."
        )
    return None


def format_date(value: datetime) -> str:
    """SFMC's US display form of a stored date, e.g. "5/23/2013 2:32:00 PM" [I]."""
    hour12 = value.hour % 12 or 12
    ampm = "AM" if value.hour < 12 else "PM"
    return f"{value.month}/{value.day}/{value.year} {hour12}:{value.minute:02d}:{value.second:02d} {ampm}"


def canonical(field: DeField, value: object) -> str | None:
    """The string SFMC stores (and reads back) for a value that passed `check_value`.

    Booleans become "True"/"False", numbers lose leading zeros and "+", decimals are rounded to the
    field's scale (SQL Server rounds half away from zero), dates become "M/D/YYYY h:mm:ss AM".

    Raises:
        ValueError: the value does not fit the field; call `check_value` first.
    """
    if is_blank(value):
        return None
    ftype = field.field_type
    result: str | None
    if ftype == "Number":
        number = _parse_int(value)
        result = None if number is None else str(number)
    elif ftype == "Decimal":
        dec = _parse_decimal(value)
        _, scale = decimal_shape(field)
        quantum = Decimal(1).scaleb(-scale)
        result = None if dec is None else str(dec.quantize(quantum, rounding=ROUND_HALF_UP))
    elif ftype == "Date":
        parsed = parse_date(value)
        result = None if parsed is None else format_date(parsed)
    elif ftype == "Boolean":
        flag = _parse_bool(value)
        result = None if flag is None else ("True" if flag else "False")
    else:
        result = _as_text(value)
    if result is None:
        msg = f"Value {value!r} does not fit field {field.name!r} ({ftype}); run check_value first."
        raise ValueError(msg)
    return result


class NeedsCheck(ValueError):
    """A `converter` met a value it does not take as is; `check_value` says why (or accepts it)."""


def converter(field: DeField) -> Callable[[object], str | None]:
    """A fast `value -> canonical(field, value)` for values that pass `check_value(field, value)`.

    Hot loops (the simulator's row path) call this once per field per row, so the common cases
    (str, int, bool) are handled by a closure with precomputed limits and compiled patterns, and
    Date/Decimal results are memoised per text (real columns repeat their dates and amounts).
    Anything else, valid or not, raises `NeedsCheck`: the caller then runs `check_value` and
    `canonical`, which stay the single source of SFMC's messages. Blank values give None unless
    the field needs a value (`check_value` reports NullValue then).

    Raises:
        NeedsCheck: the value is invalid or unusual; use `check_value`/`canonical` instead.
    """
    ftype = field.field_type
    blank_ok = not (field.is_primary_key or (field.is_required and field.default_value is None))

    def slow(value: object) -> str | None:
        if blank_ok and (value is None or value == ""):
            return None
        if check_value(field, value) is not None:
            raise NeedsCheck(field.name)
        return canonical(field, value)

    limit = max_length(field)
    if ftype == "Text":

        def text(value: object) -> str | None:
            if value.__class__ is str and value and len(value) <= limit:  # type: ignore[arg-type,operator]
                return value  # type: ignore[return-value]
            return slow(value)

        return text
    if ftype in ("EmailAddress", "Locale", "Phone"):
        match = (_EMAIL_RE if ftype == "EmailAddress" else _LOCALE_RE).match
        if ftype == "Phone":
            match = _phone_ok  # type: ignore[assignment]

        def patterned(value: object) -> str | None:
            if value.__class__ is str and len(value) <= limit and match(value):  # type: ignore[arg-type,operator]
                return value  # type: ignore[return-value]
            return slow(value)

        return patterned
    if ftype == "Number":
        int_match = re.compile(r"[+-]?[0-9]+").fullmatch

        def number(value: object) -> str | None:
            cls = value.__class__
            if cls is int:
                if INT32_MIN <= value <= INT32_MAX:  # type: ignore[operator]
                    return str(value)
            elif cls is str and value:
                stripped = value.strip()  # type: ignore[attr-defined]
                if int_match(stripped):
                    parsed = int(stripped)
                    if INT32_MIN <= parsed <= INT32_MAX:
                        return str(parsed)
            return slow(value)

        return number
    if ftype == "Decimal" and decimal_shape(field)[0] >= decimal_shape(field)[1]:
        precision, scale = decimal_shape(field)
        bound = Decimal(10) ** (precision - scale)
        quantum = Decimal(1).scaleb(-scale)
        dec_match = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)").fullmatch

        def parse(text: str) -> str | None:
            stripped = text.strip()
            if dec_match(stripped):
                dec = Decimal(stripped)
                if abs(dec) < bound:
                    return str(dec.quantize(quantum, rounding=ROUND_HALF_UP))
            return None

        return _memoised(parse, slow)
    if ftype == "Date":

        def parse_text(text: str) -> str | None:
            parsed = parse_date(text)
            return None if parsed is None else format_date(parsed)

        return _memoised(parse_text, slow)
    if ftype == "Boolean":
        truth = {**dict.fromkeys(_TRUE, "True"), **dict.fromkeys(_FALSE, "False")}

        def flag(value: object) -> str | None:
            cls = value.__class__
            if cls is bool:
                return "True" if value else "False"
            if cls is str:
                stored = truth.get(value.strip().lower())  # type: ignore[attr-defined]
                if stored is not None:
                    return stored
            return slow(value)

        return flag
    return slow


_MEMO_SIZE = 4096


def _memoised(
    parse: Callable[[str], str | None], slow: Callable[[object], str | None]
) -> Callable[[object], str | None]:
    """Wrap a pure `text -> canonical | None` parser with a small per-field cache."""
    memo: dict[str, str] = {}

    def convert(value: object) -> str | None:
        if value.__class__ is not str or not value:
            return slow(value)
        stored = memo.get(value)  # type: ignore[call-overload]
        if stored is None:
            stored = parse(value)  # type: ignore[arg-type]
            if stored is None:
                return slow(value)
            if len(memo) >= _MEMO_SIZE:
                memo.clear()  # bounded: a column of unique timestamps must not grow it forever
            memo[value] = stored  # type: ignore[index]
        return stored

    return convert


def key_part(field: DeField, value: object) -> str:
    """Normalised primary-key component: SFMC's SQL collation compares text case-insensitively [I].

    Two rows whose keys differ only in letter case are the SAME row in a DE.
    """
    stored = canonical(field, value)
    return "" if stored is None else stored.casefold()


def check_schema(fields: Sequence[DeField]) -> list[str]:
    """Create-time rules for a DE's field list (the 36-char CustomerKey rule lives elsewhere).

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
        if field.default_value not in (None, ""):
            is_now = field.field_type == "Date" and field.default_value.lower() == "now()"
            if not is_now and check_value(field, field.default_value) is not None:
                problems.append(
                    f"Default value {field.default_value!r} of field {name!r} does not fit its "
                    f"type {field.field_type}; fix or remove the default."
                )
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
