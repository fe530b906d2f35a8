"""The realistic profile, one behaviour per test, over HTTP (issue 15).

Each test turns on only the knob it is about, on top of the fast ideal tenant; waits are
fast-forwarded with a `ManualClock` passed as `queue_clock` (and `clock` for tokens).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest
import requests

from simulator import SimulatorConfig
from simulator.__main__ import build_parser, realism_of
from simulator.realism import PARENT_MID, REALISTIC, Realism
from tests.fixtures import ROOT
from tests.simulator.conftest import create_de, field_xml, retrieve

PUT = "/data/v1/async/dataextensions/key:major_donors/rows"
WELCOME = "APIEvent-3f2a9c1e-77d0-4b5e-9c1a-0d9e2b7c4a11"


def realistic(make_sim, clock=None, **knobs):
    """A fast demo tenant with only `knobs` of the realistic profile on."""
    extra = {"queue_clock": clock, "clock": clock} if clock is not None else {}
    return make_sim(seed="demo", random_seed=11, realism=replace(Realism(), **knobs), **extra)


def status(sim, rid):
    return sim.rest("GET", f"/data/v1/async/{rid}/status").json()["status"]


def submit(sim, rows, path=PUT, method="PUT"):
    resp = sim.rest(method, path, json={"items": rows})
    assert resp.status_code == 202, resp.text
    return resp.json()["requestId"]


def donors(prefix, n, **extra):
    return [{"SubscriberKey": f"{prefix}{i}", "Email": f"{prefix}{i}@example.org".lower(), **extra}
            for i in range(n)]  # fmt: skip


def log(sim, kind):
    return sim.http.get(f"{sim.url}/_sim/log", params={"kind": kind}).json()["items"]


def test_every_knob_is_a_flag_and_the_default_is_ideal():
    assert SimulatorConfig().realism == Realism()
    parser = build_parser()
    assert realism_of(parser.parse_args([])) == Realism()
    tuned = realism_of(parser.parse_args(["--profile", "realistic", "--token-limit", "9"]))
    assert tuned == replace(REALISTIC, token_limit=9)
    assert realism_of(parser.parse_args(["--no-business-units", "--profile", "realistic"])) == (
        replace(REALISTIC, business_units=False)
    )
    shown = subprocess.run([sys.executable, "-m", "sfmc.simulator", "--help"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    for name, _, _ in Realism.knobs():
        assert "--" + name.replace("_", "-") in shown
    assert "--profile" in shown
    assert "expected pickup" in shown


def test_expected_pickup_is_the_documented_formula(make_sim):
    r = REALISTIC
    typical = r.pickup_median_s * 2.718281828459045 ** (r.pickup_sigma**2 / 2)
    long_mean = (r.pickup_long_min_s + r.pickup_long_max_s) / 2
    expected = (1 - r.pickup_long_rate) * typical + r.pickup_long_rate * long_mean
    assert r.expected_pickup_s() == pytest.approx(expected)
    sim = make_sim(realism=REALISTIC)
    shown = sim.http.get(sim.url + "/_sim/realism").json()
    assert shown["expected_pickup_s"] == round(expected, 3)
    start = expected + r.transient_error_rate * r.transient_error_s  # then the processing
    assert shown["expected_start_s"] == round(start, 3)
    assert shown["results_paging"] == "documented"
    assert shown["profile"] == "realistic"


def test_pickup_wait_keeps_a_job_pending_until_its_time(make_sim, clock):
    sim = realistic(make_sim, clock, pickup_long_rate=1.0, pickup_long_min_s=120,
                    pickup_long_max_s=120)  # fmt: skip
    rid = submit(sim, donors("W", 3))
    first = status(sim, rid)
    assert first["requestStatus"] == "Pending"
    assert "pickupDateTime" not in first
    clock.advance(119)
    assert status(sim, rid)["requestStatus"] == "Pending"
    assert sim.rows("major_donors")["count"] == 40  # nothing landed while queued
    clock.advance(2)
    done = status(sim, rid)
    assert done["requestStatus"] == "Complete"
    assert done["resultStatus"] == "OK"
    assert "pickupDateTime" in done
    assert sim.rows("major_donors")["count"] == 43
    assert log(sim, "pickup_wait")[0]["seconds"] == 120


def test_jobs_wait_for_pickup_side_by_side_and_are_processed_one_at_a_time(make_sim, clock):
    """A job's wait counts from its own submit; only processing (10 rows at 10 rows/s) queues."""
    knobs = replace(Realism(), pickup_median_s=1, pickup_long_rate=0.5, pickup_long_min_s=120,
                    pickup_long_max_s=120)  # fmt: skip
    sim = make_sim(seed="demo", random_seed=11, realism=knobs, queue_clock=clock, clock=clock,
                   async_rows_per_s=10)  # fmt: skip
    rids = [submit(sim, donors(f"Q{j}x", 10)) for j in range(6)]
    waits = {e["request_id"]: e["seconds"] for e in log(sim, "pickup_wait")}
    short = [rid for rid in rids if waits[rid] == 1]
    long = [rid for rid in rids if waits[rid] == 120]
    assert len(short) + len(long) == 6
    assert rids.index(long[0]) < rids.index(short[-1])  # a long wait before a short one (seeded)
    clock.advance(len(short) + 0.5)  # short jobs: ready at 1 s, then 1 s of processing each
    states = {rid: status(sim, rid)["requestStatus"] for rid in rids}
    assert [states[rid] for rid in short[:-1]] == ["Complete"] * (len(short) - 1)
    assert states[short[-1]] == "Executing"  # waits for the processor, not for the long jobs
    assert {states[rid] for rid in long} == {"Pending"}
    clock.advance(120 + len(long) - len(short))
    assert {status(sim, rid)["requestStatus"] for rid in rids} == {"Complete"}


