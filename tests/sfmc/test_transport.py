"""The choke point: tokens, refresh, retries, error mapping, call counting."""

import threading

import pytest
import requests
import responses
from responses import matchers, registries

from sfmc.auth import REFRESH_MARGIN_S, Token, is_token_valid
from sfmc.client import MAX_DELAY, SfmcClient, backoff_delay
from sfmc.config import SfmcCredentials
from sfmc.errors import SfmcAuthError, SfmcConfigError, SfmcFatalError, SfmcRetriableError
from sfmc.responses import BLOCKED_WAIT_S
from tests.sfmc import fixtures as fx
from tests.sfmc.conftest import add_token

STATUS_URL = fx.REST + "data/v1/async/r1/status"
RESULTS_URL = fx.REST + "data/v1/async/r1/results"


def _token(expires_at, lifetime=1079.0):
    return Token(
        "t", expires_at=expires_at, lifetime=lifetime, scopes=frozenset(), rest_url="", soap_url=""
    )


@pytest.mark.parametrize(
    ("token", "now", "valid"),
    [
        (None, 0, False),
        (_token(1079), 0, True),
        (_token(1079), 1079 - REFRESH_MARGIN_S - 1, True),
        (_token(1079), 1079 - REFRESH_MARGIN_S + 1, False),
        (_token(1079), 2000, False),
        (_token(8, lifetime=8), 3.5, True),  # short test tokens keep half of their life as margin
        (_token(8, lifetime=8), 4.5, False),
    ],
)
def test_is_token_valid_is_a_pure_predicate_with_margin(token, now, valid):
    assert is_token_valid(token, now=now) is valid


def test_token_request_body_and_caching(rsps, make_client):
    creds = SfmcCredentials(fx.AUTH, " cid ", fx.SECRET, account_id="100012345")
    client = make_client(credentials=creds)
    rsps.add(
        responses.POST,
        fx.TOKEN_URL,
        json=fx.token(),
        match=[
            matchers.json_params_matcher(
                {
                    "grant_type": "client_credentials",
                    "client_id": "cid",
                    "client_secret": fx.SECRET,
                    "account_id": "100012345",
                }
            )
        ],
    )
    rsps.add(
        responses.GET,
        STATUS_URL,
        json=fx.status(),
        match=[matchers.header_matcher({"Authorization": "Bearer tok-1"})],
    )
    rsps.add(responses.GET, STATUS_URL, json=fx.status())
    client.async_status("r1")
    client.async_status("r1")
    assert client.api_calls == 3  # one token, two API calls
    assert "data_extensions_write" in client.granted_scopes()


def test_token_is_refreshed_before_expiry(rsps, make_client):
    now = [1000.0]
    client = make_client(clock=lambda: now[0])
    add_token(rsps, access="tok-1")
    rsps.add(
        responses.GET,
        STATUS_URL,
        json=fx.status(),
        match=[matchers.header_matcher({"Authorization": "Bearer tok-1"})],
    )
    add_token(rsps, access="tok-2")
    rsps.add(
        responses.GET,
        STATUS_URL,
        json=fx.status(),
        match=[matchers.header_matcher({"Authorization": "Bearer tok-2"})],
    )
    client.async_status("r1")
    now[0] += 1079 - REFRESH_MARGIN_S + 1
    client.async_status("r1")


def test_rest_401_refreshes_once_and_retries(make_client):
    client = make_client()
    with responses.RequestsMock(registry=registries.OrderedRegistry) as rsps:
        add_token(rsps, access="old")
        rsps.add(responses.GET, STATUS_URL, status=401, json=fx.NOT_AUTHORIZED)
        add_token(rsps, access="new")
        rsps.add(
            responses.GET,
            STATUS_URL,
            json=fx.status(),
            match=[matchers.header_matcher({"Authorization": "Bearer new"})],
        )
        assert client.async_status("r1").all_ok
    assert client.api_calls == 4


def test_second_401_after_refresh_is_an_auth_error_naming_the_scope(make_client):
    client = make_client()
    with responses.RequestsMock(registry=registries.OrderedRegistry) as rsps:
        add_token(rsps)
        rsps.add(responses.GET, STATUS_URL, status=401, json=fx.NOT_AUTHORIZED)
        add_token(rsps)
        rsps.add(responses.GET, STATUS_URL, status=401, json=fx.NOT_AUTHORIZED)
        with pytest.raises(SfmcAuthError, match="data_extensions_read") as info:
            client.async_status("r1")
    assert info.value.status == 401


def test_soap_token_expired_fault_refreshes_once_and_retries(make_client):
    client = make_client()
    with responses.RequestsMock(registry=registries.OrderedRegistry) as rsps:
        add_token(rsps, access="old")
        rsps.add(responses.POST, fx.SOAP_URL, status=500, body=fx.TOKEN_EXPIRED)
        add_token(rsps, access="new")
        rsps.add(responses.POST, fx.SOAP_URL, body=fx.perform_response())
        client.clear_data("k")
        assert ">new</fueloauth>" in rsps.calls[3].request.body.decode()


