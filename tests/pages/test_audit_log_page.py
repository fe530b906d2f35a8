"""The Audit log page (AppTest): admins filter, page through and download; others are refused."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from store.audit import record_audit
from tests.pages.conftest import page_app


def _events(count: int) -> None:
    from ui import state

    now = datetime.now(UTC)
    with Session(state.get_engine()) as s:
        for i in range(count):
            who = "sam" if i % 2 else "=cmd|' /C calc'!A0"  # a name a spreadsheet would run
            record_audit(who, "queue sync", f"pathway 7, run {i}", session=s, at=now)
        record_audit("kim", "delete pathway", "Spring appeal", session=s, at=now)
        record_audit("kim", "delete data set", "old", session=s, at=now - timedelta(days=90))


def test_admin_filters_pages_and_downloads(store_env):
    _events(120)
    at = page_app("pages/audit_log.py", "admin").run()
    assert not at.exception
    assert "of 121" in at.caption[-1].value  # the 90-day-old event is outside the last 30 days
    assert len(at.dataframe[0].value) == 50
    at.number_input(key="audit_page").set_value(3).run()
    assert len(at.dataframe[0].value) == 21
    at.selectbox(key="audit_who").set_value("kim").run()
    frame = at.dataframe[0].value
    assert list(frame["Action"]) == ["delete pathway"]
    at.selectbox(key="audit_who").set_value("Everyone")
    at.text_input(key="audit_text").input("RUN 119").run()
    assert list(at.dataframe[0].value["Detail"]) == ["pathway 7, run 119"]
    at.text_input(key="audit_text").input("run_1").run()  # _ and % are not wildcards
    assert any("No events match" in i.value for i in at.info)


def test_download_is_the_filtered_set_and_spreadsheet_safe(store_env):
    from store.audit import AuditFilter, audit_csv
    from ui import state

    _events(4)
    with Session(state.get_engine()) as s:
        rows = list(
            csv.reader(io.StringIO(audit_csv(AuditFilter(actions=("queue sync",)), session=s)))
        )
    assert rows[0] == ["when (UTC)", "who", "action", "detail"]
    assert len(rows) == 5
    assert {r[1] for r in rows[1:]} == {"sam", "'=cmd|' /C calc'!A0"}


def test_only_admins_see_it(store_env):
    for role in ("staff", "analyst"):
        at = page_app("pages/audit_log.py", role).run()
        assert any("needs the admin role" in e.value for e in at.error)
        assert not at.dataframe


def test_an_empty_selection_says_what_to_do(store_env):
    at = page_app("pages/audit_log.py", "admin").run()
    assert not at.exception
    assert any("No events match" in i.value for i in at.info)
