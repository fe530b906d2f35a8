"""Column names and value types of imported data sets (pure functions, no database).

Every cell is classified by one regular expression (one C call per cell keeps a 1,000,000-row
import fast); a column's type is the first type that at least `FIT_SHARE` of its non-empty
values fit, and the values that did not fit are kept as examples for the user. The cell shapes
of numbers, booleans, emails and phones, and the true/false words, are those of the field-type
table (`store.fieldtypes`); dates are read here in many more shapes than SFMC takes (day-first,
month names), as the push converts them to ISO 8601.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from store.fieldtypes import TYPES
from store.fieldvalues import BOOLEAN_WORDS

# Cells a spreadsheet would run as a formula (CSV injection): counted in the import note here, and
# escaped in every download by `store.reports.spreadsheet_cell`, so the two always agree.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

FIT_SHARE = 0.9
MAX_NAME_LENGTH = 60  # PostgreSQL cuts identifiers at 63 bytes; leave room for suffixes.
MAX_EXAMPLES = 5

_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ]
    )
    for m in names
}
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_TIME = r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s?[AaPp][Mm])?(?:Z|[+-]\d{2}:?\d{2})?)?"

# Order matters: the first alternative that matches the whole value names its class.
_CELL = re.compile(
    rf"""
    (?P<integer>{TYPES["Number"].cell_pattern})
    |(?P<zero_padded>0\d+)
    |(?P<decimal>{TYPES["Decimal"].cell_pattern})
    |(?P<date_iso>(?P<iy>\d{{4}})-(?P<im>\d{{1,2}})-(?P<id>\d{{1,2}}){_TIME})
    |(?P<date_ymd>(?P<yy>\d{{4}})[/.](?P<ym>\d{{1,2}})[/.](?P<yd>\d{{1,2}}){_TIME})
    |(?P<date_num>(?P<n1>\d{{1,2}})(?P<sep>[/.-])(?P<n2>\d{{1,2}})(?P=sep)(?P<ny>\d{{4}}|\d{{2}}){_TIME})
    |(?P<date_text>(?:(?P<td>\d{{1,2}})[\s-](?P<tm>(?i:{_MONTH_RE}))\.?[\s-],?\s?(?P<ty>\d{{4}})
        |(?P<tm2>(?i:{_MONTH_RE}))\.?\s(?P<td2>\d{{1,2}})(?:st|nd|rd|th)?,?\s(?P<ty2>\d{{4}})){_TIME})
    |(?P<boolean>{TYPES["Boolean"].cell_pattern})
    |(?P<email>{TYPES["EmailAddress"].cell_pattern})
    |(?P<phone>{TYPES["Phone"].cell_pattern})
    """,
    re.VERBOSE,
)
_FITS: dict[str, frozenset[str]] = {
    "boolean": frozenset({"boolean"}),
    "integer": frozenset({"integer"}),
    "decimal": frozenset({"integer", "decimal"}),
    "date": frozenset({"date_iso", "date_ymd", "date_num", "date_text"}),
    "email": frozenset({"email"}),
    "phone": frozenset({"phone"}),
}
# The importer reads every true/false word of the table (filters on boolean columns use them).
TRUE_WORDS = frozenset(word for word, flag in BOOLEAN_WORDS.items() if flag)
FALSE_WORDS = frozenset(word for word, flag in BOOLEAN_WORDS.items() if not flag)


def _date_from_match(m: re.Match[str], *, dayfirst: bool) -> date | None:
    g = m.group
    try:
        if g("date_iso"):
            return date(int(g("iy")), int(g("im")), int(g("id")))
        if g("date_ymd"):
            return date(int(g("yy")), int(g("ym")), int(g("yd")))
        if g("date_num"):
            a, b, year = int(g("n1")), int(g("n2")), int(g("ny"))
            if len(g("ny")) == 2:
                year += 2000 if year < 70 else 1900
            day, month = (a, b) if dayfirst else (b, a)
            return date(year, month, day)
        if g("date_text"):
            if g("tm"):
                return date(int(g("ty")), _MONTHS[g("tm").lower()], int(g("td")))
            return date(int(g("ty2")), _MONTHS[g("tm2").lower()], int(g("td2")))
    except ValueError:
        return None
    return None


@functools.lru_cache(maxsize=65_536)
def _parse_date_cached(value: str, dayfirst: bool) -> str | None:
    m = _CELL.fullmatch(value.strip())
    if m is None or not (m.lastgroup or "").startswith("date_"):
        return None
    parsed = _date_from_match(m, dayfirst=dayfirst)
    return parsed.isoformat() if parsed else None


def parse_date(value: str | None, *, dayfirst: bool = False) -> str | None:
    """ISO `YYYY-MM-DD` of a date in any format the import recognises, else None."""
    if not value:
        return None
    return _parse_date_cached(value.strip(), dayfirst)


# The time of day after a date cell's date part (what `_TIME` lets through), for `parse_datetime`.
_TIME_TAIL = re.compile(
    r"[T ](\d{1,2}):(\d{2})(?::(\d{2})(\.\d+)?)?(?:\s?([AaPp])[Mm])?(Z|[+-]\d{2}:?\d{2})?$"
)


@functools.lru_cache(maxsize=65_536)
def _parse_datetime_cached(value: str, dayfirst: bool) -> str | None:
    day = _parse_date_cached(value, dayfirst)
    if day is None:
        return None
    tail = _TIME_TAIL.search(value)
    if tail is None:
        return day
    hour, minute, second = int(tail[1]), int(tail[2]), int(tail[3] or 0)
    if tail[5]:  # 12-hour clock: 12 AM is midnight, 12 PM is noon
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if tail[5] in "Pp" else 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    zone = tail[6] or ""
    if zone and zone != "Z" and ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    return f"{day}T{hour:02d}:{minute:02d}:{second:02d}{tail[4] or ''}{zone}"


def parse_datetime(value: str | None, *, dayfirst: bool = False) -> str | None:
    """ISO 8601 of a date cell, keeping its time of day and zone when it has them, else None.

    The date part is exactly `parse_date`'s (same formats, same day-first reading), so what a
    filter compares and what a push sends agree: `12 Mar 2021` -> `2021-03-12`,
    `03/04/2021 5:30 PM` (month-first) -> `2021-03-04T17:30:00`.
    """
    if not value:
        return None
    return _parse_datetime_cached(value.strip(), dayfirst)


def parse_number(value: str | None) -> float | None:
    """The number in a cell of an integer/decimal column, else None."""
    if not value:
        return None
    m = _CELL.fullmatch(value.strip())
    if m is None or m.lastgroup not in ("integer", "decimal"):
        return None
    return float(value)


_CACHE_SIZE = 4096


def _classify_for_stats(value: str) -> tuple[str, int]:
    """(class, day-first vote: +1 day-first, -1 month-first, 0 none) of one non-empty value."""
    length = len(value)
    # Fast path for plain words and long text: only email/boolean/month-date could match those,
    # so skip the big expression (most cells of name/city/notes columns).
    if "@" not in value and (length > 40 or (value[0].isalpha() and length > 5)):
        if length > 40 or value[:3].lower() not in _MONTHS:
            return "text", 0
    m = _CELL.fullmatch(value)
    if m is None:
        return "text", 0
    cls = m.lastgroup or "text"
    if cls == "date_num":
        a, b = int(m.group("n1")), int(m.group("n2"))
        vote = 1 if a > 12 >= b else (-1 if b > 12 >= a else 0)
        if _date_from_match(m, dayfirst=a > 12) is None:
            return "text", 0
        return cls, vote
    if cls in ("date_iso", "date_ymd", "date_text"):
        if _date_from_match(m, dayfirst=False) is None:
            return "text", 0
    elif cls == "phone" and not 7 <= sum(map(str.isdigit, value)) <= 15:
        return "text", 0
    return cls, 0


@dataclass
class ColumnStats:
    """Running counts for one column while rows stream past."""

    empty: int = 0
    max_length: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    dayfirst_votes: int = 0
    monthfirst_votes: int = 0
    formulas: int = 0
    # Most columns repeat values (countries, flags, dates): classify each distinct value once.
    _cache: dict[str, tuple[str, int]] = field(default_factory=dict, repr=False)

    def add(self, value: str) -> str:
        """Count one non-empty value and return its class."""
        length = len(value)
        if length > self.max_length:
            self.max_length = length
        cached = self._cache.get(value)
        if cached is None:
            cached = _classify_for_stats(value)
            if len(self._cache) < _CACHE_SIZE:
                self._cache[value] = cached
        cls, vote = cached
        if vote:
            if vote > 0:
                self.dayfirst_votes += 1
            else:
                self.monthfirst_votes += 1
        elif cls == "text" and value.startswith(FORMULA_START):
            self.formulas += 1
        n = self.counts.get(cls, 0) + 1
        self.counts[cls] = n
        if n <= MAX_EXAMPLES:
            self.examples.setdefault(cls, []).append(value[:80])
        return cls

    def describe(self, name: str, original: str) -> dict[str, Any]:
        """The column's entry in `DataSet.columns`."""
        filled = sum(self.counts.values())
        col_type = "text"
        for candidate, fits in _FITS.items():
            fit = sum(self.counts.get(c, 0) for c in fits)
            if filled and fit >= FIT_SHARE * filled:
                col_type = candidate
                break
        bad: list[str] = []
        if col_type != "text":
            for cls, values in self.examples.items():
                if cls not in _FITS[col_type]:
                    bad.extend(values)
        info: dict[str, Any] = {
            "name": name,
            "original": original,
            "type": col_type,
            "max_length": self.max_length,
            "empty": self.empty,
            "bad_examples": bad[:MAX_EXAMPLES],
            "bad_count": filled - sum(self.counts.get(c, 0) for c in _FITS.get(col_type, ())),
        }
        if col_type == "text":
            info["bad_count"] = 0
        if col_type == "date":
            info["dayfirst"] = self.dayfirst_votes > self.monthfirst_votes
            if self.dayfirst_votes and self.monthfirst_votes:
                info["note"] = (
                    f"{original!r} mixes day-first and month-first dates; read as "
                    f"{'day' if info['dayfirst'] else 'month'}-first."
                )
        if self.counts.get("zero_padded"):
            info["leading_zeros"] = self.counts["zero_padded"]
        if self.formulas:
            info["formulas"] = self.formulas
        return info


