"""test_connection explains failures in plain words and never raises for auth/network problems."""

import pytest
import requests
import responses

from sfmc.client import check_connection
from sfmc.config import SfmcCredentials
from tests.sfmc import fixtures as fx
from tests.sfmc.conftest import add_token


@pytest.mark.parametrize(
    ("token_answer", "reason", "fix"),
    [
        ({"status": 401, "json": fx.INVALID_CLIENT_ID}, "Bad Client ID", "without spaces"),
        ({"status": 401, "json": fx.BAD_SECRET}, "Bad Client Secret", "Server-to-Server Installed"),
        (
            {"body": requests.exceptions.ConnectionError("NameResolutionError")},
            "Wrong subdomain",
            "https://",
        ),
        ({"body": requests.exceptions.ConnectionError("refused")}, "unreachable", "firewall"),
        ({"body": requests.exceptions.SSLError("bad cert")}, "TLS", "https://"),
        ({"status": 403, "json": {"message": "Forbidden"}}, "not allow-listed", "allowlist"),
        ({"status": 429, "json": fx.BLOCKED}, "throttling", "Wait"),
    ],
)
def test_failed_connection_reasons(rsps, make_client, token_answer, reason, fix):
    client = make_client(max_retries=1)
    retriable = token_answer.get("status") == 429 or "refused" in str(token_answer.get("body", ""))
    for _ in range(2 if retriable else 1):
        rsps.add(responses.POST, fx.TOKEN_URL, **token_answer)
    report = client.test_connection()
    assert not report.ok
    assert reason in report.reason
    assert fix in report.fix
    assert report.subdomain == fx.SUB
    assert report.rest_url == fx.REST


def test_working_connection_lists_scopes(rsps, client):
    add_token(rsps, scope="data_extensions_read data_extensions_write")
    rsps.add(responses.POST, fx.SOAP_URL, body=fx.retrieve_response(""))
    report = client.test_connection()
    assert report.ready
    assert {c.scope for c in report.missing_scopes} >= {"saved_content_read", "journeys_read"}
    assert all(not c.required for c in report.missing_scopes)


def test_missing_required_scope_is_not_ready(rsps, client):
    add_token(rsps, scope="data_extensions_read")
    rsps.add(responses.POST, fx.SOAP_URL, body=fx.retrieve_response(""))
    report = client.test_connection()
    assert report.ok
    assert not report.ready
    assert "data_extensions_write" in report.fix


def test_bad_uri_is_a_failed_report_not_an_exception():
    report = check_connection(SfmcCredentials("http://example.com", "a", "b"))
    assert not report.ok
    assert "https://" in report.reason
