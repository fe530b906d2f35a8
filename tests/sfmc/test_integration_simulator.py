"""The client against a real in-process simulator (HTTP on 127.0.0.1, latency 0)."""

import time

import pytest
import requests

from sfmc.cli import main
from sfmc.client import SfmcClient
from sfmc.config import SfmcCredentials
from sfmc.errors import SfmcAuthError, SfmcConfigError
from sfmc.types import DataExtension, DeField
from simulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SimulatorConfig, start_simulator
from tests.fixtures import FAST_SIM, ManualClock

FIELDS = (
    DeField("Email", "EmailAddress", 254, is_primary_key=True, is_required=True),
    DeField("Name", "Text", 20),
    DeField("Score", "Number"),
)


def _sleep(seconds):
    time.sleep(min(seconds, 0.05))


@pytest.fixture(scope="module")
def sim():
    config = SimulatorConfig(
        seed="demo",
        clients=[
            (DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, None),
            (
                "no-folders",
                "secret-2",
                frozenset({"data_extensions_read", "data_extensions_write"}),
            ),
            ("read-only", "secret-3", frozenset({"data_extensions_read"})),
        ],
        async_not_found_ms=20,
        **FAST_SIM,
    )
    with start_simulator(config) as running:
        yield running


def _client(sim, client_id=DEMO_CLIENT_ID, secret=DEMO_CLIENT_SECRET, **kwargs):
    creds = SfmcCredentials(sim.auth_uri, client_id, secret)
    return SfmcClient(credentials=creds, allow_local=True, sleep=_sleep, **kwargs)


def _sim_rows(sim, key):
    return requests.get(f"{sim.base_url}/_sim/dataextensions/{key}/rows", timeout=10).json()


@pytest.fixture
def de(sim):
    client = _client(sim)
    key = f"it_{time.monotonic_ns()}"[:36]
    made = client.create_data_extension(DataExtension(f"IT {key}", key, fields=FIELDS))
    yield made
    client.delete_data_extension(key)


def test_token_connection_report_and_scopes(sim):
    client = _client(sim)
    report = client.test_connection()
    assert report.ok
    assert report.ready
    assert report.rest_url == sim.auth_uri
    assert "data_extensions_write" in client.granted_scopes()


def test_read_only_package_is_reported_not_ready(sim):
    report = _client(sim, "read-only", "secret-3").test_connection()
    assert report.ok
    assert not report.ready
    assert [c.scope for c in report.missing_required_scopes] == ["data_extensions_write"]


def test_bad_secret_is_explained(sim):
    report = _client(sim, DEMO_CLIENT_ID, "wrong").test_connection()
    assert not report.ok
    assert "Secret" in report.reason


def test_folders_tree_from_the_demo_seed(sim):
    listing = _client(sim).list_folders()
    paths = [f.path for f in listing.folders]
    assert "Data Extensions / Fundraising / Appeals" in paths
    assert not listing.fallback


def test_folders_without_folder_scope_still_list(sim):
    # The simulator gates every SOAP Retrieve on data_extensions_read only, so a package without
    # saved_content_read still reads real folders here; the fallback itself is unit-tested.
    listing = _client(sim, "no-folders", "secret-2").list_folders()
    assert listing.folders


def test_folders_fall_back_to_existing_des_without_saved_content_read(sim):
    # The simulator answers a DataFolder Retrieve without saved_content_read with SFMC's
    # "Insufficient Privileges" fault, so the client's fallback runs end to end.
    listing = _client(sim, "no-folders", "secret-2").list_folders()
    assert listing.fallback
    assert "saved_content_read" in listing.notice
    des = requests.get(f"{sim.base_url}/_sim/dataextensions", timeout=10).json()["items"]
    assert {f.id for f in listing.folders} == {d["categoryId"] for d in des}
    assert not _client(sim).list_folders().fallback


