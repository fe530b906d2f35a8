"""Value checks of the Contacts API and entry events (attribute data types, contact keys)."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation

from simulator.contacts_journeys.model import (
    _BOOL_TEXT,
    _EMAIL_RE,
    CONTACT_KEY_MAX,
)

# ------------------------------------------------------------------------------ value checks


def check_typed_value(
    data_type: str, value: object, *, length: int | None = None
) -> tuple[str | None, str | None]:
    """Validate one value against a Contacts/DE data type.

    Returns:
        (canonical string, None) when the value is acceptable, else (None, reason).
    """
    if value is None or value == "":
        return None, None
    text = str(value).strip() if not isinstance(value, bool) else ("True" if value else "False")
    kind = data_type.casefold()
    if kind in ("text", "phone", "locale"):
        if length is not None and len(text) > length:
            return None, f"exceeds the maximum length of {length} characters"
        return text, None
    if kind in ("emailaddress", "email"):
        if len(text) > (length or 254) or not _EMAIL_RE.match(text):
            return None, "is not a valid email address"
        return text, None
    if kind == "boolean":
        if text.casefold() not in _BOOL_TEXT:
            return None, "is not a valid boolean"
        return ("True" if text.casefold() in ("true", "1", "yes", "y") else "False"), None
    if kind in ("number", "longnumber", "byte"):
        if isinstance(value, bool) or not re.fullmatch(r"[+-]?\d+", text):
            return None, "is not a valid number"
        return str(int(text)), None
    if kind == "decimal":
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None, "is not a valid decimal"
        if not number.is_finite():
            return None, "is not a valid decimal"
        return str(number), None
    if kind == "date":
        for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d", "%m/%d/%Y", "%m/%d/%Y %I:%M:%S %p"):
            try:
                parsed = datetime.strptime(text[:19] if "T" in text else text, fmt)
            except ValueError:
                continue
            return parsed.strftime("%-m/%-d/%Y %-I:%M:%S %p"), None
        return None, "is not a valid date"
    return text, None


def contact_key_problem(key: object) -> tuple[str, str] | None:
    """SFMC's contact key rules: (resultCode, message) when `key` is not acceptable."""
    if key is None or (isinstance(key, str) and not key.strip()):
        return "ContactKeyRequired", "A contactKey or contactID is required."
    text = str(key)
    if len(text) > CONTACT_KEY_MAX:
        return (
            "ContactKeyInvalid",
            f"Contact key is {len(text)} characters long; the limit is {CONTACT_KEY_MAX}.",
        )
    if ":" in text:
        return "ContactKeyInvalid", "Contact key must not contain a colon (:)."
    return None