def test_transient_error_resolves_and_the_rows_land(make_sim, clock):
    sim = realistic(make_sim, clock, transient_error_rate=1.0, transient_error_s=10)
    rid = submit(sim, donors("T", 4))
    assert status(sim, rid)["requestStatus"] == "Error"
    clock.advance(9)
    assert status(sim, rid)["requestStatus"] == "Error"
    clock.advance(2)
    final = status(sim, rid)
    assert final["requestStatus"] == "Complete"
    assert final["resultStatus"] == "OK"
    keys = {r["SubscriberKey"] for r in sim.rows("major_donors")["items"]}
    assert {f"T{i}" for i in range(4)} <= keys
    assert log(sim, "transient_error")[0]["request_id"] == rid


def test_jobs_crowding_one_de_deadlock_and_some_failed_rows_land(make_sim, clock):
    sim = realistic(make_sim, clock, pickup_median_s=5, deadlock_concurrency=2,
                    deadlock_share=0.5, deadlock_landed=0.5)  # fmt: skip
    first = [submit(sim, donors(f"D{j}x", 20)) for j in range(2)]
    other = submit(sim, donors("E", 20), path="/data/v1/async/dataextensions/key:spring_appeal_2024/rows")  # fmt: skip
    third = submit(sim, donors("D2x", 20))  # two jobs of major_donors still in flight
    clock.advance(60)
    for rid in [*first, other]:
        assert status(sim, rid)["resultStatus"] == "OK"
    assert status(sim, third)["hasErrors"] is True
    items = sim.rest("GET", f"/data/v1/async/{third}/results", params={"pageSize": 50}).json()["items"]  # fmt: skip
    failed = [i for i, item in enumerate(items) if item["status"] == "Error"]
    assert len(failed) == 10
    assert all(items[i]["message"].endswith("Rerun the transaction.") for i in failed)
    (event,) = log(sim, "deadlock")
    assert event["request_id"] == third
    assert event["in_flight"] == 2
    stored = {r["SubscriberKey"] for r in sim.rows("major_donors")["items"]}
    landed = [i for i in failed if f"D2x{i}" in stored]
    assert len(landed) == event["rows_landed"]
    assert 0 < len(landed) < len(failed)  # reported failed, yet written (seeded dice)


