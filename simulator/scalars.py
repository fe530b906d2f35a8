"""How SFMC reads a JSON scalar as each Data Extension field type (§4.2), before any limit.

Each reader returns the value in the type's terms (an int, a Decimal, a moment, the text) or None
when the value is not of that type; `simulator.fieldrules` adds lengths, ranges and messages.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # Number is SQL `int` [I]
MIN_DATE, MAX_DATE = date(1753, 1, 1), date(9999, 12, 31)  # SQL Server `datetime` [I]

# Whole-text tests: an ASCII integer; a syntactically valid email (§4.2: syntax only [I], no domain
# or blocklist check); a locale such as "en" or "en-US" [I].
integer_text = re.compile(r"[+-]?[0-9]+").fullmatch
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)").fullmatch
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
email_ok = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}").fullmatch
_PHONE = re.compile(r"\+?[0-9 ().\-/]+(?:\s*(?:x|ext\.?)\s*[0-9]{1,6})?", re.IGNORECASE).fullmatch
locale_ok = re.compile(r"[A-Za-z]{2}(?:-[A-Za-z]{2})?").fullmatch
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}").match
# §4.2: "MM/DD/YYYY HH:MM:SS" 24-hour [C]; shorter and 12-hour forms [I]. US order always [I].
_US_FORMATS = (
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y",
)
_NO_DIGITS = str.maketrans("", "", "0123456789")


def integer_of(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return int(value) if value.is_integer() else None  # False for nan and inf
    if isinstance(value, str):
        text = value.strip()
        if integer_text(text):
            try:
                return int(text)
            except ValueError:  # more digits than Python converts: far out of range anyway
                return None
    return None


def decimal_of(value: object) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip()
        return Decimal(text) if _DECIMAL(text) else None
    return None


def parse_date(value: object, offset_h: int = 0) -> datetime | None:
    """The moment a Date value names (zone-less), None if no date.

    A value with `Z` or an offset is converted to UTC+`offset_h` (0: UTC; -6: SFMC's server time,
    CST, which is where SFMC keeps dates [C: issue 15]); a zone-less value is kept as given.
    ISO 8601 [C: DOC-ROWSET] or US `MM/DD/YYYY[ HH:MM[:SS][ AM|PM]]` [C/I], within SQL
    Server's `datetime` range.
    """
    if isinstance(value, datetime):
        moment: datetime | None = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        moment = _date_from_text(value.strip())
    else:
        return None
    if moment is None:
        return None
    if moment.tzinfo is not None:
        zone = UTC if not offset_h else timezone(timedelta(hours=offset_h))
        try:
            moment = moment.astimezone(zone).replace(tzinfo=None)
        except OverflowError:  # shifted past year 9999 (or before year 1)
            return None
    return moment if MIN_DATE <= moment.date() <= MAX_DATE else None


def _date_from_text(text: str) -> datetime | None:
    if _ISO_DAY(text):
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            return None
    for form in _US_FORMATS:
        try:
            return datetime.strptime(text, form)
        except ValueError:
            continue
    return None


def format_date(moment: datetime) -> str:
    """How SFMC shows a stored date: "5/23/2013 2:32:00 PM" [I]."""
    hour = moment.hour % 12 or 12
    half = "AM" if moment.hour < 12 else "PM"
    return (
        f"{moment.month}/{moment.day}/{moment.year} "
        f"{hour}:{moment.minute:02d}:{moment.second:02d} {half}"
    )


def as_text(value: object) -> str | None:
    """What a Text-like field stores for a JSON scalar; None for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return None


def phone_ok(text: str) -> bool:
    """Phone-like [I]: digits and separators, an optional extension, 7 to 15 digits before it."""
    if not _PHONE(text.strip()):
        return False
    main = text.split("x", 1)[0].split("X", 1)[0]
    digits = len(main) - len(main.translate(_NO_DIGITS))
    return 7 <= digits <= 15
