"""The words, patterns and parsers behind SFMC's field types (the vocabulary of `store.fieldtypes`).

Each word list and pattern is written once here and read by everyone who needs it: the preflight
and the canonical forms (what SFMC accepts and stores), the push's value conversion (what we send)
and the importer's type inference (which SFMC type a column looks like). Sources are
`shared/reference/sfmc-api.md` §3 and §4.2; where SFMC's behaviour is unknown the choice made here
is marked [I] (inferred) and is deliberately on the strict side.

It lives in `store/` only because the importer is the lowest layer that needs it; it imports
nothing but the standard library (see `store.fieldtypes` for why the table sits in `store/`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache

# The one set of true/false words. Sources spell booleans every way; SFMC documents JSON true/false,
# and "true"/"false", "1"/"0" are [I], "yes"/"no"/"y"/"n" lenient [?]. The single letters t/f are
# only read from sources (the converter sends them as true/false): a value still spelled t/f when
# it reaches SFMC is refused, as SFMC's own reading of them is unknown.
BOOLEAN_WORDS: Mapping[str, bool] = {
    "true": True,
    "1": True,
    "yes": True,
    "y": True,
    "t": True,
    "false": False,
    "0": False,
    "no": False,
    "n": False,
    "f": False,
}
SOURCE_ONLY_WORDS = frozenset({"t", "f"})
SFMC_BOOLEAN_WORDS: Mapping[str, bool] = {
    word: flag for word, flag in BOOLEAN_WORDS.items() if word not in SOURCE_ONLY_WORDS
}

# SFMC's number syntaxes: an optional sign, ASCII digits, for Decimal an optional fraction.
INTEGER_TEXT = r"[+-]?[0-9]+"
DECIMAL_TEXT = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
INTEGER_RE = re.compile(INTEGER_TEXT)
DECIMAL_RE = re.compile(DECIMAL_TEXT)
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
MIN_DATE, MAX_DATE = date(1753, 1, 1), date(9999, 12, 31)  # SQL Server datetime range [I]

EMAIL_RE = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}\Z"
)
# `\Z`, not `$`: `$` also matches before a final newline, which would let "a@b.org\n" through.
PHONE_RE = re.compile(r"^\+?[0-9 ().\-/]+(?:\s*(?:x|ext\.?)\s*[0-9]{1,6})?\Z", re.I)
LOCALE_RE = re.compile(r"^[A-Za-z]{2}(?:-[A-Za-z]{2})?\Z")
_DROP_DIGITS = str.maketrans("", "", "0123456789")

_ISO_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}")
# The common US shapes, ASCII only, with exactly the ranges strptime's %m %d %Y %H %M %S accept:
# a match is what the first matching `_US_DATE_FORMATS` entry would give; anything else (12-hour
# clock, single-digit minutes, several spaces...) goes through strptime.
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


def is_blank(value: object) -> bool:
    """SFMC treats null and "" alike: "no value" [I, §3a Nulls]."""
    return value is None or (isinstance(value, str) and value == "")


def as_text(value: object) -> str | None:
    """The text SFMC stores for a value sent to a text-like field, None for what has no text."""
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


def parse_int(value: object) -> int | None:
    """The whole number SFMC reads from a value (any size; the Number range is checked apart)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str) and INTEGER_RE.fullmatch(value.strip()):
        try:
            return int(value.strip())
        except ValueError:  # more digits than Python converts (4,300): far outside any range
            return None
    return None


def parse_decimal(value: object) -> Decimal | None:
    """The decimal SFMC reads from a value, None when it is no decimal."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, str) and DECIMAL_RE.fullmatch(value.strip()):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    return None


def parse_bool(value: object) -> bool | None:
    """The flag SFMC reads from a value (`SFMC_BOOLEAN_WORDS`, bools, 0 and 1), else None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        return SFMC_BOOLEAN_WORDS.get(value.strip().lower())
    return None


def phone_ok(text: str) -> bool:
    """Whether SFMC takes the text as a phone number: phone characters and 7-15 digits."""
    if not PHONE_RE.match(text.strip()):
        return False
    head = text.split("x")[0].split("X")[0]
    # The pattern admits ASCII digits only, so counting 0-9 is counting str.isdigit characters.
    digits = len(head) - len(head.translate(_DROP_DIGITS))
    return 7 <= digits <= 15


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
        try:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:  # pushed past year 9999 or before year 1: no valid date
            return None
    if not MIN_DATE <= parsed.date() <= MAX_DATE:
        return None
    return parsed


def _parse_date_text(text: str) -> datetime | None:
    fast = _US_DATE_FAST_RE.fullmatch(text)
    if fast is not None:
        hour, minute, second = int(fast[4] or 0), int(fast[5] or 0), int(fast[6] or 0)
        try:
            return datetime(int(fast[3]), int(fast[1]), int(fast[2]), hour, minute, second)
        except ValueError:
            pass  # e.g. 2/30/2024: strptime below comes to the same verdict
    if _ISO_DATE_RE.match(text):
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            return None
    for fmt in _US_DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt)  # SFMC dates are zone-less
        except ValueError:
            continue
    return None


@lru_cache(maxsize=32_768)
def date_text_ok(text: str) -> bool:
    """`parse_date(text) is not None`, remembered: real columns repeat their dates."""
    return parse_date(text) is not None


def format_date(value: datetime) -> str:
    """SFMC's US display form of a stored date, e.g. "5/23/2013 2:32:00 PM" [I]."""
    hour12 = value.hour % 12 or 12
    ampm = "AM" if value.hour < 12 else "PM"
    return f"{value.month}/{value.day}/{value.year} {hour12}:{value.minute:02d}:{value.second:02d} {ampm}"
