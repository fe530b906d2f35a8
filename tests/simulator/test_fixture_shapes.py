"""The simulator answers in the shapes of real SFMC examples (`tests/fixtures/sfmc`, issue 15).

Each test makes the simulator produce the situation a fixture records and compares the answer's
shape with it: the same names at every level and the same kind of value (text, number, true or
false, null, object, list). For SOAP, every element path of the fixture's body (`xsi:nil`
placeholders aside) must be in the simulator's body.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import requests

from simulator import FaultConfig
from simulator.realism import Realism
from tests.fixtures import ROOT
from tests.simulator.conftest import PARTNER, create_de, field_xml, retrieve
from tests.simulator.test_soap import row_upsert

FIXTURES = ROOT / "tests" / "fixtures" / "sfmc"
PUT = "/data/v1/async/dataextensions/key:major_donors/rows"
WELCOME = "APIEvent-3f2a9c1e-77d0-4b5e-9c1a-0d9e2b7c4a11"
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())["response"]


def shape(value):
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "null" if value is None else "text"


def same_shape(expected, got):
    assert shape(got) == shape(expected), f"\nfixture:   {shape(expected)}\nsimulator: {shape(got)}"


def assert_like(name, resp, *, item_of=None):
    """Status and body shape of `resp` equal the fixture's (`item_of`: compare that list's
    first items only, the rest of the body as a whole without it)."""
    want = fixture(name)
    assert resp.status_code == want["status"], resp.text
    got, body = resp.json(), dict(want["body"])
    if item_of:
        same_shape(body.pop(item_of)[0], got.pop(item_of)[0])
    same_shape(body, got)


def token_body(sim, **extra):
    return {"grant_type": "client_credentials", "client_id": sim.client[0],
            "client_secret": sim.client[1], **extra}  # fmt: skip


@pytest.fixture
def demo(make_sim):
    return make_sim(seed="demo")


def realistic(make_sim, **knobs):
    return make_sim(seed="demo", random_seed=11, realism=replace(Realism(), **knobs))


def done(sim, rid):
    return sim.rest("GET", f"/data/v1/async/{rid}/status")


def submit(sim, rows, method="PUT"):
    return sim.rest(method, PUT, json={"items": rows}).json()["requestId"]


def test_token_answers(demo, make_sim):
    assert_like("token_success", requests.post(demo.url + "/v2/token", json=token_body(demo, account_id="100012345")))  # fmt: skip
    wrong = requests.post(demo.url + "/v2/token", json={**token_body(demo), "client_secret": "x"})
    assert wrong.json() == fixture("token_invalid_client")["body"]
    throttled = realistic(make_sim, token_limit=1)
    throttled.token()
    again = requests.post(throttled.url + "/v2/token", json=token_body(throttled))
    assert (again.status_code, again.json()) == (429, fixture("token_throttled")["body"])
    unauthorized = demo.rest("GET", "/data/v1/async/x/status", token="expired")
    assert unauthorized.json() == fixture("rest_not_authorized")["body"]


def test_async_submit_and_status_answers(demo, make_sim, clock):
    rid = demo.rest("PUT", PUT, json={"items": [{"SubscriberKey": "S1", "Email": "s1@example.org"}]})  # fmt: skip
    assert_like("async_submit", rid)
    unknown = demo.rest("PUT", "/data/v1/async/dataextensions/a52c65d8-8938-f111-a5ab-d4f5ef4cd471/rows",
                        json={"items": [{"id": "v1"}]})  # fmt: skip
    assert_like("async_submit_not_found", unknown, item_of="resultMessages")
    assert_like("async_status_complete", done(demo, rid.json()["requestId"]))
    assert_like("async_status_not_found", done(demo, "efd98722-6b0e-4c6f-a1d2-9e8f7a6b5c4d"),
                item_of="resultMessages")  # fmt: skip
    waiting = make_sim(seed="demo", queue_clock=clock, realism=replace(Realism(), pickup_median_s=30))  # fmt: skip
    assert_like("async_status_pending", done(waiting, submit(waiting, [{"SubscriberKey": "S2"}])))


def _items_by_status(name, resp):
    want = fixture(name)
    assert resp.status_code == want["status"]
    got, body = resp.json(), dict(want["body"])
    wanted_items, got_items = body.pop("items"), got.pop("items")
    same_shape(body, got)
    for item in wanted_items:
        match = next(g for g in got_items if g["status"] == item["status"])
        same_shape(item, match)
    return got_items


def test_async_results_answers(make_sim):
    sim = realistic(make_sim, results_paging="documented")
    rid = submit(sim, [{"SubscriberKey": "MD00001", "Email": "x@example.org"},
                       {"SubscriberKey": "NEW1", "Email": "n@example.org"}], method="POST")  # fmt: skip
    done(sim, rid)
    page = {"page": 1, "pageSize": 50}
    items = _items_by_status("async_results_page", sim.rest("GET", f"/data/v1/async/{rid}/results", params=page))  # fmt: skip
    assert items[0]["message"].startswith("Violation of PRIMARY KEY constraint")
    missing = submit(sim, [{"Email": "nokey@example.org"}])
    done(sim, missing)
    _items_by_status("async_results_detail_error", sim.rest("GET", f"/data/v1/async/{missing}/results", params=page))  # fmt: skip


def test_async_deadlock_result_answer(make_sim, clock):
    sim = make_sim(seed="demo", random_seed=11, queue_clock=clock, realism=replace(
        Realism(), pickup_median_s=5, deadlock_concurrency=1, deadlock_share=1.0))  # fmt: skip
    submit(sim, [{"SubscriberKey": "A1"}])
    rid = submit(sim, [{"SubscriberKey": "A2"}])
    clock.advance(30)
    done(sim, rid)
    items = _items_by_status("async_results_deadlock", sim.rest("GET", f"/data/v1/async/{rid}/results"))  # fmt: skip
    assert items[0]["message"].endswith("Rerun the transaction.")


def test_rowset_answers(demo):
    page = demo.rest("GET", "/data/v1/customobjectdata/key/major_donors/rowset",
                     params={"$page": 1, "$pageSize": 10})  # fmt: skip
    want = fixture("rowset_get")
    assert page.status_code == want["status"]
    got = page.json()
    same_shape({**want["body"], "items": []}, {**got, "items": []})
    for item in got["items"]:  # the columns are the DE's: lowercased names, text values
        assert set(item) == {"keys", "values"}
        assert all(
            k == k.lower() and isinstance(v, str) for part in item.values() for k, v in part.items()
        )
    bad = demo.rest("POST", "/hub/v1/dataevents/key:major_donors/rowset",
                    json=[{"keys": {"SubscriberKey": "X"}, "values": {"Email": "not-an-email"}}])  # fmt: skip
    assert_like("rowset_upsert_error", bad, item_of="additionalErrors")
    wanted = fixture("rowset_upsert_error")["body"]["additionalErrors"][0]["message"]
    assert bad.json()["additionalErrors"][0]["message"] == wanted


def test_contacts_answers(demo):
    email = {"name": "Email Addresses", "items": [{"values": [
        {"name": "Email Address", "value": "pat.lee@example.org"}, {"name": "HTML Enabled", "value": True}]}]}  # fmt: skip
    ok = demo.rest("POST", "/contacts/v1/contacts", json={"contactKey": "DONOR-000123", "attributeSets": [email]})  # fmt: skip
    assert_like("contacts_create_ok", ok)
    bogus = {"name": "Email Demografics", "items": [{"values": [{"name": "First Name", "value": "Pat"}]}]}  # fmt: skip
    bad = demo.rest("POST", "/contacts/v1/contacts", json={"contactKey": "DONOR-000123", "attributeSets": [bogus]})  # fmt: skip
    assert_like("contacts_has_errors", bad, item_of="resultMessages")


def test_journey_answers(make_sim):
    sim = realistic(make_sim, journey_processing_s=60)
    data = {"ContactKey": "DONOR-000123", "EmailAddress": "pat.lee@example.org"}
    single = sim.rest("POST", "/interaction/v1/events",
                      json={"ContactKey": "DONOR-000123", "EventDefinitionKey": WELCOME, "Data": data})  # fmt: skip
    assert_like("journey_event", single)
    batch = sim.rest("POST", "/interaction/v1/async/events", json={"eventDefinitionKey": WELCOME, "members": [
        {"contactKey": "DONOR-000123", "data": data}, {"contactKey": "", "data": {}}]})  # fmt: skip
    want = fixture("journey_async_events")
    assert batch.status_code == want["status"]
    got = batch.json()
    same_shape({**want["body"], "members": []}, {**got, "members": []})
    for wanted, member in zip(want["body"]["members"], got["members"], strict=True):
        same_shape(wanted, member)
    status = sim.rest("GET", "/interaction/v1/async/events/status",
                      params={"requestId": got["requestId"], "$page": 1, "$pageSize": 50})  # fmt: skip
    assert_like("journey_async_status", status, item_of="items")
    assert status.json()["items"][0]["status"] == "queued"


# ----------------------------------------------------------------------------------------- SOAP


def body_paths(xml: bytes) -> set[str]:
    """Element paths (local names) under soap:Body, without xsi:nil placeholders."""
    root = ET.fromstring(xml)
    body = next(el for el in root if el.tag.endswith("}Body"))
    found: set[str] = set()

    def walk(el, prefix):
        for child in el:
            if child.get(XSI_NIL) == "true":
                continue
            path = f"{prefix}/{child.tag.rsplit('}', 1)[-1]}"
            found.add(path)
            walk(child, path)

    walk(body, "")
    return found


def xml_fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.xml").read_bytes()


def assert_soap_like(name: str, resp) -> None:
    want = body_paths(xml_fixture(name))
    missing = want - body_paths(resp.content)
    assert not missing, f"{name}: the simulator's answer lacks {sorted(missing)}"


def test_soap_create_retrieve_update_delete_answers(demo):
    fields = [
        field_xml("Email", "EmailAddress", 254, pk=True),
        field_xml("FirstName", max_length=5),
    ]
    assert_soap_like("soap_create_de_ok", demo.soap("Create", create_de("aud_vip", "Audience VIP", fields)))  # fmt: skip
    assert_soap_like("soap_create_de_duplicate", demo.soap("Create", create_de("aud_vip2", "Audience VIP", fields)))  # fmt: skip
    props = ["ID", "CustomerKey", "ParentFolder.ID", "Name", "ContentType", "IsActive", "IsEditable",
             "AllowChildren", "Client.ID"]  # fmt: skip
    assert_soap_like("soap_retrieve_folders", demo.soap("Retrieve", retrieve("DataFolder", props)))
    paged = retrieve("DataExtensionObject[major_donors]", ["SubscriberKey", "Email"],
                     extra="<Options><BatchSize>1</BatchSize></Options>")  # fmt: skip
    assert_soap_like("soap_retrieve_more_data", demo.soap("Retrieve", paged))
    unknown = demo.soap("Retrieve", retrieve("DeliveryProfile", ["ID"]))
    wanted = ET.fromstring(xml_fixture("soap_retrieve_unknown_type")).find(
        f".//{{{PARTNER}}}OverallStatus"
    )
    assert ET.fromstring(unknown.content).find(f".//{{{PARTNER}}}OverallStatus").text == wanted.text
    two = row_upsert("aud_vip", {"Email": "a@example.org", "FirstName": "Ann"}).replace(
        "</Objects>", '</Objects><Objects xsi:type="DataExtensionObject"><CustomerKey>aud_vip'
        "</CustomerKey><Properties><Property><Name>Email</Name><Value>b@example.org</Value></Property>"
        "<Property><Name>FirstName</Name><Value>Bartholomew</Value></Property></Properties></Objects>")  # fmt: skip
    assert_soap_like("soap_update_rows_has_errors", demo.soap("Update", two))
    delete = (f'<DeleteRequest xmlns="{PARTNER}"><Options/><Objects xsi:type="DataExtensionObject">'
              "<CustomerKey>aud_vip</CustomerKey><Keys><Key><Name>Email</Name><Value>a@example.org"
              "</Value></Key></Keys></Objects></DeleteRequest>")  # fmt: skip
    assert_soap_like("soap_delete_row_ok", demo.soap("Delete", delete))


def test_soap_fault_answers(make_sim):
    sim = make_sim(seed="demo")
    token = sim.bearer
    sim.faults(expire_tokens=True)
    expired = sim.soap("Retrieve", retrieve("DataFolder", ["ID"]), token=token)
    assert expired.status_code == 500
    assert_soap_like("soap_fault_token_expired", expired)
    throttled = make_sim(seed="demo", faults=FaultConfig(soap_throttle_rate=1.0))
    limited = throttled.soap("Retrieve", retrieve("DataFolder", ["ID"]))
    assert limited.status_code == 500
    assert_soap_like("soap_fault_rate_limited", limited)


def test_every_fixture_is_checked():
    """A new fixture needs a shape test here (its name appears in this file)."""
    text = Path(__file__).read_text()
    names = [p.stem for p in FIXTURES.iterdir() if p.suffix in (".json", ".xml")]
    assert names
    assert [n for n in names if f'"{n}"' not in text] == []
