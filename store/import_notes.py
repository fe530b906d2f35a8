"""The notes an import report shows besides its counts: formulas, padding, limits reached.

Pure text from what the readers and the column statistics found (no database).
"""

from __future__ import annotations

from typing import Any

from store.csv_source import Collector


def import_notes(
    notes: list[str],
    columns: list[dict[str, Any]],
    collector: Collector,
    stopped_after: int | None,
    blank_run: int,
) -> list[str]:
    """What the page should tell about the import besides the counts.

    `notes` are the reader's and the header's; `stopped_after` is the line where a run of
    `blank_run` blank rows ended the reading, if one did.
    """
    notes = notes + [c["note"] for c in columns if "note" in c]
    formulas = sum(c.get("formulas", 0) for c in columns)
    if formulas:
        where = ", ".join(
            f"{c['original']!r}: {c['formulas']:,}" for c in columns if "formulas" in c
        )
        cells = "1 cell starts" if formulas == 1 else f"{formulas:,} cells start"
        notes.append(
            f"{cells} with = + - or @ (or a tab) like spreadsheet formulas ({where}); they are "
            "stored as they are, and escaped in downloads for spreadsheets (a ' before each)."
        )
    for c in columns:
        if c.get("padded"):
            notes.append(
                f"{c['padded']:,} values of {c['original']!r} have spaces before or after them; "
                "trim them in the file if they are not meant to be there (a key with spaces is "
                "a different key)."
            )
    if collector.refused > len(collector.problems):
        notes.append(
            f"Only the first {len(collector.problems):,} of {collector.refused:,} refused "
            "rows are listed."
        )
    if stopped_after is not None:
        notes.append(
            f"Reading stopped at line {stopped_after:,}: it ends a run of "
            f"{blank_run:,} blank rows, and anything below them was not read. If "
            "the file has more data further down, remove the blank rows and upload it again."
        )
    return notes
