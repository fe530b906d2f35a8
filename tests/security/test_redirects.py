"""The SFMC transport never follows a redirect: it would resend the secret, the token or the rows.

Issue 21 item 8: a token endpoint answering 307 to another port received the client id and secret
a second time. A 3xx is now a `SfmcConfigError` naming where it pointed, and nothing is resent.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import responses

from sfmc.client import SfmcClient
from sfmc.config import SfmcCredentials
from sfmc.errors import SfmcConfigError
from tests.sfmc import fixtures as fx

STATUS_URL = fx.REST + "data/v1/async/r1/status"


def _client(auth: str = fx.AUTH, **kwargs: object) -> SfmcClient:
    creds = SfmcCredentials(auth, "cid", fx.SECRET)
    return SfmcClient(credentials=creds, max_retries=2, sleep=lambda _s: None, **kwargs)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_token_redirect_is_refused_and_names_the_target(status):
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.add(
            responses.POST,
            fx.TOKEN_URL,
            status=status,
            headers={"Location": "https://collector.example:9999/steal"},
        )
        with pytest.raises(SfmcConfigError) as info:
            _client().async_status("r1")
        assert len(rsps.calls) == 1  # not resent anywhere, not retried
    assert info.value.kind == "redirect"
    assert info.value.status == status
    assert "collector.example" in str(info.value)
    assert fx.SECRET not in str(info.value)


def test_rest_redirect_is_refused_with_the_token_kept_home():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.add(responses.POST, fx.TOKEN_URL, json=fx.token())
        rsps.add(
            responses.GET,
            STATUS_URL,
            status=307,
            headers={"Location": "https://other.example/data/v1/async/r1/status"},
        )
        with pytest.raises(SfmcConfigError) as info:
            _client().async_status("r1")
        assert [c.request.url for c in rsps.calls] == [fx.TOKEN_URL, STATUS_URL]
    assert "other.example" in str(info.value)


class _Recorder(BaseHTTPRequestHandler):
    """Records every request it gets; answers with `answer` (set per server)."""

    def log_message(self, *_args: object) -> None:
        return

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.server.seen.append((self.path, self.rfile.read(length)))  # type: ignore[attr-defined]
        status, location = self.server.answer  # type: ignore[attr-defined]
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()


def _serve(answer: tuple[int, str]) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.seen = []  # type: ignore[attr-defined]
    server.answer = answer  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_real_server_redirect_sends_nothing_to_the_second_server():
    collector = _serve((200, ""))
    port = collector.server_address[1]
    redirector = _serve((307, f"http://127.0.0.1:{port}/v2/token"))
    try:
        client = _client(f"http://127.0.0.1:{redirector.server_address[1]}/", allow_local=True)
        with pytest.raises(SfmcConfigError) as info:
            client.async_status("r1")
        assert len(redirector.seen) == 1
        assert b"cid" in redirector.seen[0][1]
        assert collector.seen == []  # the secret went nowhere else
        assert "redirect" in str(info.value)
        assert "127.0.0.1" in str(info.value)
    finally:
        for server in (redirector, collector):
            server.shutdown()
            server.server_close()
