"""Contacts/Journey simulator state, driven through its router without HTTP (fast unit checks)."""

import json

import pytest

from simulator.contacts_journeys.core import ContactsJourneys
from simulator.contacts_journeys.values import contact_key_problem

WELCOME = "APIEvent-3f2a9c1e-77d0-4b5e-9c1a-0d9e2b7c4a11"


@pytest.fixture
def cj():
    return ContactsJourneys(seed="demo")


def call(cj, method, path, body=None, query=None, scopes=None):
    raw = json.dumps(body).encode() if body is not None else b""
    resp = cj.handle_path(method, path, query or {}, raw, scopes)
    assert resp is not None
    return resp


def contact(key, email="pat@example.org", **extra):
    sets = [
        {
            "name": "Email Addresses",
            "items": [
                {
                    "values": [
                        {"name": "Email Address", "value": email},
                        {"name": "HTML Enabled", "value": True},
                    ]
                }
            ],
        }
    ]
    return {"contactKey": key, "attributeSets": sets, **extra}


def test_attribute_set_definitions_list_system_and_custom_sets(cj):
    resp = call(cj, "GET", "/contacts/v1/attributeSetDefinitions")
    names = [item["name"]["value"] for item in resp.body["items"]]
    assert resp.status == 200
    assert names == ["Email Addresses", "Email Demographics", "Donor Profile"]
    assert (
        resp.body["items"][0]["attributes"][0]["fullyQualifiedName"]
        == "Email Addresses.Email Address"
    )


def test_contact_upsert_creates_then_updates(cj):
    first = call(cj, "POST", "/contacts/v1/contacts", contact("D-1"))
    again = call(cj, "PATCH", "/contacts/v1/contacts", contact("D-1", "new@example.org"))
    assert (first.status, first.body["isNewContactKey"], first.body["rowsAffected"]) == (
        200,
        True,
        1,
    )
    assert (again.status, again.body["isNewContactKey"]) == (200, False)
    assert again.body["contactID"] == first.body["contactID"]
    assert cj.contacts["D-1"].attributes["Email Addresses"]["Email Address"] == "new@example.org"


@pytest.mark.parametrize(
    ("key", "code"),
    [("", "ContactKeyRequired"), ("a:b", "ContactKeyInvalid"), ("x" * 255, "ContactKeyInvalid")],
)
def test_contact_key_rules(cj, key, code):
    resp = call(cj, "POST", "/contacts/v1/contacts", contact(key))
    assert resp.status == 400
    assert resp.body["operationStatus"] == "FAIL"
    assert resp.body["resultMessages"][0]["resultCode"] == code
    assert contact_key_problem(key)[0] == code


def test_unknown_set_attribute_and_bad_value_are_reported_together(cj):
    body = {
        "contactKey": "D-2",
        "attributeSets": [
            {"name": "Email Demografics", "items": []},
            {
                "name": "Donor Profile",
                "items": [
                    {
                        "values": [
                            {"name": "Nope", "value": 1},
                            {"name": "Lifetime Giving", "value": "lots"},
                        ]
                    }
                ],
            },
        ],
    }
    resp = call(cj, "POST", "/contacts/v1/contacts", body)
    codes = [m["resultCode"] for m in resp.body["resultMessages"]]
    assert resp.status == 400
    assert codes == ["AttributeSetNotFound", "AttributeNotFound", "InvalidValue"]
    assert "D-2" not in cj.contacts


def test_missing_scope_is_403_20002(cj):
    resp = call(
        cj, "POST", "/contacts/v1/contacts", contact("D-3"), scopes={"list_and_subscribers_read"}
    )
    assert (resp.status, resp.body["errorcode"]) == (403, 20002)


def test_single_event_writes_the_event_de_row(cj):
    data = {"ContactKey": "D-4", "EmailAddress": "d4@example.org", "AudienceName": "Lapsed"}
    resp = call(
        cj,
        "POST",
        "/interaction/v1/events",
        {"ContactKey": "D-4", "EventDefinitionKey": WELCOME, "Data": data},
    )
    assert resp.status == 201
    assert cj.de_store.rows["pathways_welcome_entry"] == [data]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"ContactKey": "D-5", "EventDefinitionKey": "APIEvent-nope"}, 30000),
        ({"EventDefinitionKey": WELCOME}, 10002),
        (
            {
                "ContactKey": "D-5",
                "EventDefinitionKey": WELCOME,
                "Data": {"Nope": 1, "ContactKey": "D-5"},
            },
            10005,
        ),
        (
            {
                "ContactKey": "D-5",
                "EventDefinitionKey": WELCOME,
                "Data": {"EmailAddress": "x@example.org"},
            },
            10002,
        ),
    ],
)
def test_single_event_errors(cj, body, code):
    resp = call(cj, "POST", "/interaction/v1/events", body)
    assert (resp.status, resp.body["errorcode"]) == (400, code)


def test_async_batch_with_member_errors_and_status(cj):
    members = [
        {"contactKey": "D-6", "data": {"ContactKey": "D-6"}},
        {"contactKey": "", "data": {}},
        {"contactKey": "D-7", "data": {"ContactKey": "D-7", "EmailAddress": "not-an-email"}},
    ]
    resp = call(
        cj,
        "POST",
        "/interaction/v1/async/events",
        {"eventDefinitionKey": WELCOME, "members": members},
    )
    assert resp.status == 202
    assert (resp.body["count"], resp.body["notQueuedCount"]) == (3, 1)
    assert resp.body["members"][1]["errorcode"] == "10002"
    status = call(
        cj,
        "GET",
        "/interaction/v1/async/events/status",
        query={"requestId": resp.body["requestId"]},
    )
    by_key = {i["contactKey"]: i["status"] for i in status.body["items"]}
    assert by_key == {"D-6": "processed", "D-7": "errored"}
    assert cj.de_store.rows["pathways_welcome_entry"] == [{"ContactKey": "D-6"}]


def test_async_batch_over_100_members_is_refused(cj):
    members = [{"contactKey": f"K{i}", "data": {"ContactKey": f"K{i}"}} for i in range(101)]
    resp = call(
        cj,
        "POST",
        "/interaction/v1/async/events",
        {"eventDefinitionKey": WELCOME, "members": members},
    )
    assert resp.status == 400


def test_fault_knobs_throttle_then_server_error(cj):
    call(cj, "POST", "/_sim/contacts_journeys/faults", {"throttle": 1, "server_errors": 1})
    first = call(cj, "GET", "/interaction/v1/eventDefinitions")
    second = call(cj, "GET", "/interaction/v1/eventDefinitions")
    third = call(cj, "GET", "/interaction/v1/eventDefinitions")
    assert (first.status, dict(first.headers)["Retry-After"]) == (429, "5")
    assert [second.status, third.status] == [500, 200]
    assert third.body["count"] == 2


def test_event_definition_by_key_and_unknown_key(cj):
    ok = call(cj, "GET", f"/interaction/v1/eventDefinitions/key:{WELCOME}")
    missing = call(cj, "GET", "/interaction/v1/eventDefinitions/key:nope")
    assert ok.body["dataExtensionName"] == "Pathways Welcome Entry"
    assert missing.status == 400