def test_results_are_paged_only_as_documented(make_sim):
    sim = realistic(make_sim, results_paging="documented", results_page_max=100,
                    result_status_text="Has Errors")  # fmt: skip
    rows = donors("P", 250)
    rows[3]["Email"] = "not-an-email"
    rid = submit(sim, rows)
    assert status(sim, rid)["resultStatus"] == "Has Errors"
    url = f"/data/v1/async/{rid}/results"
    plain = sim.rest("GET", url).json()
    assert (plain["page"], plain["pageSize"], plain["count"], len(plain["items"])) == (1, 50, 250, 50)  # fmt: skip
    assert plain["items"][3]["status"] == "Error"
    ignored = sim.rest("GET", url, params={"$page": 2, "$pageSize": 2500}).json()
    assert (ignored["page"], ignored["pageSize"]) == (1, 50)
    capped = sim.rest("GET", url, params={"page": 2, "pageSize": 2500}).json()
    assert (capped["page"], capped["pageSize"], len(capped["items"])) == (2, 100, 100)
    assert log(sim, "results_page_capped")[0] == {**log(sim, "results_page_capped")[0],
                                                  "asked": 2500, "served": 100}  # fmt: skip


def test_journey_batch_members_are_processed_later(make_sim, clock):
    sim = realistic(make_sim, clock, journey_processing_s=5)
    members = [{"contactKey": "C1", "data": {"ContactKey": "C1", "EmailAddress": "c1@example.org"}},
               {"contactKey": "C2", "data": {"ContactKey": "C2", "EmailAddress": "nope"}}]  # fmt: skip
    sent = sim.rest("POST", "/interaction/v1/async/events",
                    json={"eventDefinitionKey": WELCOME, "members": members})  # fmt: skip
    assert sent.status_code == 202
    rid = sent.json()["requestId"]

    def statuses():
        body = sim.rest("GET", "/interaction/v1/async/events/status", params={"requestId": rid})
        return {i["contactKey"]: i["status"] for i in body.json()["items"]}

    assert statuses() == {"C1": "queued", "C2": "queued"}
    assert sim.rows("pathways_welcome_entry")["count"] == 0
    clock.advance(6)
    assert statuses() == {"C1": "processed", "C2": "errored"}
    assert sim.rows("pathways_welcome_entry")["count"] == 1
    assert len(log(sim, "journey_processed")) == 2


@pytest.mark.parametrize(
    ("zone", "stored"),
    [("cst", ["5/23/2024 8:32:00 AM", "5/23/2024 6:32:00 AM", "5/23/2024 2:32:00 PM"]),
     ("utc", ["5/23/2024 2:32:00 PM", "5/23/2024 12:32:00 PM", "5/23/2024 2:32:00 PM"])],
)  # fmt: skip
def test_dates_with_a_zone_are_stored_in_server_time(make_sim, zone, stored):
    sim = realistic(make_sim, date_zone=zone)
    sent = ["2024-05-23T14:32:00Z", "2024-05-23T14:32:00+02:00", "2024-05-23T14:32:00"]
    rows = [{**donors(f"Z{i}", 1)[0], "SubscriberKey": f"Z{i}", "LastGiftDate": v}
            for i, v in enumerate(sent)]  # fmt: skip
    status(sim, submit(sim, rows))
    got = {r["SubscriberKey"]: r["LastGiftDate"] for r in sim.rows("major_donors")["items"]}
    assert [got[f"Z{i}"] for i in range(3)] == stored


def _shared_folder(sim):
    return next(f["id"] for f in sim.http.get(sim.url + "/_sim/folders").json()["items"]
                if f["contentType"] == "shared_dataextension")  # fmt: skip