def safe_column_names(headers: Sequence[str | None]) -> tuple[list[str], list[str]]:
    """Lowercase snake_case names, unique and non-empty, plus notes on what was renamed.

    Names never start with "_" and never contain "__": those are reserved for the store's own
    columns (`_row`, `<name>__n`, `<name>__d`).
    """
    names: list[str] = []
    notes: list[str] = []
    seen: set[str] = set()
    originals_seen: dict[str, int] = {}
    for index, header in enumerate(headers, start=1):
        original = (header or "").strip()
        ascii_text = unicodedata.normalize("NFKD", original).encode("ascii", "ignore").decode()
        base = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")[:MAX_NAME_LENGTH]
        base = base.strip("_")
        if not original:
            base = f"column_{index}"
            notes.append(f"Column {index} has no name in the header; it is called {base!r}.")
        elif not base:
            base = f"column_{index}"
        elif base[0].isdigit():
            base = f"c_{base}"[:MAX_NAME_LENGTH]
        name, n = base, 1
        while name in seen:
            n += 1
            name = f"{base[: MAX_NAME_LENGTH - 4]}_{n}"
        if original and original.lower() in originals_seen:
            notes.append(
                f"Two columns are called {original!r} (columns {originals_seen[original.lower()]}"
                f" and {index}); the second one is called {name!r}."
            )
        originals_seen.setdefault(original.lower(), index)
        seen.add(name)
        names.append(name)
    return names, notes
