"""Column names of imported data sets: safe SQL identifiers made from the file's headers."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

MAX_NAME_LENGTH = 60  # PostgreSQL cuts identifiers at 63 bytes; leave room for suffixes.


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
