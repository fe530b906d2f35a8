"""The client parses every real SFMC example in tests/fixtures/sfmc (issue 15's independent oracle).

Each file holds a request and response taken from Salesforce's documentation or an open-source
client's recorded fixtures (see SOURCES.md); the response is served for the request's path and
the client's reading of it is checked. A new fixture file without a check here fails the suite.
"""

import json
from pathlib import Path

import pytest
import requests
import responses

from sfmc import data_extensions, soap
from sfmc.contacts import upsert_contact
from sfmc.errors import SfmcAuthError, SfmcFatalError, SfmcRetriableError
from sfmc.journeys import fire_entry_event, fire_entry_events
from sfmc.responses import raise_for_response
from sfmc.rows import read_results, upsert_rowset
from sfmc.types import DataExtension, DeField
from tests.sfmc import fixtures as fx
from tests.sfmc.conftest import add_token

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "sfmc"


def _load(name):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _serve(rsps, name, *, times=1):
    """Serve a JSON fixture's response at its request's path; returns the request."""
    data = _load(name)
    request, response = data["request"], data["response"]
    base = fx.AUTH if request["path"] == "/v2/token" else fx.REST
    for _ in range(times):
        rsps.add(
            request["method"],
            base + request["path"].lstrip("/"),
            json=response["body"],
            status=response["status"],
        )
    return request


def _soap_text(name):
    return (FIXTURES / name).read_text(encoding="utf-8")


def check_token_success(client, rsps):
    _serve(rsps, "token_success.json")
    token = client._tokens.get()
    assert token.lifetime == 1079
    assert token.rest_url.endswith(".rest.marketingcloudapis.com/")


def check_token_invalid_client(client, rsps):
    _serve(rsps, "token_invalid_client.json")
    with pytest.raises(SfmcAuthError) as err:
        client._tokens.get()
    assert err.value.kind in ("bad_secret", "invalid_client_id")


def check_token_throttled(client, rsps):
    _serve(rsps, "token_throttled.json", times=client._max_retries + 1)
    with pytest.raises(SfmcRetriableError) as err:
        client._tokens.get()
    assert err.value.kind == "throttled"


def check_rest_not_authorized(client, rsps):
    add_token(rsps)
    request = _serve(rsps, "rest_not_authorized.json", times=2)  # refreshed once, then refused
    add_token(rsps)
    with pytest.raises(SfmcAuthError):
        client.async_status(request["path"].split("/")[-2])


def check_async_submit(client, rsps):
    add_token(rsps)
    _serve(rsps, "async_submit.json")
    assert client.submit_rows("aud_vip", [{"Email": "a@example.com"}], mode="upsert")


def check_async_submit_not_found(client, rsps):
    add_token(rsps)
    data = _load("async_submit_not_found.json")
    rsps.add(
        responses.PUT,
        fx.REST + "data/v1/async/dataextensions/key:gone/rows",
        json=data["response"]["body"],
        status=data["response"]["status"],
    )
    with pytest.raises(SfmcFatalError, match="Failed to resolve the Custom Object"):
        client.submit_rows("gone", [{"a": 1}], mode="upsert")


def _status(client, rsps, name):
    add_token(rsps)
    request = _serve(rsps, name)
    return client.async_status(request["path"].split("/")[-2])


def check_async_status_complete(client, rsps):
    status = _status(client, rsps, "async_status_complete.json")
    assert (status.done, status.all_ok) == (True, True)


def check_async_status_pending(client, rsps):
    assert not _status(client, rsps, "async_status_pending.json").done


def check_async_status_not_found(client, rsps):
    assert _status(client, rsps, "async_status_not_found.json") is None


def _results(client, rsps, name):
    add_token(rsps)
    request = _serve(rsps, name)
    found = read_results(client, request["path"].split("/")[-2])
    return found.align(int(_load(name)["response"]["body"]["count"]))


def check_async_results_page(client, rsps):
    out = _results(client, rsps, "async_results_page.json")
    assert out[0].error_type == "PrimaryKeyViolation"
    assert out[1].ok


def check_async_results_detail_error(client, rsps):
    (out,) = _results(client, rsps, "async_results_detail_error.json")
    assert (out.ok, out.error_type, out.field) == (False, "NullValue", "contactkey")


def check_async_results_deadlock(client, rsps):
    (out,) = _results(client, rsps, "async_results_deadlock.json")
    assert (out.ok, out.retryable) == (False, True)


def check_rowset_get(client, rsps):
    add_token(rsps)
    _serve(rsps, "rowset_get.json")
    assert data_extensions._has_rows(client, "aud_vip")


def check_rowset_upsert_error(client, rsps):
    add_token(rsps)
    _serve(rsps, "rowset_upsert_error.json")
    (out,) = upsert_rowset(client, "aud_vip", [{"Email": "bad"}], ["Email"])
    assert (out.ok, out.error_type, out.field) == (False, "InvalidEmailAddress", "Email")


