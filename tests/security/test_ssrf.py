"""The Auth Base URI cannot point the app at arbitrary hosts (no SSRF) outside demo/dev mode."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from sfmc.client import SfmcClient
from sfmc.config import SfmcCredentials, normalize_auth_uri
from sfmc.errors import SfmcConfigError
from store.crypto import encrypt_secret
from store.models import Connection
from sync.worker import default_client_factory

HOSTILE = [
    "http://169.254.169.254/",  # cloud metadata
    "https://169.254.169.254/latest/meta-data/",
    "https://10.0.0.1/",
    "https://192.168.1.20/",
    "https://172.16.0.5/",
    "https://[::1]/",
    "https://[fd00::1]/",
    "http://127.0.0.1:8765/",  # a local service, without allow_local
    "http://localhost:8080/",
    "https://localhost/",
    "https://evil.example/",
    "https://x.auth.marketingcloudapis.com@evil.example/",  # userinfo trick
    "https://x.auth.marketingcloudapis.com:pw@evil.example/",
    "https://evil.example/x.auth.marketingcloudapis.com/",
    "https://evil.example#.auth.marketingcloudapis.com",
    "https://evil.example?.auth.marketingcloudapis.com",
    "https://x.auth.marketingcloudapis.com.evil.example/",
    "https://xauth.marketingcloudapis.com.evil.example/",
    "https://x.auth.marketingcloudapis.com:8443/",  # another port on the right host
    "http://x.auth.marketingcloudapis.com/",  # plain http
    "ftp://x.auth.marketingcloudapis.com/",
    "file:///etc/passwd",
    "https://2130706433/",  # 127.0.0.1 as an integer
    "https://0x7f000001/",
    "https://127.1/",
    "https://x.auth.marketingcloudapis.com\\@evil.example/",
]


class _NoNetwork:
    """A requests.Session stand-in that fails the test if anything is sent."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def request(self, method: str, url: str, **_kwargs: object) -> None:
        self.calls.append(f"{method} {url}")
        msg = f"no request may be sent, got {method} {url}"
        raise AssertionError(msg)


@pytest.mark.parametrize("uri", HOSTILE)
def test_hostile_auth_uri_is_refused_before_any_request(uri):
    session = _NoNetwork()
    creds = SfmcCredentials(uri, "id", "secret")
    with pytest.raises(SfmcConfigError) as info:
        SfmcClient(credentials=creds, session=session, max_retries=0)  # refused at construction
    assert "Auth Base URI" in str(info.value) or "host" in str(info.value)
    assert session.calls == []


@pytest.mark.parametrize(
    "uri", ["http://10.0.0.1:80/", "http://169.254.169.254:80/", "http://192.168.0.2:8080/"]
)
def test_allow_local_means_this_machine_only(uri):
    with pytest.raises(SfmcConfigError):
        normalize_auth_uri(uri, allow_local=True)
    assert normalize_auth_uri("http://localhost:8765/", allow_local=True) == (
        "http://127.0.0.1:8765/"
    )


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("mc563885gzs27c5t9-63k636ttgm", "https://mc563885gzs27c5t9-63k636ttgm.auth.marketingcloudapis.com/"),
        ("https://mc1.rest.marketingcloudapis.com/", "https://mc1.auth.marketingcloudapis.com/"),
        ("https://MC1.auth.marketingcloudapis.com/v2/token", "https://mc1.auth.marketingcloudapis.com/"),
    ],
)  # fmt: skip
def test_real_tenant_addresses_still_work(typed, canonical):
    assert normalize_auth_uri(typed) == canonical


def test_worker_refuses_local_uris_outside_demo_mode(monkeypatch, tmp_path):
    monkeypatch.setenv("PATHWAYS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PATHWAYS_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("PATHWAYS_DEMO", "0")
    connection = Connection(name="x", auth_base_uri="http://127.0.0.1:8765/", client_id="id",
                            client_secret_encrypted=encrypt_secret("secret"))  # fmt: skip
    with pytest.raises(SfmcConfigError, match="allowed only in demo/dev mode"):
        default_client_factory(connection)
    monkeypatch.setenv("PATHWAYS_DEMO", "1")
    assert default_client_factory(connection).auth_uri == "http://127.0.0.1:8765/"
    connection.auth_base_uri = "http://10.1.1.1:8765/"  # demo mode is no licence for the LAN
    with pytest.raises(SfmcConfigError):
        default_client_factory(connection)
