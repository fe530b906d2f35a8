"""Source value -> what the push sends, one converter per SFMC field type (`store.fieldtypes`).

The push converts every cell of every row, so each converter starts with the common case (a str
from the store) and returns early; a value it cannot convert is returned as is, so that the
preflight reports it with SFMC's words. Blank values become "" (SFMC clears the field; `null` is
refused by some tenants).
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

from store.fieldvalues import BOOLEAN_WORDS, DECIMAL_RE, INTEGER_RE, parse_date


def convert_text(value: object) -> object:
    """Text as is; None -> "" (SFMC clears the field), other values as their usual text."""
    if value.__class__ is str:
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def convert_email(value: object) -> object:
    """An email address without surrounding spaces."""
    if value.__class__ is str:
        return value.strip()
    return "" if value is None else str(value).strip()


@lru_cache(maxsize=32_768)
def _sent_date(text: str) -> str | None:
    # Dates repeat a lot in real audiences (join dates, birthdays): parse each distinct text once.
    parsed = parse_date(text)
    return None if parsed is None else parsed.replace(microsecond=0).isoformat()


def convert_date(value: object) -> object:
    """A date as ISO 8601 `YYYY-MM-DDTHH:MM:SS` (what SFMC surely reads), else as is."""
    if value.__class__ is str:
        iso = _sent_date(value)  # type: ignore[arg-type]
        if iso is not None:
            return iso
        # Blank, or unparsable: then sent as is, so that the preflight reports the original.
        return value if value.strip() else ""  # type: ignore[attr-defined]
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None, microsecond=0).isoformat()
    if isinstance(value, date):
        return f"{value.isoformat()}T00:00:00"
    return value


_SENT_FLAG = {word: "true" if flag else "false" for word, flag in BOOLEAN_WORDS.items()}
# The spellings sources use most, looked up before any strip/lower.
_SENT_FLAG_AS_IS = {
    spelling: sent
    for word, sent in _SENT_FLAG.items()
    for spelling in (word, word.upper(), word.title())
}


def convert_boolean(value: object) -> object:
    """A flag as "true"/"false" from any of `BOOLEAN_WORDS` (any case), bools, 0 and 1."""
    if value.__class__ is str:
        sent = _SENT_FLAG_AS_IS.get(value)  # type: ignore[call-overload]
        if sent is not None:
            return sent
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    if isinstance(value, int | float) and value in (0, 1):
        return "true" if value else "false"
    low = str(value).strip().lower()
    if not low:
        return ""
    return _SENT_FLAG.get(low, value)


def convert_number(value: object) -> object:
    """A whole number as plain digits ("7.0" and 7.0 -> "7"), else as is."""
    if value.__class__ is str:
        if value.isascii() and value.isdigit():  # type: ignore[attr-defined]
            return value
        text = value.strip()  # type: ignore[attr-defined]
        if INTEGER_RE.fullmatch(text):
            return text
        if text.endswith(".0") and INTEGER_RE.fullmatch(text[:-2]):
            return text[:-2]
        return text
    if value.__class__ is int:
        return str(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def convert_decimal(value: object) -> object:
    """A decimal as plain text without thousands separators, else as is."""
    if value.__class__ is str:
        text = value.strip()  # type: ignore[attr-defined]
        if DECIMAL_RE.fullmatch(text):
            return text
        cleaned = text.replace(",", "")
        return cleaned if DECIMAL_RE.fullmatch(cleaned) else value
    if value is None:
        return ""
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return repr(value)
    return str(value)
