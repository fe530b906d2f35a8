"""Value types of imported data sets' columns (pure functions, no database).

Each distinct value is classified by one regular expression, matched once per shape
(`_groups`); a column's type is the first type that `FIT_SHARE` of its non-empty values fit,
and values that did not fit are kept as examples. Numbers, booleans, emails, phones and the
true/false words are those of `store.fieldtypes`; dates are read in many more shapes than SFMC
takes (day-first, month names), as the push converts them to ISO 8601.
"""

from __future__ import annotations

import contextlib
import functools
import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import compress, islice, repeat
from operator import attrgetter, eq, is_, is_not, itemgetter, methodcaller, not_
from typing import Any

from store.fieldtypes import TYPES
from store.fieldvalues import BOOLEAN_WORDS

# Cells a spreadsheet would run as a formula (CSV injection): every cell starting with one of these
# is counted in the import note here (whatever its type: a phone `+1555...` too) and escaped in
# every download by `store.reports.spreadsheet_cell`, so the two counts always agree.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

FIT_SHARE = 0.9
MAX_EXAMPLES = 5

_MONTH_NAMES = (
    "jan january|feb february|mar march|apr april|may|jun june|jul july|aug august"
    "|sep sept september|oct october|nov november|dec december"
)
_MONTHS = {m: i + 1 for i, names in enumerate(_MONTH_NAMES.split("|")) for m in names.split()}
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_TIME = r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s?[AaPp][Mm])?(?:Z|[+-]\d{2}:?\d{2})?)?"

_EMAIL = rf"(?P<email>{TYPES['EmailAddress'].cell_pattern})"
# Order matters: the first alternative that matches the whole value names its class. A phone
# number has 7 to 15 digits (the lookahead), else it is text.
_CELL_PATTERN = rf"""
    (?P<integer>{TYPES["Number"].cell_pattern})
    |(?P<zero_padded>0\d+)
    |(?P<decimal>{TYPES["Decimal"].cell_pattern})
    |(?P<date_iso>(?P<iy>\d{{4}})-(?P<im>\d{{1,2}})-(?P<id>\d{{1,2}}){_TIME})
    |(?P<date_ymd>(?P<yy>\d{{4}})[/.](?P<ym>\d{{1,2}})[/.](?P<yd>\d{{1,2}}){_TIME})
    |(?P<date_num>(?P<n1>\d{{1,2}})(?P<sep>[/.-])(?P<n2>\d{{1,2}})(?P=sep)(?P<ny>\d{{4}}|\d{{2}}){_TIME})
    |(?P<date_text>(?:(?P<td>\d{{1,2}})[\s-](?P<tm>(?i:{_MONTH_RE}))\.?[\s-],?\s?(?P<ty>\d{{4}})
        |(?P<tm2>(?i:{_MONTH_RE}))\.?\s(?P<td2>\d{{1,2}})(?:st|nd|rd|th)?,?\s(?P<ty2>\d{{4}})){_TIME})
    |(?P<boolean>{TYPES["Boolean"].cell_pattern})
    |{_EMAIL}
    |(?P<phone>(?=\+?\(?\d)(?=(?:\D*\d){{7,15}}\D*\Z){TYPES["Phone"].cell_pattern})
    """