def test_create_find_and_add_fields(sim, de):
    client = _client(sim)
    found = client.find_data_extension(customer_key=de.customer_key)
    assert [f.name for f in found.fields] == ["Email", "Name", "Score"]
    assert found.primary_keys == ("Email",)
    assert client.find_data_extension(name=de.name).customer_key == de.customer_key
    grown = client.add_fields(
        de.customer_key, [DeField("Name", "Text", 40), DeField("Tier", "Text", 10)]
    )
    assert {f.name: f.max_length for f in grown.fields}["Name"] == 40
    assert "Tier" in [f.name for f in grown.fields]
    with pytest.raises(SfmcConfigError, match="type"):
        client.add_fields(de.customer_key, [DeField("Score", "Text", 10)])


def test_async_upsert_and_insert_with_row_errors(sim, de):
    client = _client(sim)
    rows = [
        {"Email": "a@example.org", "Name": "Ann", "Score": 1},
        {"Email": "not-an-email", "Name": "Bad", "Score": 2},
        {"Email": "c@example.org", "Name": "x" * 30, "Score": 3},
    ]
    out = client.wait_for_rows(client.submit_rows(de.customer_key, rows, mode="upsert"), len(rows))
    assert [o.ok for o in out] == [True, False, False]
    assert out[1].error_type == "InvalidEmailAddress"
    assert out[2].error_type == "MaxLengthExceeded"
    again = client.wait_for_rows(client.submit_rows(de.customer_key, rows[:1], mode="insert"), 1)
    assert not again[0].ok
    assert _sim_rows(sim, de.customer_key)["count"] == 1


def test_iter_rows_pages_delete_rows_and_clear(sim, de):
    client = _client(sim)
    rows = [{"Email": f"p{i}@example.org", "Name": "P", "Score": i} for i in range(2_600)]
    out = client.wait_for_rows(client.submit_rows(de.customer_key, rows, mode="upsert"), len(rows))
    assert all(o.ok for o in out)
    before = client.api_calls
    emails = [r["Email"] for r in client.iter_rows(de.customer_key, ["Email"])]
    assert len(emails) == 2_600
    assert client.api_calls - before == 2  # two SOAP pages (2,500 + 100)
    outcomes = client.delete_rows(
        de.customer_key, [{"Email": "p0@example.org"}, {"Email": "p1@example.org"}]
    )
    assert all(o.ok for o in outcomes)
    assert _sim_rows(sim, de.customer_key)["count"] == 2_598
    client.clear_data(de.customer_key)
    assert _sim_rows(sim, de.customer_key)["count"] == 0


def test_rowset_upsert_reports_batch_errors(sim, de):
    client = _client(sim)
    rows = [{"Email": "r1@example.org", "Name": "R"}, {"Email": "bad", "Name": "B"}]
    out = client.upsert_rowset(de.customer_key, rows, ["Email"])
    assert not out[1].ok
    assert out[1].error_type == "InvalidEmailAddress"


def test_short_token_ttl_refreshes(sim):
    clock = ManualClock()  # one clock for the tenant and the client: expiry without sleeping
    with start_simulator(SimulatorConfig(token_ttl=2, clock=clock, **FAST_SIM)) as short:
        client = _client(short, clock=clock)
        client.list_data_extensions()
        first = client.granted_scopes()
        clock.advance(2.2)
        client.list_data_extensions()
        assert client.granted_scopes() == first
        assert client.api_calls == 4  # token, call, token, call


def test_missing_write_scope_is_an_auth_error(sim, de):
    client = _client(sim, "read-only", "secret-3")
    with pytest.raises(SfmcAuthError, match="data_extensions_write"):
        client.submit_rows(de.customer_key, [{"Email": "z@example.org"}], mode="upsert")


def test_check_cli(sim, capsys):
    args = [
        "check",
        "--auth-uri",
        sim.auth_uri,
        "--client-id",
        DEMO_CLIENT_ID,
        "--client-secret",
        DEMO_CLIENT_SECRET,
    ]
    assert main([*args, "--allow-local"]) == 0
    out = capsys.readouterr().out
    assert "Connection: OK" in out
    assert "READY" in out
    assert main(args) == 1
    assert "--allow-local" in capsys.readouterr().out
    assert (
        main(
            [
                "check",
                "--auth-uri",
                sim.auth_uri,
                "--client-id",
                "x",
                "--client-secret",
                "y",
                "--allow-local",
            ]
        )
        == 1
    )
    assert "Bad Client ID" in capsys.readouterr().out
