"""'Used for sending' through the Push Audiences wizard, Column Mapping and Manage Pathways (AppTest).

Demo workspace, real in-process simulator and worker; what SFMC would hold is read from the
simulator's inspection API.
"""

from __future__ import annotations

import pytest

from tests.pages.conftest import page_app, sim_state
from tests.pages.test_pages_demo import _pick_audience, _wait_for_run

AUDIENCE = "Monthly givers"


@pytest.fixture
def demo_dir(tmp_path):
    """A demo workspace of this test's own: the tests write to it."""
    return tmp_path / "demo_sending"


def _to_review():
    at = page_app("pages/push_audiences.py", "staff", timeout=60).run()
    _pick_audience(at, AUDIENCE)
    next(b for b in at.button if b.label.startswith("Next")).click().run()
    next(b for b in at.button if b.label.startswith("Next")).click().run()
    assert not at.exception
    next(s for s in at.selectbox if s.label.startswith("Category")).select_index(0)
    return at


def _widget(items, start: str):
    return next(w for w in items if w.label.startswith(start))


def _summary(at) -> str:
    next(b for b in at.button if b.label == "Next: summary").click().run()
    assert not at.exception
    return " ".join(m.value for m in at.markdown)


def _push(at) -> str:
    """Confirm; the pushed DE's key once the run succeeded."""
    next(b for b in at.button if b.label == "Confirm and push").click().run()
    assert not at.exception
    run = _wait_for_run(at.session_state["push_run_id"], timeout=60)
    assert run.state == "succeeded", run.error
    from store.pathways import get_pathway
    from ui import state as deps

    with deps.session() as session:
        return get_pathway(at.session_state["push_pathway_id"], session=session).de_customer_key


def test_sendable_is_on_by_default_with_the_email_relationship(demo_env):
    at = _to_review()
    assert _widget(at.toggle, "Used for sending").value is True
    assert _widget(at.selectbox, "Send relationship").value == "email"
    assert _widget(at.selectbox, "… relates to").value == "Email Address"
    _widget(at.toggle, "Testable").set_value(True)
    _widget(at.toggle, "Delete data after a period").set_value(True)
    _widget(at.number_input, "Period").set_value(90)
    _widget(at.selectbox, "Unit").set_value("Days")
    summary = _summary(at)
    assert at.session_state["push_step"] == 4, [e.value for e in at.error]
    assert "Sendable on Email Address → email · testable" in summary
    assert "All rows deleted after 90 days" in summary
    key = _push(at)
    de = sim_state(f"dataextensions/{key}")
    assert (de["isSendable"], de["isTestable"], de["sendableField"]) == (True, True, "email")
    assert de["sendableSubscriberField"] == "Email Address"
    assert (de["retention"]["length"], de["retention"]["unit"]) == (90, "Days")

    cards = page_app("pages/manage_pathways.py", "analyst", timeout=60).run()
    assert not cards.exception
    assert any("Sendable on Email Address → email" in m.value for m in cards.markdown)


def test_sendable_off_creates_a_plain_de_and_column_mapping_turns_it_on(demo_env):
    at = _to_review()
    _widget(at.toggle, "Used for sending").set_value(False)
    summary = _summary(at)
    assert "Not sendable" in summary
    assert "Kept (no retention)" in summary
    key = _push(at)
    assert sim_state(f"dataextensions/{key}")["isSendable"] is False

    cm = page_app("pages/column_mapping.py", "staff", timeout=60).run()
    assert not cm.exception
    assert _widget(cm.toggle, "Used for sending").value is False
    assert _widget(cm.selectbox, "Send relationship").value == "email"  # the suggestion, ready
    _widget(cm.toggle, "Used for sending").set_value(True)
    next(b for b in cm.button if b.label == "Save sending settings").click().run()
    assert not cm.exception
    assert not cm.error, [e.value for e in cm.error]
    assert any("Now: Sendable on Email Address → email" in c.value for c in cm.caption)
    from store.pathways import list_pathways
    from ui import state as deps

    with deps.session() as session:
        (pathway,) = list_pathways(session=session)
        assert pathway.options["sending"] == {
            "field": "email",
            "relates_to": "Email Address",
            "testable": False,
        }


def test_wrong_relationship_is_refused_before_any_call(demo_env):
    at = _to_review()
    _widget(at.selectbox, "… relates to").set_value("Subscriber Key")
    before = sim_state("stats")["requests"]
    des_before = sim_state("dataextensions")["count"]
    _summary(at)
    assert at.session_state["push_step"] == 3
    errors = [e.value for e in at.error]
    assert any("needs a field of type Text" in e for e in errors), errors
    assert at.session_state["push_pathway_id"] is None
    assert sim_state("stats")["requests"] == before  # nothing sent to Marketing Cloud
    assert sim_state("dataextensions")["count"] == des_before
    # Fixed after the refusal, the next submit takes the new value (the widgets keep their
    # identity although the saved settings, their defaults, changed).
    _widget(at.selectbox, "… relates to").set_value("Email Address")
    assert "Sendable on Email Address → email" in _summary(at)
    assert at.session_state["push_step"] == 4


def test_non_sendable_shared_de_gets_a_warning(demo_env):
    at = page_app("pages/push_audiences.py", "staff", timeout=60).run()
    _pick_audience(at, AUDIENCE)
    next(b for b in at.button if b.label.startswith("Next")).click().run()
    next(b for b in at.button if b.label.startswith("Next")).click().run()
    next(r for r in at.radio if r.label == "Destination Object").set_value("membership_flag").run()
    _widget(at.selectbox, "Shared Data Extension").select("all_donors_master").run()
    assert not any("is not sendable" in w.value for w in at.warning)  # sendable in the demo
    _widget(at.selectbox, "Shared Data Extension").select("gala_2024_rsvp").run()
    assert not at.exception
    assert any("is not sendable" in w.value for w in at.warning)
