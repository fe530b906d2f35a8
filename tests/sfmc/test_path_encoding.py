"""Keys and ids in REST paths are percent-encoded: they name one resource, never another route.

Issue 21 item 7: a DE key `x?ignored=1#` was sent as `PUT …/key:x?ignored=1` and
`a/../../../../../x#` as `PUT /x`, each with the bearer token and the rows.
"""

from __future__ import annotations

import time

import pytest
import requests
import responses

from sfmc import journeys
from sfmc.client import SfmcClient
from sfmc.config import SfmcCredentials
from sfmc.data_extensions import _has_rows
from sfmc.schema import MAX_KEY_LENGTH, key_problem
from sfmc.transport import rest_path
from sfmc.types import DataExtension, DeField
from simulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SimulatorConfig, start_simulator
from tests.fixtures import FAST_SIM
from tests.sfmc import fixtures as fx
from tests.sfmc.conftest import add_token

HOSTILE = {
    "x?ignored=1#": "x%3Fignored%3D1%23",
    "a/../../../../../x#": "a%2F..%2F..%2F..%2F..%2F..%2Fx%23",
    "odd key#1": "odd%20key%231",
    "50%": "50%25",
    "k:v,w": "k%3Av%2Cw",
}


@pytest.mark.parametrize(("key", "encoded"), HOSTILE.items())
def test_rest_path_encodes_each_value_as_one_segment(key, encoded):
    assert rest_path("hub/v1/dataevents/key:{key}/rowset", key=key) == (
        f"hub/v1/dataevents/key:{encoded}/rowset"
    )


@pytest.mark.parametrize(("key", "encoded"), HOSTILE.items())
def test_async_rows_go_to_the_exact_encoded_url(rsps, client, key, encoded):
    add_token(rsps)
    url = fx.REST + f"data/v1/async/dataextensions/key:{encoded}/rows"
    rsps.add(responses.PUT, url, json={"requestId": "r1"})
    assert client.submit_rows(key, [{"Email": "a@example.org"}], mode="upsert") == "r1"
    assert rsps.calls[-1].request.url == url


@pytest.mark.parametrize(("key", "encoded"), HOSTILE.items())
def test_rowset_upsert_goes_to_the_exact_encoded_url(rsps, client, key, encoded):
    add_token(rsps)
    url = fx.REST + f"hub/v1/dataevents/key:{encoded}/rowset"
    rsps.add(responses.POST, url, json=[])
    client.upsert_rowset(key, [{"Email": "a@example.org"}], ["Email"])
    assert rsps.calls[-1].request.url == url


def test_row_count_probe_goes_to_the_exact_encoded_url(rsps, client):
    add_token(rsps)
    url = fx.REST + "data/v1/customobjectdata/key/x%3Fignored%3D1%23/rowset"
    rsps.add(responses.GET, url, json={"items": [], "count": 0})
    assert _has_rows(client, "x?ignored=1#") is False
    assert rsps.calls[-1].request.url.split("?")[0] == url


def test_async_request_ids_from_sfmc_are_encoded_too(rsps, client):
    add_token(rsps)
    url = fx.REST + "data/v1/async/..%2F..%2Fx%3Fa/status"
    rsps.add(responses.GET, url, json=fx.status())
    client.async_status("../../x?a")
    assert rsps.calls[-1].request.url == url


def test_event_definition_key_is_encoded(rsps, client):
    add_token(rsps)
    url = fx.REST + "interaction/v1/eventDefinitions/key:ev%2F..%2Fx%3Fy"
    rsps.add(responses.GET, url, status=400, json={"message": "unknown"})
    assert journeys.get_event_definition(client, "ev/../x?y") is None
    assert rsps.calls[-1].request.url == url


FIELDS = (
    DeField("Email", "EmailAddress", 254, is_primary_key=True, is_required=True),
    DeField("Name", "Text", 20),
)


@pytest.fixture(scope="module")
def sim():
    config = SimulatorConfig(
        seed="demo", clients=[(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, None)], **FAST_SIM
    )
    with start_simulator(config) as running:
        yield running


@pytest.mark.parametrize("key", ["odd key#1", "x?ignored=1#", "50% off", "a/../b"])
def test_odd_keys_round_trip_through_the_simulator(sim, key):
    creds = SfmcCredentials(sim.auth_uri, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
    client = SfmcClient(
        credentials=creds, allow_local=True, sleep=lambda s: time.sleep(min(s, 0.05))
    )
    client.create_data_extension(DataExtension(f"Odd {key}", key, fields=FIELDS))
    try:
        request_id = client.submit_rows(
            key, [{"Email": "a@example.org", "Name": "A"}], mode="upsert"
        )
        assert all(o.ok for o in client.wait_for_rows(request_id, 1, timeout=30))
        outcomes = client.upsert_rowset(key, [{"Email": "b@example.org", "Name": "B"}], ["Email"])
        assert all(o.ok for o in outcomes)
        rows = sorted(r["Email"] for r in client.iter_rows(key, ["Email", "Name"]))
        assert rows == ["a@example.org", "b@example.org"]
        listed = requests.get(f"{sim.base_url}/_sim/dataextensions", timeout=10).json()["items"]
        assert key in {d.get("customerKey") for d in listed}
    finally:
        client.delete_data_extension(key)


@pytest.mark.parametrize(
    ("key", "fragment"),
    [
        ("", "1-36 characters"),
        ("   ", "1-36 characters"),
        ("k" * (MAX_KEY_LENGTH + 1), "1-36 characters"),
        ("line\nbreak", "control character"),
        ("tab\there", "control character"),
    ],
)
def test_key_problem_names_sfmc_rules(key, fragment):
    assert fragment in (key_problem(key) or "")


@pytest.mark.parametrize(
    "key", ["avid_1_segment_2", "odd key#1", "x?ignored=1#", "k]]>1", "k" * 36]
)
def test_keys_sfmc_accepts_pass(key):
    assert key_problem(key) is None
