"""Token response hosts are checked; row bodies are encoded once, as UTF-8, and replayed as is."""

from __future__ import annotations

import json

import pytest
import responses
from responses import registries

from sfmc.config import SfmcCredentials, is_api_url
from sfmc.errors import SfmcAuthError, SfmcConfigError
from sfmc.rows import ASYNC_MAX_BYTES, TOO_LARGE, encode_rows, row_bytes
from tests.sfmc import fixtures as fx
from tests.sfmc.conftest import add_token

ROWS_URL = fx.REST + "data/v1/async/dataextensions/key:aud/rows"
SOAP_BASE = f"https://{fx.SUB}.soap.marketingcloudapis.com/"
LOCAL = "http://127.0.0.1:9/"

BAD_HOSTS = [
    "https://evil.example.com/",
    f"http://{fx.SUB}.rest.marketingcloudapis.com/",  # not https: the token would go in clear
    f"https://{fx.SUB}.rest.marketingcloudapis.com.evil.com/",
    "https://marketingcloudapis.com/",
    "https://evil.com#.rest.marketingcloudapis.com/",
    f"https://user@{fx.SUB}.rest.marketingcloudapis.com/",
    f"https://{fx.SUB}.rest.marketingcloudapis.com:8443/",
    "https://evil.com\\.rest.marketingcloudapis.com/",
    "https://169.254.169.254/",  # the cloud metadata endpoint, the classic SSRF target
    "http://127.0.0.1:8080/",  # loopback without allow_local
    "http://10.0.0.5:8080/",
    "evil.example.com",  # a bare host is taken as https://evil.example.com
]


@pytest.mark.parametrize("which", ["rest_instance_url", "soap_instance_url"])
@pytest.mark.parametrize("url", BAD_HOSTS)
def test_token_response_pointing_at_an_unexpected_host_is_refused(rsps, client, which, url):
    """Bug: token response URLs were used without checking their host (SSRF, token leak).

    `rest_instance_url`/`soap_instance_url` from `/v2/token` decide where every later request
    and its bearer token go; they are held to the Auth Base URI's rules now. `rsps` fails the
    test if anything is sent to the bad host.
    """
    rsps.add(responses.POST, fx.TOKEN_URL, json={**fx.token(), which: url})
    with pytest.raises(SfmcAuthError, match="unexpected host") as info:
        client.async_status("r1")
    assert info.value.kind == "unexpected_host"
    assert which in info.value.message
    assert client.api_calls == 1


def test_token_response_hosts_of_the_tenant_are_accepted(rsps, client):
    rsps.add(
        responses.POST,
        fx.TOKEN_URL,
        json={**fx.token(), "rest_instance_url": f"{fx.SUB}.rest.marketingcloudapis.com"},
    )
    rsps.add(responses.GET, fx.REST + "data/v1/async/r1/status", json=fx.status())
    assert client.async_status("r1").all_ok


def test_loopback_instance_urls_only_with_allow_local(make_client):
    creds = SfmcCredentials(LOCAL, "cid", fx.SECRET)
    local_token = {**fx.token(), "rest_instance_url": LOCAL, "soap_instance_url": LOCAL}
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, LOCAL + "v2/token", json=local_token)
        rsps.add(responses.GET, LOCAL + "data/v1/async/r1/status", json=fx.status())
        assert make_client(credentials=creds, allow_local=True).async_status("r1").all_ok
    # A local simulator may not send the token anywhere else either.
    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.POST, LOCAL + "v2/token", json={**local_token, "rest_instance_url": fx.REST}
        )
        client = make_client(credentials=creds, allow_local=True)
        rsps.add(responses.GET, fx.REST + "data/v1/async/r1/status", json=fx.status())
        assert client.async_status("r1").all_ok  # SFMC's own hosts stay allowed
    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.POST,
            LOCAL + "v2/token",
            json={**local_token, "soap_instance_url": "http://192.168.1.20:80/"},
        )
        with pytest.raises(SfmcAuthError, match="unexpected host"):
            make_client(credentials=creds, allow_local=True).async_status("r1")


