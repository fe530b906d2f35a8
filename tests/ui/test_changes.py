"""Run history's change words (`ui.changes`)."""

from __future__ import annotations

from store.models import SyncRun
from ui.changes import change_words


def test_counts_in_words():
    run = SyncRun(pathway_id=1, rows_new=1200, rows_changed=340, rows_left=45)
    assert change_words(run) == "+1,200 new · 340 changed · 45 left"


def test_runs_without_counts_say_nothing():
    assert change_words(SyncRun(pathway_id=1)) == ""
    assert change_words(SyncRun(pathway_id=1, rows_new=0)) == "+0 new · 0 changed · 0 left"
