"""Runs of Data Extension pathways that send: the DE is created (or turned) sendable in the simulator.

The settings come from the pathway's options JSON (`sync.sending`); the simulator's inspection
API shows what SFMC would hold. Wrong settings fail the run before any call, with their kind.
"""

from __future__ import annotations

import requests
from sqlmodel import Session

from sfmc.types import EMAIL_ADDRESS, SUBSCRIBER_KEY, Retention, Sending
from store.pathways import set_mapping, update_pathway
from sync.destinations import DATA_EXTENSION
from sync.sending import retention_options, sending_options
from tests.destinations.conftest import inspect, run
from ui.errors import run_error_help

ROWS = [{"id": f"D{i}", "email": f"p{i}@example.org", "name": f"P {i}"} for i in range(1, 6)]
MAPPING = [
    {"source_column": "id", "destination_field": "Id", "field_type": "Text", "length": 20,
     "required": True, "is_primary_key": True},
    {"source_column": "email", "destination_field": "Email", "field_type": "EmailAddress",
     "length": 254, "required": True},
    {"source_column": "name", "destination_field": "Name", "field_type": "Text", "length": 50},
]  # fmt: skip
ON_EMAIL = Sending("Email", EMAIL_ADDRESS, testable=True)


def _pathway(engine, make_pathway, key, sending=None, retention=None, mapping=MAPPING):
    options = {"sending": sending_options(sending), "retention": retention_options(retention)}
    pathway_id, _ = make_pathway(
        ROWS, kind=DATA_EXTENSION, mapping=mapping, options=options, de_key=key
    )
    with Session(engine) as session:
        update_pathway(pathway_id, session=session, category_id=1000, primary_keys=["Id"])
    return pathway_id


def _set_sending(engine, pathway_id, sending):
    with Session(engine) as session:
        update_pathway(pathway_id, session=session, options={"sending": sending_options(sending)})


def _exists(sim, key):
    return requests.get(f"{sim.base_url}/_sim/dataextensions/{key}", timeout=10).status_code == 200


def test_sendable_de_is_created_with_its_relationship_and_retention(engine, sim, make_pathway):
    kept = Retention(3, "Months", row_based=True)
    pathway_id = _pathway(engine, make_pathway, "send_new", ON_EMAIL, kept)
    done, _ = run(engine, pathway_id)
    assert done.state == "succeeded", done.error
    de = inspect(sim, "dataextensions/send_new")
    assert (de["isSendable"], de["isTestable"]) == (True, True)
    assert (de["sendableSubscriberField"], de["sendableField"]) == (EMAIL_ADDRESS, "Email")
    assert de["retention"] == {
        "length": 3,
        "unit": "Months",
        "rowBased": True,
        "deleteAtEnd": False,
        "resetOnImport": False,
    }
    assert de["rowCount"] == len(ROWS)


def test_pathway_without_sending_creates_a_plain_de(engine, sim, make_pathway):
    pathway_id = _pathway(engine, make_pathway, "send_off")
    done, _ = run(engine, pathway_id)
    assert done.state == "succeeded", done.error
    de = inspect(sim, "dataextensions/send_off")
    assert (de["isSendable"], de["retention"]) == (False, None)


def test_wrong_relationship_fails_before_any_call(engine, sim, make_pathway):
    pathway_id = _pathway(engine, make_pathway, "send_bad", Sending("Email", SUBSCRIBER_KEY))
    requests_before = inspect(sim, "stats")["requests"]
    done, _ = run(engine, pathway_id)
    assert done.state == "failed"
    assert done.error_kind == "send_relationship"
    assert "needs a field of type Text" in done.error
    assert done.api_calls == 0
    assert not _exists(sim, "send_bad")
    assert inspect(sim, "stats")["requests"] == requests_before  # not even a token


def test_existing_de_is_turned_sendable_on_the_next_run(engine, sim, make_pathway):
    pathway_id = _pathway(engine, make_pathway, "send_later")
    assert run(engine, pathway_id)[0].state == "succeeded"
    assert inspect(sim, "dataextensions/send_later")["isSendable"] is False
    _set_sending(engine, pathway_id, ON_EMAIL)
    dry, _ = run(engine, pathway_id, dry_run=True)
    assert dry.state == "succeeded", dry.error
    assert "would be made sendable" in " ".join(dry.plan["notes"])
    assert inspect(sim, "dataextensions/send_later")["isSendable"] is False
    done, _ = run(engine, pathway_id)
    assert done.state == "succeeded", done.error
    de = inspect(sim, "dataextensions/send_later")
    assert (de["isSendable"], de["sendableField"], de["isTestable"]) == (True, "Email", True)


def test_existing_de_that_cannot_become_sendable_says_how_to_fix(engine, sim, make_pathway):
    loose = [dict(m, required=False) if m["destination_field"] == "Email" else m for m in MAPPING]
    pathway_id = _pathway(engine, make_pathway, "send_never", mapping=loose)
    assert run(engine, pathway_id)[0].state == "succeeded"
    # The pathway now asks for Email as required (the wizard marks it so); SFMC's field is not.
    with Session(engine) as session:
        set_mapping(
            pathway_id, [{"ordinal": i, **m} for i, m in enumerate(MAPPING)], session=session
        )
    _set_sending(engine, pathway_id, ON_EMAIL)
    done, _ = run(engine, pathway_id)
    assert done.state == "failed"
    assert done.error_kind == "sendable_refused"
    assert "must be required" in done.error
    assert "Used for sending" in run_error_help(done)
    assert inspect(sim, "dataextensions/send_never")["isSendable"] is False
