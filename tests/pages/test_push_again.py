"""The wizard starts afresh after "Push another audience" (AppTest, demo workspace of its own)."""

from __future__ import annotations

import pytest

from tests.pages.conftest import page_app
from tests.pages.test_pages_demo import _pick_audience, _wait_for_run


@pytest.fixture
def demo_dir(tmp_path):
    return tmp_path / "demo"


def _to_summary(at, audience: str) -> None:
    _pick_audience(at, audience)
    next(b for b in at.button if b.label.startswith("Next")).click().run()
    next(b for b in at.button if b.label.startswith("Next")).click().run()
    next(s for s in at.selectbox if s.label.startswith("Category")).select_index(0)
    next(b for b in at.button if b.label == "Next: summary").click().run()
    assert not at.exception
    assert at.session_state["push_step"] == 4, [e.value for e in at.error]


def _shows_a_dry_run(at) -> bool:
    return any(m.label == "To create" for m in at.metric) or any(
        "Dry run finished" in m.value for m in at.markdown
    )


def test_push_another_audience_forgets_the_previous_dry_run(demo_env):
    """Bug: the reset used a function as a session key and kept push_dry_run_id, so the next
    audience's summary showed the previous audience's dry run."""
    at = page_app("pages/push_audiences.py", "staff", timeout=60).run()
    _to_summary(at, "Monthly givers")
    next(b for b in at.button if b.label == "Dry run preview").click().run()
    dry_id = at.session_state["push_dry_run_id"]
    assert _wait_for_run(dry_id, timeout=60).state == "succeeded"
    at.run()
    assert _shows_a_dry_run(at)
    next(b for b in at.button if b.label == "Confirm and push").click().run()
    assert _wait_for_run(at.session_state["push_run_id"], timeout=60).state == "succeeded"
    at.run()
    next(b for b in at.button if b.label == "Push another audience").click().run()
    assert not at.exception
    assert at.session_state["push_step"] == 1
    assert at.session_state["push_dry_run_id"] is None
    assert at.session_state["push_run_id"] is None
    assert at.session_state["push_settings"] == {}

    _to_summary(at, "All donors")
    assert "All donors" in " ".join(m.value for m in at.markdown)
    assert not _shows_a_dry_run(at)
    assert any(b.label == "Dry run preview" for b in at.button)
