"""Each destination kind through the Push Audiences wizard to a finished run (AppTest).

Demo workspace, real in-process simulator and worker. After the run, the simulator's state (its
inspection API) is compared row by row with what the "Monthly givers" audience implies.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.pages.conftest import page_app, sim_state
from tests.pages.test_pages_demo import _pick_audience, _wait_for_run

AUDIENCE = "Monthly givers"


@pytest.fixture
def demo_dir(tmp_path):
    """A demo workspace of this test's own: the tests write to it."""
    return tmp_path / "demo_kinds"


def _audience_rows() -> dict[str, dict]:
    """The audience as the push reads it, by donor id."""
    from store.audience_rows import iter_rows
    from store.audiences import list_audiences
    from ui import state as deps

    with deps.session() as session:
        aud = next(a for a in list_audiences(session=session) if a.name == AUDIENCE)
    return {r["donor_id"]: r for chunk in iter_rows(deps.get_engine(), aud.id) for r in chunk}


def _to_review(kind: str):
    at = page_app("pages/push_audiences.py", "staff", timeout=60).run()
    _pick_audience(at, AUDIENCE)
    next(b for b in at.button if b.label.startswith("Next")).click().run()
    next(b for b in at.button if b.label.startswith("Next")).click().run()
    assert not at.exception
    next(r for r in at.radio if r.label == "Destination Object").set_value(kind).run()
    assert not at.exception
    return at


def _finish(at) -> object:
    next(b for b in at.button if b.label == "Next: summary").click().run()
    assert not at.exception
    assert at.session_state["push_step"] == 4, [e.value for e in at.error]
    assert "Estimated record count" in " ".join(m.value for m in at.markdown)
    next(b for b in at.button if b.label == "Confirm and push").click().run()
    assert not at.exception
    run = _wait_for_run(at.session_state["push_run_id"], timeout=60)
    assert run.state == "succeeded", run.error
    at.run()
    assert not at.exception
    return run


def _rejected_keys(run_id: int) -> dict[str, str]:
    from sqlmodel import select

    from store.models import RejectedRow
    from ui import state as deps

    with deps.session() as session:
        rows = session.exec(select(RejectedRow).where(RejectedRow.run_id == run_id)).all()
        return {r.row_values["donor_id"]: r.error_type for r in rows}


def _day(text: str) -> str:
    return datetime.strptime(text, "%m/%d/%Y %I:%M:%S %p").date().isoformat()


def test_membership_flag_from_the_wizard(demo_env):
    at = _to_review("membership_flag")
    shared = next(s for s in at.selectbox if s.label.startswith("Shared Data Extension"))
    shared.select("all_donors_master").run()
    assert not at.exception
    flag = next(t for t in at.text_input if t.label.startswith("Flag field name"))
    assert flag.value == f"In {AUDIENCE}"
    key = next(s for s in at.selectbox if s.label.startswith("Contact key column"))
    assert key.value == "donor_id"
    run = _finish(at)

    audience = _audience_rows()
    rejected = _rejected_keys(run.id)
    de = {
        r["SubscriberKey"]: r for r in sim_state("dataextensions/all_donors_master/rows")["items"]
    }
    members = {k: r for k, r in de.items() if k in audience}
    assert set(members) | set(rejected) == set(audience)
    assert not set(members) & set(rejected)
    assert set(rejected.values()) <= {"InvalidEmailAddress", "NullValue"}  # demo's bad emails
    for donor_id, row in members.items():
        assert row[f"In {AUDIENCE}"] == "True"
        assert row["Email"] == audience[donor_id]["email"]
    # The account's own supporters are untouched (no flag set, nothing deleted).
    others = [r for k, r in de.items() if k not in audience]
    assert len(others) == 500
    assert not any(r.get(f"In {AUDIENCE}") == "True" for r in others)


def test_contacts_from_the_wizard(demo_env):
    at = _to_review("contacts")
    mapped = at.session_state["push_dest_frame"][1]
    # "Email Addresses" also needs "HTML Enabled", which the demo data lacks: not suggested.
    assert set(mapped["Destination field"]) == {
        "Email Demographics.First Name",
        "Email Demographics.Last Name",
        "Donor Profile.Last Gift Date",
    }
    run = _finish(at)

    audience = _audience_rows()
    rejected = _rejected_keys(run.id)
    contacts = {c["contactKey"]: c["attributeSets"] for c in sim_state("contacts")["items"]}
    assert set(contacts) | set(rejected) == set(audience)
    assert contacts, "no contact reached SFMC"
    for key, sets in contacts.items():
        row = audience[key]
        assert sets["Email Demographics"]["First Name"] == row["first_name"]
        assert sets["Email Demographics"]["Last Name"] == row["last_name"]
        gift = sets.get("Donor Profile", {}).get("Last Gift Date")
        assert (_day(gift) if gift else None) == row["last_gift_date"]


def test_journey_event_from_the_wizard(demo_env):
    at = _to_review("journey_event")
    event = next(s for s in at.selectbox if s.label == "Which journey (its API entry event)")
    welcome = next(o for o in event.options if "Welcome" in o)
    event.select_index(event.options.index(welcome)).run()
    assert not at.exception
    sent_as = next(s for s in at.selectbox if s.label == "… sent as")
    assert sent_as.value == "ContactKey"
    run = _finish(at)

    audience = _audience_rows()
    rejected = _rejected_keys(run.id)
    events = sim_state("events")["items"]
    fired = {e["contactKey"]: e["data"] for e in events if e["status"] != "Failed"}
    assert len(fired) == len([e for e in events if e["status"] != "Failed"])  # one each
    assert set(fired) | set(rejected) == set(audience)
    for key, data in fired.items():
        assert data["EmailAddress"] == (audience[key]["email"] or "")
        assert data["FirstName"] == (audience[key]["first_name"] or "")


def test_data_extension_with_generated_key_and_title_case(demo_env):
    at = page_app("pages/push_audiences.py", "staff", timeout=60).run()
    _pick_audience(at, AUDIENCE)
    next(b for b in at.button if b.label.startswith("Next")).click().run()
    next(b for b in at.button if b.label.startswith("Next")).click().run()
    next(t for t in at.toggle if t.label.startswith("Title Case")).set_value(True).run()
    next(t for t in at.toggle if t.label.startswith("Generated unique ID")).set_value(True).run()
    assert not at.exception
    assert "First Name" in list(at.session_state["push_mapping"]["Destination field"])
    next(s for s in at.selectbox if s.label.startswith("Category")).select_index(0)
    run = _finish(at)

    from store.pathways import get_pathway
    from ui import state as deps

    with deps.session() as session:
        pathway = get_pathway(at.session_state["push_pathway_id"], session=session)
        assert pathway.options.get("generated_key") is True
        assert pathway.method == "append"
        key = pathway.de_customer_key
    audience = _audience_rows()
    rows = sim_state(f"dataextensions/{key}/rows")["items"]
    assert rows, "nothing reached the DE"
    assert len(rows) + run.rows_failed == len(audience)
    assert len({r["Pathways ID"] for r in rows}) == len(rows)  # one new UUID per row
    assert {r["Donor Id"] for r in rows} <= set(audience)
