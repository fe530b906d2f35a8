"""Exact sets of key strings whose memory does not grow with the audience.

A push keeps per-row state about keys: the keys earlier audience rows used (duplicate check),
the audience's keys (Mirror's deletes) and the DE's keys with their stored values (Mirror,
Append, Update Only). As Python sets they cost about 90 bytes a key: 270 MB at 3 million rows.
A `KeySet` holds its first `SPILL_AT` keys in a Python set (small runs and tests never touch
the disk), then moves them to a SQLite file in a temporary directory, where each key costs
about 30 bytes of disk and a lookup or insert a few microseconds; SQLite's page cache is capped
at `CACHE_KIB`, so the run's memory stays flat however many keys there are.

Keys are compared exactly (as UTF-8 bytes, `surrogatepass`: exact and never raising), never by
a hash: two keys whose hashes collide are two rows. Thread-safe: one lock per set.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

# Keys kept in memory before the set moves to disk (about 6 MB of Python objects).
SPILL_AT = 65_536
# SQLite's page cache per set, in KiB (PRAGMA cache_size takes a negative number for KiB).
CACHE_KIB = 4_096
# Keys per `IN (...)` probe (SQLite allows 32,766 bound parameters; small statements cache).
_PROBE = 500


def _raw(key: str) -> bytes:
    return key.encode("utf-8", "surrogatepass")


class KeySet:
    """A set of key strings, each with an optional value (a JSON-able list of strings).

    `add` is the per-row path (the duplicate check); `add_many`, `lookup` and `iter_items`
    work on pages of keys.
    """

    def __init__(self, *, spill_at: int = SPILL_AT) -> None:
        self._mem: dict[bytes, str | None] | None = {}
        self._spill_at = spill_at
        self._db: sqlite3.Connection | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._lock = threading.Lock()
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @property
    def on_disk(self) -> bool:
        return self._db is not None

    def add(self, key: str) -> bool:
        """Add `key`; True when it was not in the set before."""
        raw = _raw(key)
        with self._lock:
            mem = self._mem
            if mem is not None:
                if raw in mem:
                    return False
                mem[raw] = None
                self._count += 1
                if self._count >= self._spill_at:
                    self._spill()
                return True
            assert self._db is not None
            added = self._db.execute("INSERT OR IGNORE INTO k VALUES (?, NULL)", (raw,)).rowcount
            self._count += added
            return added == 1

    def add_many(self, items: Iterable[tuple[str, Sequence[str] | None]]) -> None:
        """Add (key, value) pairs; a key already present keeps its first value."""
        pairs = [(_raw(k), None if v is None else json.dumps(list(v))) for k, v in items]
        with self._lock:
            mem = self._mem
            if mem is not None:
                for raw, value in pairs:
                    if raw not in mem:
                        mem[raw] = value
                self._count = len(mem)
                if self._count >= self._spill_at:
                    self._spill()
                return
            assert self._db is not None
            before = self._db.total_changes
            self._db.executemany("INSERT OR IGNORE INTO k VALUES (?, ?)", pairs)
            self._count += self._db.total_changes - before

    def claim(self, keys: Sequence[str]) -> list[bool]:
        """Add `keys` in order; True where a key was there before (or earlier in `keys`).

        One lookup and one insert per page of keys: the duplicate check of a whole chunk.
        """
        before = self.lookup(keys)
        fresh: set[str] = set()
        used = []
        for key in keys:
            used.append(key in before or key in fresh)
            fresh.add(key)
        self.add_many((key, None) for key in fresh if key not in before)
        return used

    def __contains__(self, key: str) -> bool:
        return bool(self.lookup([key]))

    def lookup(self, keys: Sequence[str]) -> dict[str, list[str]]:
        """The keys of `keys` that are in the set, each with its value ([] when none)."""
        if not keys:
            return {}
        with self._lock:
            mem = self._mem
            if mem is not None:
                found = {}
                for k in keys:
                    raw = _raw(k)
                    if raw in mem:
                        found[k] = _item(raw, mem[raw])[1]
                return found
            assert self._db is not None
            by_raw = {_raw(k): k for k in keys}
            raws = list(by_raw)
            found = {}
            for start in range(0, len(raws), _PROBE):
                part = raws[start : start + _PROBE]
                sql = f"SELECT key, value FROM k WHERE key IN ({','.join('?' * len(part))})"
                for raw, value in self._db.execute(sql, part):
                    found[by_raw[raw]] = _item(raw, value)[1]
            return found

    def iter_items(self, page: int = 2_500) -> Iterator[list[tuple[str, list[str]]]]:
        """Every (key, value) pair, a page at a time (value [] when none was given)."""
        if self._mem is not None:
            items = list(self._mem.items())
            for start in range(0, len(items), page):
                yield [_item(r, v) for r, v in items[start : start + page]]
            return
        last = b""
        while True:
            with self._lock:
                assert self._db is not None
                rows = self._db.execute(
                    "SELECT key, value FROM k WHERE key > ? ORDER BY key LIMIT ?", (last, page)
                ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield [_item(r, v) for r, v in rows]

    def close(self) -> None:
        """Drop the set (and its file)."""
        with self._lock:
            self._mem = {}
            self._count = 0
            if self._db is not None:
                self._db.close()
                self._db = None
            if self._dir is not None:
                self._dir.cleanup()
                self._dir = None

    def _spill(self) -> None:
        """Move the keys held in memory to a new SQLite file (called with the lock held)."""
        self._dir = tempfile.TemporaryDirectory(prefix="pathways-keys-")
        db = sqlite3.connect(
            Path(self._dir.name) / "keys.db", isolation_level=None, check_same_thread=False
        )
        for pragma in (
            "journal_mode=OFF",  # a scratch file: nothing to recover after a crash
            "synchronous=OFF",
            "locking_mode=EXCLUSIVE",
            f"cache_size=-{CACHE_KIB}",
            "temp_store=FILE",
        ):
            db.execute(f"PRAGMA {pragma}")
        db.execute("CREATE TABLE k (key BLOB PRIMARY KEY, value TEXT) WITHOUT ROWID")
        # One transaction for the set's whole life: no commit per insert (never read by others).
        db.execute("BEGIN")
        assert self._mem is not None
        db.executemany("INSERT INTO k VALUES (?, ?)", self._mem.items())
        self._mem = None
        self._db = db


def _item(raw: bytes, value: str | None) -> tuple[str, list[str]]:
    return raw.decode("utf-8", "surrogatepass"), [] if value is None else json.loads(value)
