"""Run history's change counts (`ui.changes`)."""

from __future__ import annotations

from store.models import SyncRun
from ui.changes import change_columns, change_words


def test_counts_in_words_and_columns():
    run = SyncRun(pathway_id=1, rows_new=1200, rows_changed=340, rows_left=45)
    assert change_words(run) == "+1,200 new · 340 changed · 45 left"
    assert change_columns(run) == {"New": 1200, "Changed": 340, "Left": 45}


def test_runs_without_counts_say_nothing():
    assert change_words(SyncRun(pathway_id=1)) == ""
    assert change_words(None) == ""
    assert change_columns(SyncRun(pathway_id=1)) == {"New": None, "Changed": None, "Left": None}
    assert change_words(SyncRun(pathway_id=1, rows_new=0)) == "+0 new · 0 changed · 0 left"
