"""Contacts and journey batches as a real tenant answers them (issue 15): a 200 with hasErrors
is a refusal, and journey members are judged only once SFMC has processed them."""

import responses
from responses import matchers, registries

from sfmc.contacts import upsert_contact
from sfmc.journeys import STATUS_POLLS, fire_entry_events
from tests.sfmc import fixtures as fx
from tests.sfmc.conftest import add_token

CONTACTS_URL = fx.REST + "contacts/v1/contacts"
EVENTS_URL = fx.REST + "interaction/v1/async/events"
STATUS_URL = fx.REST + "interaction/v1/async/events/status"
KEY = "APIEvent-1"


def test_contact_answered_200_with_has_errors_is_a_refusal_with_its_reason(client):
    partial = {
        "operationStatus": "OK",
        "hasErrors": True,
        "contactKey": "DONOR-1",
        "resultMessages": [
            {
                "resultCode": "InvalidAttributeValue",
                "message": "Value 'x' is not valid for attribute 'Birthday'.",
                "formatStringParams": ["Email Demographics", "Birthday"],
            }
        ],
    }
    with responses.RequestsMock() as rsps:
        add_token(rsps)
        rsps.add(responses.POST, CONTACTS_URL, json=partial)
        out = upsert_contact(client, "DONOR-1", {"Email Demographics.Birthday": "x"})
    assert not out.ok
    assert out.error_type == "InvalidAttributeValue"
    assert out.field == "Email Demographics.Birthday"
    assert "Birthday" in out.error_details


def _accepted(n):
    members = [{"contactKey": f"C{i}", "eventInstanceId": f"e{i}"} for i in range(n)]
    return {"requestId": "b1", "count": n, "notQueuedCount": 0, "members": members}


def _queued(count):
    return {"page": 1, "pageSize": 1, "count": count, "items": []}


def test_journey_batch_is_polled_until_processed_and_errored_members_are_rejected(client, sleeps):
    errored = {
        "page": 1,
        "pageSize": 50,
        "count": 1,
        "items": [
            {"eventInstanceId": "e1", "status": "errored", "errorcode": "10001",
             "message": "Field 'Amount' is not a number."}
        ],
    }  # fmt: skip
    with responses.RequestsMock(registry=registries.OrderedRegistry) as rsps:
        add_token(rsps)
        rsps.add(responses.POST, EVENTS_URL, status=202, json=_accepted(2))
        queued = matchers.query_param_matcher(
            {"requestId": "b1", "type": "queued", "$page": "1", "$pageSize": "1"}
        )
        rsps.add(responses.GET, STATUS_URL, json=_queued(2), match=[queued])
        rsps.add(responses.GET, STATUS_URL, json=_queued(0), match=[queued])
        rsps.add(
            responses.GET,
            STATUS_URL,
            json=errored,
            match=[matchers.query_param_matcher({"type": "errored"}, strict_match=False)],
        )
        out = fire_entry_events(client, KEY, [("C0", {}), ("C1", {"Amount": "x"})])
    assert out[0].ok
    assert (out[1].ok, out[1].error_details) == (False, "Field 'Amount' is not a number.")
    assert sleeps == [1.0]


def test_journey_members_never_processed_are_rejected_saying_not_to_resend_blindly(client):
    with responses.RequestsMock(registry=registries.OrderedRegistry) as rsps:
        add_token(rsps)
        rsps.add(responses.POST, EVENTS_URL, status=202, json=_accepted(1))
        for _ in range(STATUS_POLLS):
            rsps.add(responses.GET, STATUS_URL, json=_queued(1))
        out = fire_entry_events(client, KEY, [("C0", {})])
    assert not out[0].ok
    assert not out[0].retryable
    assert "would enter it twice" in out[0].error_details
