"""What a run changed, in words for run history: "+120 new · 340 changed · 45 left".

The counts are stored on the run by `store.run_changes`; runs from before they were kept (and
dry runs, failed runs) have none and show nothing.
"""

from __future__ import annotations

from typing import Any


def change_words(run: Any) -> str:
    """The run's new / changed / left members, or "" when the run did not record them."""
    if getattr(run, "rows_new", None) is None:
        return ""
    return (
        f"+{run.rows_new:,} new · {run.rows_changed or 0:,} changed · {run.rows_left or 0:,} left"
    )