@pytest.mark.parametrize(
    ("url", "allow_local", "ok"),
    [
        (fx.REST, False, True),
        (SOAP_BASE, False, True),
        ("http://localhost:5000/", True, True),
        ("http://[::1]:5000/", True, True),
        ("http://localhost:5000/", False, False),
        ("ftp://127.0.0.1:21/", True, False),
        (f"{fx.REST}?x=1", False, False),
        ("https://", False, False),
        ("https://[::1/", False, False),
    ],
)
def test_is_api_url(url, allow_local, ok):
    assert is_api_url(url, allow_local=allow_local) is ok


def test_row_body_is_utf8_and_encoded_only_once(rsps, client, monkeypatch):
    """Bug: the transport encoded the async row body a second time after `submit_rows` did.

    The body is now encoded once (UTF-8 JSON, `charset=utf-8`) and those bytes are sent.
    """
    add_token(rsps)
    client.granted_scopes()  # the token request has its own (small) body
    rows = [{"Email": "a@example.com", "Note": '日本語テキスト "q" \\ é'}, {"Email": "b@x.org"}]
    rsps.add(responses.PUT, ROWS_URL, status=202, json={"requestId": "r1"})
    calls = []
    real_dumps = json.dumps

    def counting_dumps(*args, **kwargs):
        calls.append(args[0])
        return real_dumps(*args, **kwargs)

    monkeypatch.setattr(json, "dumps", counting_dumps)
    assert client.submit_rows("aud", rows, mode="upsert") == "r1"
    monkeypatch.undo()
    assert len(calls) == 1
    sent = rsps.calls[-1].request
    assert sent.headers["Content-Type"] == "application/json; charset=utf-8"
    assert sent.body == encode_rows(rows)
    assert "日本語".encode() in sent.body  # not \uXXXX: 3 bytes a character, not 6
    assert json.loads(sent.body.decode("utf-8")) == {"items": rows}


def test_retries_and_token_refresh_replay_the_same_body(make_client, sleeps):
    client = make_client()
    rows = [{"Email": f"u{i}@example.org", "Note": "中文" * 50} for i in range(20)]
    with responses.RequestsMock(registry=registries.OrderedRegistry) as rsps:
        add_token(rsps, access="old")
        rsps.add(responses.PUT, ROWS_URL, status=503, json={"message": "busy"})
        rsps.add(responses.PUT, ROWS_URL, status=401, json=fx.NOT_AUTHORIZED)
        add_token(rsps, access="new")
        rsps.add(responses.PUT, ROWS_URL, status=202, json={"requestId": "r9"})
        assert client.submit_rows("aud", rows, mode="upsert") == "r9"
        bodies = [c.request.body for c in rsps.calls if c.request.method == "PUT"]
        last_auth = rsps.calls[-1].request.headers["Authorization"]
    assert bodies == [encode_rows(rows)] * 3
    assert last_auth == "Bearer new"
    assert len(sleeps) == 1


def test_oversized_body_is_refused_before_sending_with_a_kind_to_split_on(client):
    rows = [{"Note": '"' * 3_999}] * (ASYNC_MAX_BYTES // 4_000 + 10)  # quotes: 2 bytes each
    assert sum(row_bytes(r) for r in rows) > ASYNC_MAX_BYTES
    with pytest.raises(SfmcConfigError, match="split") as info:
        client.submit_rows("aud", rows, mode="upsert")
    assert info.value.kind == TOO_LARGE
    assert client.api_calls == 0


def test_text_that_is_not_utf8_still_encodes():
    body = encode_rows([{"Note": "bad \udcff surrogate"}])
    assert json.loads(body) == {"items": [{"Note": "bad \udcff surrogate"}]}