def test_shared_folders_need_the_parent_client_id(make_sim):
    sim = realistic(make_sim, business_units=True)
    shared = _shared_folder(sim)
    fields = [field_xml("Email", "EmailAddress", 254, pk=True)]
    refused = sim.soap("Create", create_de("sh1", "Shared One", fields, category=shared))
    assert "<OverallStatus>Error</OverallStatus>" in refused.text
    assert "310007" in refused.text
    parent = f"<Client><ID>{PARENT_MID}</ID></Client>"
    body = create_de("sh1", "Shared One", fields, category=shared).replace(
        "<Options/>", f"<Options>{parent}</Options>"
    )
    assert "<OverallStatus>OK</OverallStatus>" in sim.soap("Create", body).text
    rows = retrieve("DataExtensionObject[sh1]", ["Email"])
    assert "does not exist" in sim.soap("Retrieve", rows).text
    with_ids = rows.replace("<RetrieveRequest>", f"<RetrieveRequest><ClientIDs><ID>{PARENT_MID}</ID></ClientIDs>")  # fmt: skip
    assert "<OverallStatus>OK</OverallStatus>" in sim.soap("Retrieve", with_ids).text
    parent_token = sim.token(account_id=str(PARENT_MID))
    assert (
        "<OverallStatus>OK</OverallStatus>" in sim.soap("Retrieve", rows, token=parent_token).text
    )
    folders = sim.soap("Retrieve", retrieve("DataFolder", ["ID", "Client.ID"])).text
    assert f"<ID>{PARENT_MID}</ID>" in folders  # the picker can see whose folder it is
    assert log(sim, "business_unit_refused")
    unknown = requests.post(sim.url + "/v2/token", json={
        "grant_type": "client_credentials", "client_id": sim.client[0],
        "client_secret": sim.client[1], "account_id": "999"})  # fmt: skip
    assert unknown.status_code == 401
    assert unknown.json()["error"] == "invalid_grant"


def test_the_token_endpoint_throttles_clients_that_ask_too_often(make_sim, clock):
    sim = realistic(make_sim, clock, token_limit=2, token_window_s=60)
    sim.token()
    sim.token()
    url = sim.url + "/v2/token"
    body = {"grant_type": "client_credentials", "client_id": sim.client[0],
            "client_secret": sim.client[1]}  # fmt: skip
    third = requests.post(url, json=body)
    assert third.status_code == 429
    assert third.json()["errorcode"] == 50200
    assert "Retry-After" not in third.headers
    assert log(sim, "token_throttled")[0]["client_id"] == sim.client[0]
    clock.advance(61)
    assert requests.post(url, json=body).status_code == 200


@pytest.mark.parametrize("strict", [True, False])
def test_de_keys_in_rest_paths_must_be_encoded(make_sim, strict):
    sim = realistic(make_sim, strict_key_paths=strict)
    fields = [field_xml("Email", "EmailAddress", 254, pk=True)]
    assert "<OverallStatus>OK</OverallStatus>" in sim.soap("Create", create_de("a/b", "Slashed", fields)).text  # fmt: skip
    row = {"items": [{"Email": "a@example.org"}]}
    encoded = sim.rest("PUT", "/data/v1/async/dataextensions/key:a%2Fb/rows", json=row)
    assert encoded.status_code == 202
    raw = sim.rest("PUT", "/data/v1/async/dataextensions/key:a/b/rows", json=row)
    assert raw.status_code == (404 if strict else 202)
    assert bool(log(sim, "unencoded_key")) is strict
    cut = sim.rest("PUT", "/data/v1/async/dataextensions/key:odd key#1/rows", json=row)
    assert cut.status_code == 404  # "#" starts the fragment: the path ends at "key:odd key"
    assert log(sim, "route_not_found")[-1]["path"].endswith("key:odd key")


@pytest.mark.parametrize("partial", [True, False])
def test_contacts_partial_failure_reads_has_errors(make_sim, partial):
    sim = realistic(make_sim, contacts_partial=partial)
    email = {"name": "Email Addresses", "items": [{"values": [
        {"name": "Email Address", "value": "pat@example.org"}, {"name": "HTML Enabled", "value": True}]}]}  # fmt: skip
    bogus = {"name": "Email Demografics", "items": [{"values": [{"name": "First Name", "value": "Pat"}]}]}  # fmt: skip
    resp = sim.rest("POST", "/contacts/v1/contacts",
                    json={"contactKey": "PAT-1", "attributeSets": [email, bogus]})  # fmt: skip
    body = resp.json()
    assert body["hasErrors"] is True
    assert body["resultMessages"][0]["resultCode"] == "AttributeSetNotFound"
    saved = sim.http.get(sim.url + "/_sim/contacts").json()["items"]
    if partial:
        assert (resp.status_code, body["operationStatus"], body["rowsAffected"]) == (200, "OK", 1)
        assert saved[0]["attributeSets"]["Email Addresses"]["Email Address"] == "pat@example.org"
    else:
        assert (resp.status_code, body["operationStatus"]) == (400, "FAIL")
        assert saved == []