@pytest.mark.parametrize(
    ("status", "body", "exc", "kind"),
    [
        (400, {"message": "bad", "errorcode": 10001}, SfmcFatalError, "bad_request"),
        (403, fx.INSUFFICIENT, SfmcAuthError, "scope"),
        (404, {"message": "nope"}, SfmcFatalError, "not_found"),
        (409, {"message": "conflict"}, SfmcFatalError, "bad_request"),
        (413, {"message": "too big"}, SfmcFatalError, "too_large"),
        (429, fx.RATE_LIMITED, SfmcRetriableError, "throttled"),
        (500, {"message": "boom", "errorcode": 10000}, SfmcRetriableError, "server_error"),
        (502, {}, SfmcRetriableError, "unavailable"),
        (503, {"message": "down", "errorcode": 50300}, SfmcRetriableError, "unavailable"),
        (504, {}, SfmcRetriableError, "timeout"),
        (507, {}, SfmcRetriableError, "server_error"),
    ],
)
def test_rest_status_to_exception_table(rsps, make_client, sleeps, status, body, exc, kind):
    client = make_client(max_retries=1)
    add_token(rsps)
    tries = 2 if issubclass(exc, SfmcRetriableError) else 1
    for _ in range(tries):
        rsps.add(
            responses.GET, RESULTS_URL, status=status, json=body, headers={"X-Request-Id": "rid-9"}
        )
    with pytest.raises(exc) as info:
        client.async_results("r1")
    err = info.value
    assert (err.status, err.kind, err.request_id) == (status, kind, "rid-9")
    assert err.operation == "read async results"
    assert len(sleeps) == tries - 1


@pytest.mark.parametrize(
    ("status", "body", "kind", "exc"),
    [
        (401, fx.INVALID_CLIENT_ID, "invalid_client_id", SfmcAuthError),
        (401, fx.BAD_SECRET, "bad_secret", SfmcAuthError),
        (
            401,
            {"error": "invalid_grant", "error_description": "account not accessible"},
            "bad_account",
            SfmcAuthError,
        ),
        (403, {"message": "Forbidden"}, "ip_not_allowed", SfmcAuthError),
        (
            401,
            {"error": "access_denied", "error_description": "IP address not in allowlist"},
            "ip_not_allowed",
            SfmcAuthError,
        ),
        (404, {}, "wrong_endpoint", SfmcFatalError),
        (400, {"error": "unsupported_grant_type"}, "bad_request", SfmcFatalError),
    ],
)
def test_token_errors_are_classified(rsps, client, status, body, kind, exc):
    rsps.add(responses.POST, fx.TOKEN_URL, status=status, json=body)
    with pytest.raises(exc) as info:
        client.granted_scopes()
    assert info.value.kind == kind


def test_429_honours_retry_after_then_succeeds(make_client, sleeps):
    client = make_client()
    with responses.RequestsMock(registry=registries.OrderedRegistry) as rsps:
        add_token(rsps)
        rsps.add(
            responses.GET,
            STATUS_URL,
            status=429,
            json=fx.RATE_LIMITED,
            headers={"Retry-After": "5"},
        )
        rsps.add(responses.GET, STATUS_URL, status=429, json=fx.BLOCKED)
        rsps.add(responses.GET, STATUS_URL, status=503, json={})
        rsps.add(responses.GET, STATUS_URL, json=fx.status())
        assert client.async_status("r1").done
    assert sleeps[0] == 5.0
    assert sleeps[1] == BLOCKED_WAIT_S  # 50200 has no Retry-After: a real pause, not 0.5 s
    assert 0.5 <= sleeps[2] <= 2.0
    assert client.api_calls == 5


def test_retries_are_bounded(rsps, make_client, sleeps):
    client = make_client(max_retries=3)
    add_token(rsps)
    for _ in range(4):
        rsps.add(responses.GET, STATUS_URL, status=500, json={"message": "boom"})
    with pytest.raises(SfmcRetriableError):
        client.async_status("r1")
    assert len(sleeps) == 3


@pytest.mark.parametrize(
    ("error", "exc", "kind", "retried"),
    [
        (requests.exceptions.ConnectTimeout("slow"), SfmcRetriableError, "timeout", True),
        (requests.exceptions.ReadTimeout("slow"), SfmcRetriableError, "timeout", True),
        (
            requests.exceptions.ConnectionError("Connection refused"),
            SfmcRetriableError,
            "unreachable",
            True,
        ),
        (
            requests.exceptions.ConnectionError("NameResolutionError: Failed to resolve"),
            SfmcConfigError,
            "dns",
            False,
        ),
        (requests.exceptions.SSLError("CERTIFICATE_VERIFY_FAILED"), SfmcFatalError, "tls", False),
    ],
)
def test_network_failures(rsps, make_client, sleeps, error, exc, kind, retried):
    client = make_client(max_retries=1)
    for _ in range(2 if retried else 1):
        rsps.add(responses.POST, fx.TOKEN_URL, body=error)
    with pytest.raises(exc) as info:
        client.granted_scopes()
    assert info.value.kind == kind
    assert len(sleeps) == (1 if retried else 0)


