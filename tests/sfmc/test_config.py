import pytest

from sfmc.config import SfmcCredentials, normalize_auth_uri, subdomain_of
from sfmc.errors import SfmcConfigError

SUB = "mc563885gzs27c5t9-63k636ttgm"
CANON = f"https://{SUB}.auth.marketingcloudapis.com/"


@pytest.mark.parametrize(
    "raw",
    [
        CANON,
        f"https://{SUB}.auth.marketingcloudapis.com",
        f"  https://{SUB}.auth.marketingcloudapis.com/v2/token ",
        f"https://{SUB}.rest.marketingcloudapis.com/",
        f"https://{SUB}.soap.marketingcloudapis.com/Service.asmx",
        f"HTTPS://{SUB.upper()}.AUTH.marketingcloudapis.com/",
        SUB,
        SUB + "/",
    ],
)
def test_accepted_forms_normalise_to_the_auth_uri(raw):
    assert normalize_auth_uri(raw) == CANON
    assert subdomain_of(normalize_auth_uri(raw)) == SUB


@pytest.mark.parametrize(
    ("raw", "fix"),
    [
        ("", "paste it"),
        (f"http://{SUB}.auth.marketingcloudapis.com/", "https://"),
        (f"{SUB}.auth.marketingcloudapis.com", "start it with https://"),
        ("https://example.com/", "not a Marketing Cloud API host"),
        ("https://marketingcloudapis.com.evil.io/", "not a Marketing Cloud API host"),
        (f"https://{SUB}.auth.marketingcloudapis.com/oauth/authorize", "must not contain a path"),
        (f"https://{SUB}.auth.marketingcloudapis.com/?x=1", "'?' or '#'"),
        (f"https://user:pw@{SUB}.auth.marketingcloudapis.com/", "user name or password"),
        (f"https://{SUB}.auth.marketingcloudapis.com:8443/", "port"),
        ("https://10.0.0.5/", "private network address"),
        ("https://8.8.8.8/", "an IP address"),
        (f"https://{SUB}.mail.marketingcloudapis.com/", "does not look like"),
        ("http://127.0.0.1:8080/", "--allow-local"),
        ("http://localhost:8080/", "--allow-local"),
        ("a b", "spaces"),
    ],
)
def test_refused_uris_say_what_to_fix(raw, fix):
    with pytest.raises(SfmcConfigError) as info:
        normalize_auth_uri(raw)
    assert fix in str(info.value)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("http://127.0.0.1:5050", "http://127.0.0.1:5050/"),
        ("http://localhost:5050/", "http://127.0.0.1:5050/"),
    ],
)
def test_local_simulator_only_when_allowed(raw, expected):
    assert normalize_auth_uri(raw, allow_local=True) == expected


@pytest.mark.parametrize(
    "raw", ["http://127.0.0.1/", "http://127.0.0.1:5050/v2/token", "http://192.168.1.2:80/"]
)
def test_local_needs_port_and_no_path_and_loopback(raw):
    with pytest.raises(SfmcConfigError):
        normalize_auth_uri(raw, allow_local=True)


def test_credentials_are_frozen_and_hide_the_secret():
    creds = SfmcCredentials(CANON, "cid", "very-secret", account_id="123")
    assert "very-secret" not in repr(creds)
    with pytest.raises(AttributeError):
        creds.client_id = "x"  # type: ignore[misc]
