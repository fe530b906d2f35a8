from __future__ import annotations

import subprocess
import sys
import time

import pytest
import requests

from tests.fixtures import ROOT

PUT = "/data/v1/async/dataextensions/key:major_donors/rows"


def wait_done(sim, rid, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = sim.rest("GET", f"/data/v1/async/{rid}/status").json()
        if body.get("status", {}).get("requestStatus") in ("Complete", "Error"):
            return body["status"]
        time.sleep(0.01)
    raise AssertionError("async job did not finish")


def test_token_json_form_scopes_and_errors(make_sim):
    sim = make_sim(
        clients=[("id1", "secret1", None), ("ro", "s", frozenset({"data_extensions_read"}))]
    )
    url = sim.url + "/v2/token"
    ok = requests.post(url, data={"grant_type": "client_credentials", "client_id": "id1", "client_secret": "secret1",
                                  "scope": "data_extensions_read email_send bogus"})  # fmt: skip
    body = ok.json()
    assert ok.status_code == 200
    assert body["expires_in"] == 1079
    assert body["scope"] == "data_extensions_read email_send"
    assert body["rest_instance_url"] == sim.url + "/"
    assert body["soap_instance_url"] == sim.url + "/"
    unknown = requests.post(
        url, json={"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"}
    )
    assert unknown.status_code == 401
    assert unknown.json()["error_description"].startswith("Invalid client ID")
    wrong = requests.post(
        url, json={"grant_type": "client_credentials", "client_id": "id1", "client_secret": "n"}
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    assert wrong.json()["error_description"].startswith("Client authentication failed")
    grant = requests.post(
        url, json={"grant_type": "password", "client_id": "id1", "client_secret": "secret1"}
    )
    assert grant.json()["error"] == "unsupported_grant_type"
    empty = requests.post(url, json={"grant_type": "client_credentials", "client_id": "ro", "client_secret": "s",
                                     "scope": ""})  # fmt: skip
    assert empty.json()["scope"] == ""


def test_rest_auth_expiry_and_scopes(make_sim, clock):
    sim = make_sim(seed="demo", token_ttl=1, clock=clock,
                   clients=[("ro", "s", frozenset({"data_extensions_read"}))], client=("ro", "s"))  # fmt: skip
    missing = requests.get(sim.url + "/data/v1/async/x/status")
    assert missing.status_code == 401
    assert missing.json()["errorcode"] == 0
    assert missing.json()["message"] == "Not Authorized"
    assert sim.rest("GET", "/data/v1/async/x/status", token="junk").status_code == 401
    denied = sim.rest("PUT", PUT, json={"items": []})
    assert denied.status_code == 403
    assert denied.json()["message"] == "Insufficient privileges to complete this action."
    hub = sim.rest("POST", "/hub/v1/dataevents/key:major_donors/rowset", json=[])
    assert hub.status_code == 401
    token = sim.token()
    read = "/data/v1/customobjectdata/key/major_donors/rowset"
    clock.advance(0.5)
    assert sim.rest("GET", read, token=token).status_code == 200
    clock.advance(0.5)  # expires_in has elapsed: the token stops working exactly then
    assert sim.rest("GET", read, token=token).status_code == 401


def test_async_upsert_insert_results_and_paging(sim):
    items = [{"SubscriberKey": f"A{i}", "Email": f"a{i}@example.org"} for i in range(120)]
    items += [
        {"SubscriberKey": "", "Email": "x@example.org"},
        {"SubscriberKey": "B1", "Email": "bad", "Nope": 1},
    ]
    rid = sim.rest("PUT", PUT, json={"items": items}).json()["requestId"]
    status = wait_done(sim, rid)
    assert status["resultStatus"] == "Error"
    assert status["hasErrors"] is True
    first = sim.rest("GET", f"/data/v1/async/{rid}/results").json()
    assert (first["count"], first["pageSize"], len(first["items"])) == (122, 50, 50)
    last = sim.rest("GET", f"/data/v1/async/{rid}/results?$page=3&$pageSize=50").json()["items"]
    assert [i["status"] for i in last[-3:]] == ["OK", "Error", "Error"]
    assert last[-2]["errors"][0]["errorCode"] == 70001
    assert {e["name"] for e in last[-1]["errors"]} == {"Email", "Nope"}
    # POST = insert: existing keys are PK violations
    rid2 = sim.rest(
        "POST", PUT, json={"items": [{"SubscriberKey": "a1", "Email": "z@example.org"}]}
    ).json()["requestId"]
    assert wait_done(sim, rid2)["resultStatus"] == "Error"
    item = sim.rest("GET", f"/data/v1/async/{rid2}/results").json()["items"][0]
    assert item["errorCode"] == "UnexpectedError"
    assert "Violation of PRIMARY KEY" in item["message"]
    # by ObjectID too
    obj_id = sim.http.get(sim.url + "/_sim/dataextensions/major_donors").json()["objectId"]
    by_id = sim.rest(
        "PUT", f"/data/v1/async/dataextensions/{obj_id}/rows", json={"items": items[:1]}
    )
    assert by_id.status_code == 202


def test_async_submit_errors(sim):
    nf = sim.rest("PUT", "/data/v1/async/dataextensions/key:nope/rows", json={"items": [{}]})
    assert nf.status_code == 400
    assert nf.json()["resultMessages"][0]["resultCode"] == "CustomObjectNotFound"
    assert "Key: nope" in nf.json()["resultMessages"][0]["message"]
    too_many = sim.rest("PUT", PUT, json={"items": [{"SubscriberKey": "x"}] * 32_001})
    assert too_many.status_code == 400
    assert "32,000" in too_many.json()["message"]
    huge = sim.rest("PUT", PUT, json={"items": [{"SubscriberKey": "x" * 1000}] * 6100})
    assert huge.status_code == 413
    assert sim.rest("PUT", PUT, data="not json").status_code == 400
    unknown = sim.rest("GET", "/data/v1/async/00000000-0000-0000-0000-000000000000/status").json()
    assert unknown["resultMessages"][0]["resultCode"] == "AsyncRequestStatusNotFound"


def test_async_queue_rate_and_not_found_window(make_sim):
    sim = make_sim(seed="demo", async_rows_per_s=1000, async_not_found_ms=150)
    items = [{"SubscriberKey": f"Q{i}", "Email": f"q{i}@example.org"} for i in range(300)]
    start = time.monotonic()
    rid = sim.rest("PUT", PUT, json={"items": items}).json()["requestId"]
    early = sim.rest("GET", f"/data/v1/async/{rid}/status").json()
    assert early["resultMessages"][0]["resultCode"] == "AsyncRequestStatusNotFound"
    seen = set()
    while True:
        status = sim.rest("GET", f"/data/v1/async/{rid}/status").json().get("status")
        if status:
            seen.add(status["requestStatus"])
            if status["requestStatus"] == "Complete":
                break
        time.sleep(0.02)
    assert time.monotonic() - start >= 0.29  # 300 rows at 1,000 rows/s
    assert "Executing" in seen
    assert sim.rows("major_donors")["count"] == 340


def test_hub_rowset_partial_commit_and_limits(sim):
    url = "/hub/v1/dataevents/key:major_donors/rowset"
    rows = [{"keys": {"SubscriberKey": "H1"}, "values": {"Email": "h1@example.org"}},
            {"keys": {"SubscriberKey": "H2"}, "values": {"Email": "not-an-email"}},
            {"keys": {"SubscriberKey": "H3"}, "values": {"Email": "h3@example.org"}}]  # fmt: skip
    resp = sim.rest("POST", url, json=rows)
    assert resp.status_code == 400
    body = resp.json()
    assert body["errorcode"] == 10006
    assert body["additionalErrors"][0]["message"].startswith(
        "Email: The value for column [Email] is not a valid email"
    )
    keys = {r["SubscriberKey"] for r in sim.rows("major_donors")["items"]}
    assert "H1" in keys
    assert not {"H2", "H3"} & keys
    ok = sim.rest("POST", url, json=rows[:1])
    assert ok.status_code == 200
    assert ok.json() == rows[:1]
    badkey = sim.rest(
        "POST", url, json=[{"keys": {"Email": "x@example.org"}, "values": {"FirstName": "x"}}]
    )
    assert badkey.json()["message"] == "Primary key 'Email' does not exist."
    novalues = sim.rest("POST", url, json=[{"keys": {"SubscriberKey": "H9"}, "values": {"Zzz": 1}}])
    assert "At least one existing field" in novalues.json()["additionalErrors"][0]["message"]
    assert sim.rest("POST", "/hub/v1/dataevents/key:nope/rowset", json=rows).status_code == 400
    assert sim.rest("POST", url, data=b"[" + b" " * 5_000_001 + b"]").status_code == 413


def test_rowset_get_paged_lowercase(sim):
    first = sim.rest(
        "GET", "/data/v1/customobjectdata/key/major_donors/rowset?$page=1&$pageSize=15"
    ).json()
    assert first["count"] == 40
    assert set(first["items"][0]["keys"]) == {"subscriberkey"}
    assert "email" in first["items"][0]["values"]
    token = first["requestToken"]
    third = sim.rest(
        "GET", f"/data/v1/customobjectdata/token/{token}/rowset?$page=3&$pageSize=15"
    ).json()
    assert len(third["items"]) == 10
    assert "next" not in third["links"]
    sim.rest("PUT", "/data/v1/async/dataextensions/key:newsletter_signups/rows", json={"items": []})
    empty = sim.rest("GET", "/data/v1/customobjectdata/key/newsletter_signups/rowset").json()
    assert empty["count"] == 0
    assert "items" not in empty
    filt = sim.rest(
        "GET",
        "/data/v1/customobjectdata/key/major_donors/rowset?$filter=SubscriberKey%20eq%20'MD00003'",
    )
    assert filt.json()["count"] == 1


def test_inspection_and_chaos_helpers(sim):
    des = sim.http.get(sim.url + "/_sim/dataextensions").json()
    assert {"spring_appeal_2024", "major_donors", "gala_2024_rsvp"} <= {
        d["customerKey"] for d in des["items"]
    }
    assert (
        sim.http.delete(sim.url + "/_sim/dataextensions/gala_2024_rsvp/fields/Dietary").status_code
        == 200
    )
    assert "Dietary" not in sim.rows("gala_2024_rsvp")["items"][0]
    assert sim.http.delete(sim.url + "/_sim/dataextensions/gala_2024_rsvp").status_code == 200
    assert sim.http.get(sim.url + "/_sim/dataextensions/gala_2024_rsvp/rows").status_code == 404
    assert sim.http.delete(sim.url + "/_sim/folders/1004").status_code == 200
    stats = sim.http.get(sim.url + "/_sim/stats").json()
    assert stats["total_rows"] > 0
    sim.http.post(sim.url + "/_sim/reset")
    assert sim.http.get(sim.url + "/_sim/dataextensions/gala_2024_rsvp").status_code == 200
    bad = sim.http.post(sim.url + "/_sim/faults", json={"nonsense": 1})
    assert bad.status_code == 400


def test_fault_knobs(make_sim, clock):
    sim = make_sim(seed="demo", random_seed=7, clock=clock)
    path = "/data/v1/customobjectdata/key/major_donors/rowset"
    sim.faults(error_rate=1)
    codes = {sim.rest("GET", path).status_code for _ in range(12)}
    assert codes == {500, 503}
    sim.faults(error_rate=0, storm_seconds=0.3)
    storm = sim.rest("GET", path)
    assert storm.status_code == 429
    assert storm.headers["Retry-After"] == "5"
    assert storm.json()["errorcode"] == 50100
    clock.advance(0.35)
    assert sim.rest("GET", path).status_code == 200
    sim.faults(drop_rate=1)
    with pytest.raises(requests.ConnectionError):
        sim.rest("GET", path)
    sim.faults(drop_rate=0, timeout_rate=1, timeout_s=5)
    with pytest.raises(requests.ReadTimeout):
        sim.http.get(sim.url + path, headers={"Authorization": f"Bearer {sim.bearer}"}, timeout=0.3)
    sim.faults(timeout_rate=0, slow_rate=1, slow_ms=200)
    start = time.monotonic()
    sim.rest("GET", path)
    assert time.monotonic() - start >= 0.2
    sim.faults(slow_rate=0, async_error_rate=1)
    rid = sim.rest(
        "PUT", PUT, json={"items": [{"SubscriberKey": "E1", "Email": "e@example.org"}]}
    ).json()["requestId"]
    assert wait_done(sim, rid)["requestStatus"] == "Error"
    sim.faults(async_error_rate=0, deadlock_rate=1)
    rid = sim.rest(
        "PUT", PUT, json={"items": [{"SubscriberKey": "E2", "Email": "e@example.org"}]}
    ).json()["requestId"]
    wait_done(sim, rid)
    assert (
        sim.rest("GET", f"/data/v1/async/{rid}/results")
        .json()["items"][0]["message"]
        .endswith("Rerun the transaction.")
    )
    sim.faults(deadlock_rate=0, partial_results_rate=1)
    rid = sim.rest(
        "PUT", PUT, json={"items": [{"SubscriberKey": f"F{i}"} for i in range(10)]}
    ).json()["requestId"]
    wait_done(sim, rid)
    assert sim.rest("GET", f"/data/v1/async/{rid}/results").json()["count"] == 5
    assert sim.http.get(sim.url + "/_sim/stats").json()["faults"]["dropped"] == 1


def test_rate_limit_and_latency(make_sim):
    sim = make_sim(rate_limit=5, latency_ms=50)
    path = "/data/v1/async/x/status"
    sim.bearer  # noqa: B018 - token first (not rate limited)
    start = time.monotonic()
    codes = [sim.rest("GET", path).status_code for _ in range(7)]
    assert time.monotonic() - start >= 0.35  # 7 x 50 ms, serially
    assert codes.count(429) >= 1
    assert codes[:5] == [200] * 5


def test_latency_overlaps_between_threads(make_sim):
    from concurrent.futures import ThreadPoolExecutor

    sim = make_sim(latency_ms=300)
    token = sim.bearer
    start = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(lambda _: requests.get(sim.url + "/data/v1/async/x/status",
                                                     headers={"Authorization": f"Bearer {token}"}).status_code, range(4)))  # fmt: skip
    assert codes == [200] * 4
    assert time.monotonic() - start < 0.9


def test_cli_parser():
    from simulator.__main__ import build_parser

    args = build_parser().parse_args(["--port", "0", "--client", "id1:secret1:data_extensions_read,email_send",
                                      "--client", "id2:s2", "--error-rate", "0.1", "--seed", "demo"])  # fmt: skip
    assert args.client[0] == ("id1", "secret1", frozenset({"data_extensions_read", "email_send"}))
    assert args.client[1] == ("id2", "s2", None)
    assert args.error_rate == 0.1


@pytest.mark.parametrize("module", ["simulator", "sfmc.simulator"])
def test_both_command_names_serve_a_tenant(module):
    """`python -m simulator` and its historical alias `python -m sfmc.simulator` start a server."""
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0", "--latency-ms", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        line = proc.stdout.readline()
        assert line.startswith("SFMC simulator on http://127.0.0.1:"), line
        url = line.split()[3]
        assert requests.post(url + "v2/token", json={}, timeout=10).status_code in (400, 401)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