def check_contacts_create_ok(client, rsps):
    add_token(rsps)
    _serve(rsps, "contacts_create_ok.json")
    assert upsert_contact(client, "DONOR-000123", {}).ok


def check_contacts_has_errors(client, rsps):
    add_token(rsps)
    _serve(rsps, "contacts_has_errors.json")
    out = upsert_contact(client, "DONOR-000123", {})
    assert (out.ok, out.error_type) == (False, "AttributeSetNotFound")


def check_journey_event(client, rsps):
    add_token(rsps)
    _serve(rsps, "journey_event.json")
    assert fire_entry_event(client, "APIEvent-1", "DONOR-000123", {}).ok


def check_journey_async_events(client, rsps):
    add_token(rsps)
    _serve(rsps, "journey_async_events.json")
    processed = {"page": 1, "pageSize": 1, "count": 0, "items": []}
    status_url = fx.REST + "interaction/v1/async/events/status"
    rsps.add(responses.GET, status_url, json=processed)  # none queued
    rsps.add(responses.GET, status_url, json={**processed, "pageSize": 50})  # none errored
    first, second = fire_entry_events(client, "APIEvent-1", [("DONOR-000123", {}), ("", {})])
    assert first.ok
    assert (second.ok, second.error_details) == (False, "contactKey is required.")


def check_journey_async_status(client, rsps):
    add_token(rsps)
    data = _load("journey_async_status.json")
    items = list(
        _served_pages(client, rsps, data, "/interaction/v1/async/events/status", {"requestId": "b"})
    )
    assert items[0]["status"] == "queued"


def _served_pages(client, rsps, data, path, params):
    rsps.add(responses.GET, fx.REST + path.lstrip("/"), json=data["response"]["body"])
    return client._rest_pages(path, page_size=50, operation="read", scope="journeys_read",
                              params=params)  # fmt: skip


def check_soap_create_de_ok(client, rsps):
    add_token(rsps)
    rsps.add(responses.POST, fx.SOAP_URL, body=_soap_text("soap_create_de_ok.xml"))
    key = DeField("Email", "EmailAddress", 254, is_primary_key=True, is_required=True)
    assert client.create_data_extension(DataExtension("Audience VIP", "aud_vip", fields=(key,)))


def check_soap_create_de_duplicate(client, rsps):
    add_token(rsps)
    rsps.add(responses.POST, fx.SOAP_URL, body=_soap_text("soap_create_de_duplicate.xml"))
    key = DeField("Email", "EmailAddress", 254, is_primary_key=True, is_required=True)
    with pytest.raises(SfmcFatalError, match="already exists"):
        client.create_data_extension(DataExtension("Audience VIP", "aud_vip", fields=(key,)))


def check_soap_delete_row_ok(client, rsps):
    add_token(rsps)
    rsps.add(responses.POST, fx.SOAP_URL, body=_soap_text("soap_delete_row_ok.xml"))
    assert [o.ok for o in client.delete_rows("aud_vip", [{"Email": "a@example.com"}])] == [True]


def check_soap_update_rows_has_errors(client, rsps):
    parsed = soap.parse_response(_soap_text("soap_update_rows_has_errors.xml"))
    assert parsed.overall_status == "Has Errors"
    assert [r.ok for r in parsed.results] == [True, False]
    assert parsed.results[1].error_code == 70002


def check_soap_retrieve_folders(client, rsps):
    add_token(rsps)
    rsps.add(responses.POST, fx.SOAP_URL, body=_soap_text("soap_retrieve_folders.xml"))
    assert client.list_folders().folders


def check_soap_retrieve_more_data(client, rsps):
    parsed = soap.parse_response(_soap_text("soap_retrieve_more_data.xml"))
    assert parsed.more_data
    assert soap.row_properties(parsed.results[0]) == {
        "SubscriberKey": "001",
        "Email": "a@example.com",
    }


def check_soap_retrieve_unknown_type(client, rsps):
    parsed = soap.parse_response(_soap_text("soap_retrieve_unknown_type.xml"))
    assert "Unable to find a handler" in parsed.request_error


def _fault(name):
    answer = requests.Response()
    answer.status_code = 500
    answer._content = _soap_text(name).encode()
    with pytest.raises(SfmcRetriableError) as err:
        raise_for_response(answer, operation="read rows", api="soap")
    return err.value


def check_soap_fault_rate_limited(client, rsps):
    assert _fault("soap_fault_rate_limited.xml").kind == "throttled"


def check_soap_fault_token_expired(client, rsps):
    assert soap.parse_fault(_soap_text("soap_fault_token_expired.xml")).message == "Token Expired"


CHECKS = {
    name.removeprefix("check_"): f for name, f in globals().items() if name.startswith("check_")
}


def test_every_fixture_file_has_a_check():
    files = {p.stem for p in FIXTURES.iterdir() if p.suffix in (".json", ".xml")}
    assert files == set(CHECKS), f"unchecked: {files - set(CHECKS)}; stale: {set(CHECKS) - files}"


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_client_parses_the_fixture(name, client, sleeps):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        CHECKS[name](client, rsps)