@pytest.mark.parametrize(
    ("body", "exc", "kind"),
    [
        (fx.SOAP_RATE_LIMITED, SfmcRetriableError, "throttled"),
        (fx.SOAP_NO_PRIVILEGE, SfmcAuthError, "scope"),
        (
            fx.fault(
                "soap:Client", "Server did not recognize the value of HTTP Header SOAPAction: X."
            ),
            SfmcFatalError,
            "bad_request",
        ),
        (fx.fault("soap:Server", "Object reference not set"), SfmcRetriableError, "server_error"),
    ],
)
def test_soap_fault_table(rsps, make_client, body, exc, kind):
    client = make_client(max_retries=0)
    add_token(rsps)
    rsps.add(responses.POST, fx.SOAP_URL, status=500, body=body)
    with pytest.raises(exc) as info:
        client.clear_data("k")
    assert info.value.kind == kind


def test_soap_throttling_fault_is_retried(make_client, sleeps):
    client = make_client()
    with responses.RequestsMock(registry=registries.OrderedRegistry) as rsps:
        add_token(rsps)
        rsps.add(responses.POST, fx.SOAP_URL, status=500, body=fx.SOAP_RATE_LIMITED)
        rsps.add(responses.POST, fx.SOAP_URL, body=fx.perform_response())
        client.clear_data("k")
    assert len(sleeps) == 1


def test_error_body_is_scrubbed_of_secret_and_tokens(rsps, client):
    leak = {"message": f"bad client_secret={fx.SECRET} access_token=abc Bearer xyz"}
    rsps.add(responses.POST, fx.TOKEN_URL, status=400, json=leak)
    with pytest.raises(SfmcFatalError) as info:
        client.granted_scopes()
    assert fx.SECRET not in info.value.body
    assert "xyz" not in info.value.body


def test_backoff_is_exponential_jittered_and_capped():
    assert backoff_delay(0, None, rng=lambda: 1.0) == 0.5
    assert backoff_delay(2, None, rng=lambda: 1.0) == 2.0
    assert backoff_delay(10, None, rng=lambda: 1.0) == MAX_DELAY
    assert backoff_delay(10, None, rng=lambda: 0.0) == MAX_DELAY / 2
    assert backoff_delay(0, 7.0) == 7.0
    assert backoff_delay(0, 3600.0) == 60.0


def test_threads_share_one_token(rsps, client):
    add_token(rsps)
    for _ in range(8):
        rsps.add(responses.GET, STATUS_URL, json=fx.status())
    threads = [threading.Thread(target=client.async_status, args=("r1",)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(1 for c in rsps.calls if c.request.url == fx.TOKEN_URL) == 1
    assert client.api_calls == 9


def test_constructor_validates_options():
    creds = SfmcCredentials(fx.AUTH, "", "x")
    with pytest.raises(SfmcConfigError, match="Client ID and Client Secret"):
        SfmcClient(credentials=creds)


def test_runs_of_one_connection_share_one_token_renewed_by_expiry(make_client):
    # SFMC asks for about one token per 20 minutes (50200 when asked too often): clients built
    # for the runs of one connection share the token; another secret gets its own.
    now = [0.0]
    creds = SfmcCredentials(fx.AUTH, "shared-cid", fx.SECRET, account_id="100012345")
    with responses.RequestsMock(registry=registries.OrderedRegistry) as rsps:
        rsps.add(responses.POST, fx.TOKEN_URL, json=fx.token("tok-a"))
        rsps.add(responses.POST, fx.TOKEN_URL, json=fx.token("tok-b"))
        rsps.add(responses.POST, fx.TOKEN_URL, json=fx.token("tok-c"))

        def run():
            return make_client(credentials=creds, share_tokens=True, clock=lambda: now[0])

        assert run()._tokens.get().access_token == "tok-a"
        assert run()._tokens.get().access_token == "tok-a"
        other = SfmcCredentials(fx.AUTH, "shared-cid", "another-secret", account_id="100012345")
        assert make_client(credentials=other, share_tokens=True)._tokens.get().access_token == (
            "tok-b"
        )
        now[0] = 1079.0 - 100  # inside the refresh margin: renewed
        assert run()._tokens.get().access_token == "tok-c"
        assert make_client(credentials=creds)._tokens.current is None  # not shared unless asked