_CELL = re.compile(_CELL_PATTERN, re.VERBOSE)
# Appended to the expression, these make it match every value: what no type takes is `padded`
# (spaces around: classified again without them) or `text`; so `lastgroup` of a match is a
# class, in one C call per value.
_CATCH_ALL = r"|(?P<padded>\s.*|.*\s)|(?P<text>.*)"
# Of all the classes only an email address has an "@": a value with one needs only the email
# alternative, and a value without one need not try it (what a phone spends most time on).
_CELL_AT = re.compile(_EMAIL + _CATCH_ALL, re.VERBOSE | re.DOTALL)
_CELL_NO_AT = re.compile(
    _CELL_PATTERN.replace(f"|{_EMAIL}", "") + _CATCH_ALL, re.VERBOSE | re.DOTALL
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


_CACHE_SIZE = 65_536
# A column whose header names an email address is read as email when this share of its values
# are addresses (the rest are refused one by one at the push, each with its reason).
EMAIL_NAMED_SHARE = 0.5
_EMAIL_HEADER = re.compile(r"e-?mail", re.IGNORECASE)
_ORDER_WORDS = {True: "day-first", False: "month-first"}


def _classify_for_stats(value: str) -> tuple[str, int]:
    """(class, day-first vote: +1 day-first, -1 month-first, 0 none) of one non-empty value.

    Spaces around a value do not change its class: the push trims them (`store.fieldconvert`).
    """
    if value[0].isspace() or value[-1].isspace():
        value = value.strip()
        if not value:
            return "text", 0
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
    return cls, 0


# Classes that the match settles; dates (validity, day-first vote) and `padded` need Python.
_SETTLED = {c: (c, 0) for c in ("integer", "zero_padded", "decimal", "boolean", "email", "phone")}
_SETTLED["text"] = ("text", 0)


# A value's class depends on its characters only through the sets the expressions test them
# against: digits 1-9 are alike everywhere (only 0 is told apart: `0\d+`, `0|[1-9]...`), and in
# a value with an "@" (`_CELL_AT`) so are all ASCII letters. A value's shape (of its UTF-8
# bytes: `bytes.translate` is fast, `str.translate` is not) makes them one character, so a
# column of unique ids, phones or emails has a few hundred shapes to match, not one per row.
_SHAPE_TABLES = (  # by whether the value has an "@"
    bytes.maketrans(b"23456789", b"1" * 8),
    bytes.maketrans(b"23456789" + string.ascii_letters.encode(), b"1" * 8 + b"a" * 52),
)
_shape_groups: dict[bytes, str] = {}  # shape -> `lastgroup`, for every import of the process
_SHAPE_BYTES = 256  # longer shapes are matched but not remembered (at most 16 MB in all)


def _match_groups(values: list[str]) -> list[str]:
    """Each value's `lastgroup` in `_CELL_AT` (with an "@") or `_CELL_NO_AT`, in C loops."""
    has_at = list(map(str.__contains__, values, repeat("@")))
    with_at = sum(has_at)
    most, other = (_CELL_AT, _CELL_NO_AT) if with_at * 2 >= len(values) else (_CELL_NO_AT, _CELL_AT)
    groups = list(map(attrgetter("lastgroup"), map(most.fullmatch, values)))
    if 0 < with_at < len(values):
        flags = map(not_, has_at) if most is _CELL_AT else has_at
        for i in compress(range(len(values)), flags):
            groups[i] = other.fullmatch(values[i]).lastgroup  # type: ignore[union-attr]
    return groups


def _groups(values: list[str]) -> list[str]:
    """The class of each value: the `lastgroup` of its shape's match, each shape matched once."""
    try:
        encoded = list(map(str.encode, values))
    except UnicodeEncodeError:  # a lone surrogate (an undecodable byte): no shapes, then
        return _match_groups(values)
    if "@" in "".join(values):  # one C search tells most columns that no value has one
        tables = map(_SHAPE_TABLES.__getitem__, map(str.__contains__, values, repeat("@")))
    else:
        tables = repeat(_SHAPE_TABLES[0])
    shapes = list(map(bytes.translate, encoded, tables))
    known = _shape_groups
    groups = list(map(known.get, shapes))
    if None not in groups:
        return groups  # type: ignore[return-value]
    new = list(dict.fromkeys(compress(shapes, map(is_, groups, repeat(None)))))
    found = dict(zip(new, _match_groups([shape.decode() for shape in new]), strict=True))
    if len(known) + len(found) > _CACHE_SIZE:
        known.clear()  # a column of unique text: keep memory bounded
    known.update(item for item in found.items() if len(item[0]) <= _SHAPE_BYTES)
    return list(map(found.get, shapes, groups))  # type: ignore[arg-type]


def _classify_many(values: list[str]) -> list[tuple[str, int]]:
    """`_classify_for_stats` of each value, the expression run in C loops (`map`).

    Columns of unique values (ids, emails, phones) have a new value in every row: this is
    their path. Only dates and values with spaces around take the long way.
    """
    classes: list[tuple[str, int] | None] = list(map(_SETTLED.get, _groups(values)))
    i = -1
    with contextlib.suppress(ValueError):  # no None left
        while True:  # the values Python decides (dates, spaces around), found by C searches
            i = classes.index(None, i + 1)
            classes[i] = _classify_for_stats(values[i])
    return classes  # type: ignore[return-value]


@dataclass
class ColumnStats:
    """Running counts for one column while batches of rows stream past."""

    empty: int = 0
    max_length: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    # Numeric dates that only one order can read (15.03.2024: day-first), with examples.
    votes: dict[int, int] = field(default_factory=lambda: {1: 0, -1: 0})
    vote_examples: dict[int, list[str]] = field(default_factory=lambda: {1: [], -1: []})
    dotted_dates: int = 0  # numeric dates written with dots (15.03.2024), a day-first habit
    formulas: int = 0
    padded: int = 0  # values with spaces before or after them
    # Most columns repeat values (countries, flags, dates): classify each distinct value once.
    _cache: dict[str, tuple[str, int]] = field(default_factory=dict, repr=False)

    def add(self, value: str) -> str:
        """Count one non-empty value and return its class."""
        return self.add_column((value,))[value]

    def add_column(self, values: Sequence[str | None]) -> dict[str, str]:
        """Count a batch of this column's values; return the class of each distinct value.

        Works on distinct values (a `Counter` is one C loop), so repeated values cost one
        dictionary lookup: this is what keeps a 1,000,000-row import fast.
        """
        distinct = Counter(values)
        empty = distinct.pop("", 0) + distinct.pop(None, 0)
        self.empty += empty
        if not distinct:
            return {}
        keys = list(distinct)
        unique = len(keys) == len(values) - empty  # every value once (ids, emails)
        cache = self._cache
        hits = list(map(cache.get, keys)) if cache else [None] * len(keys)
        missing = list(compress(keys, map(is_, hits, repeat(None)))) if cache else keys
        if missing:
            found = _classify_many(missing)
            room = _CACHE_SIZE - len(cache)
            if room > 0 and len(keys) * 20 < (len(values) - empty) * 19:  # values repeat
                cache.update(zip(missing[:room], found[:room], strict=True))
            if len(missing) == len(keys):
                hits = found
            else:
                fresh = iter(found)
                hits = [hit or next(fresh) for hit in hits]
        classes = dict(zip(keys, map(itemgetter(0), hits), strict=True))
        if unique:
            batch = Counter(classes.values())
        elif len(keys) * 4 < len(values):  # few distinct values: count their classes by weight
            batch = Counter()
            for cls, n in zip(classes.values(), distinct.values(), strict=True):
                batch[cls] += n
        else:
            batch = Counter(map(classes.get, values))
            batch.pop(None, None)
        for cls, n in batch.items():
            seen = self.counts.get(cls, 0)
            self.counts[cls] = seen + n
            if seen < MAX_EXAMPLES:
                self.examples.setdefault(cls, []).extend(
                    islice((v[:80] for v in keys if classes[v] == cls), MAX_EXAMPLES - seen)
                )
        if "date_num" in batch:
            self._vote(distinct, keys, hits)
        weights = distinct.values()
        # Downloads escape every text cell starting like a formula (`store.reports`). Most
        # batches have none: their first characters, joined, say so in a few C scans.
        firsts = "".join(map(itemgetter(0), keys))
        if any(start in firsts for start in FORMULA_START):
            starts = map(methodcaller("startswith", FORMULA_START), keys)
            self.formulas += sum(compress(weights, starts))
        self.padded += sum(compress(weights, map(is_not, keys, map(str.strip, keys))))
        self.max_length = max(self.max_length, max(map(len, keys)))
        return classes

    def _vote(self, distinct: Counter[str], keys: list[str], hits: list[tuple[str, int]]) -> None:
        """Count the numeric dates that only one order can read, and the dotted ones."""
        numeric = map(eq, map(itemgetter(0), hits), repeat("date_num"))  # a C loop
        for value, (_cls, vote) in compress(zip(keys, hits, strict=True), numeric):
            n = distinct[value]
            if vote:
                self.votes[vote] += n
                if len(self.vote_examples[vote]) < MAX_EXAMPLES:
                    self.vote_examples[vote].append(value[:80])
            if "." in value:
                self.dotted_dates += n

    def dayfirst(self) -> bool:
        """The column's one reading of numeric dates: the order most dates need.

        Without a date that only one order can read, dates written with dots (03.04.2024)
        are read day-first and the others month-first (SFMC's own reading).
        """
        day, month = self.votes[1], self.votes[-1]
        if day != month:
            return day > month
        numeric = self.counts.get("date_num", 0)
        return numeric > 0 and self.dotted_dates * 2 > numeric

    def _type(self, original: str) -> str:
        filled = sum(self.counts.values())
        for candidate, fits in _FITS.items():
            fit = sum(self.counts.get(c, 0) for c in fits)
            share = FIT_SHARE
            if candidate == "email" and _EMAIL_HEADER.search(original):
                share = EMAIL_NAMED_SHARE
            if filled and fit >= share * filled:
                return candidate
        return "text"

    def describe(self, name: str, original: str) -> dict[str, Any]:
        """The column's entry in `DataSet.columns`."""
        filled = sum(self.counts.values())
        col_type = self._type(original)
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
            self._describe_dates(info, original)
        if self.counts.get("zero_padded"):
            info["leading_zeros"] = self.counts["zero_padded"]
        if self.formulas:
            info["formulas"] = self.formulas
        if self.padded:
            info["padded"] = self.padded
        return info

    def _describe_dates(self, info: dict[str, Any], original: str) -> None:
        """Day-first or month-first, said in the note, and the dates that order cannot read."""
        dayfirst = info["dayfirst"] = self.dayfirst()
        if not self.counts.get("date_num"):
            return
        readable = (
            (value, iso)
            for value in self.vote_examples[1 if dayfirst else -1] + self.examples["date_num"]
            if (iso := parse_date(value, dayfirst=dayfirst))
        )
        sample, iso = next(readable)  # an example of the order chosen exists (see `dayfirst`)
        read = date.fromisoformat(iso)
        note = (
            f"{original!r}: numeric dates are read {_ORDER_WORDS[dayfirst]} "
            f"({sample} is {read.day} {read:%B %Y})."
        )
        wrong = self.votes[-1 if dayfirst else 1]
        if wrong:
            examples = self.vote_examples[-1 if dayfirst else 1]
            info["bad_count"] += wrong
            info["bad_examples"] = (examples + info["bad_examples"])[:MAX_EXAMPLES]
            note += (
                f" {wrong:,} of them only make sense {_ORDER_WORDS[not dayfirst]} (for example "
                f"{examples[0]}); they cannot be read as dates and will be refused at the push. "
                "Write them in one order (or as YYYY-MM-DD) and upload the file again."
            )
        info["note"] = note
