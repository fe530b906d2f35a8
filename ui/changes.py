"""What a run changed, for run history: "+120 new · 340 changed · 45 left".

The counts are stored on the run by `store.run_changes`; runs from before they were kept (and
dry runs, failed runs) have none and show nothing. The words go under the pathway's card; the
history table takes the numbers (a text cell starting with "+" would be escaped there as a
spreadsheet formula).
"""

from __future__ import annotations

from typing import Any


def change_columns(run: Any) -> dict[str, int | None]:
    """The run's new / changed / left members as history-table columns (None: not recorded)."""
    return {
        "New": getattr(run, "rows_new", None),
        "Changed": getattr(run, "rows_changed", None),
        "Left": getattr(run, "rows_left", None),
    }


def change_words(run: Any) -> str:
    """'+120 new · 340 changed · 45 left' for a run that recorded them; '' otherwise."""
    if run is None or getattr(run, "rows_new", None) is None:
        return ""
    return (
        f"+{run.rows_new:,} new · {run.rows_changed or 0:,} changed · {run.rows_left or 0:,} left"
    )
