"""The schedule control on Manage Pathways: a schedule chosen, read back in words, saved."""

from __future__ import annotations

import pytest

from tests.pages.conftest import page_app


@pytest.fixture
def demo_dir(tmp_path):
    return tmp_path


def _pathway(deps) -> int:
    from store.audiences import get_audience_by_name
    from store.connections import list_connections
    from store.pathways import create_pathway

    with deps.session() as session:
        aud = get_audience_by_name("Monthly givers", session=session)
        conn = list_connections(session=session)[0]
        return int(create_pathway(aud.id, conn.id, "Weekly givers", "weekly_givers", category_id=1000,
                                  primary_keys=["email"], session=session).id)  # fmt: skip


def test_weekly_schedule_saved_from_the_page(demo_env):
    from store.pathways import get_pathway
    from ui import state as deps

    page_app("pages/manage_pathways.py", "staff", timeout=60).run()  # builds the workspace
    pid = _pathway(deps)
    at = page_app("pages/manage_pathways.py", "staff", timeout=60).run()
    # A manual pathway has no next run: the card says so in the schedule control's words.
    assert "**Next run**  \nManual only" in [m.value for m in at.markdown]
    at.radio(key=f"sch_kind_{pid}").set_value("weekly").run()
    at.multiselect(key=f"sch_days_{pid}").set_value(["mon", "thu"]).run()
    at.text_input(key=f"sch_time_{pid}").set_value("7.15").run()
    assert any("HH:MM on a 24-hour clock" in e.value for e in at.error)  # refused before saving
    assert not [b for b in at.button if b.key == f"sch_save_{pid}"]
    at.text_input(key=f"sch_time_{pid}").set_value("07:15").run()
    at.selectbox(key=f"sch_tz_{pid}").set_value("Europe/London").run()
    preview = next(i.value for i in at.info if "Weekly on" in i.value)
    assert preview.startswith("Weekly on Monday and Thursday at 07:15 (Europe/London) · next: ")
    at.button(key=f"sch_save_{pid}").click().run()
    assert not at.exception
    with deps.session() as session:
        saved = get_pathway(pid, session=session)
    assert saved.schedule == "weekly mon,thu 07:15 Europe/London"
    assert saved.schedule_slot is not None
    assert any(c.value.startswith("Weekly on Monday and Thursday at 07:15") for c in at.caption)
