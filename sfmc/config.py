"""Connection settings for one SFMC Installed Package, and Auth Base URI validation."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sfmc.errors import SfmcConfigError

_SFMC_DOMAIN = "marketingcloudapis.com"
_SERVICES = ("auth", "rest", "soap")
_SUBDOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# Paths people paste from the package page or from docs; anything else is probably a mistake.
_KNOWN_PATHS = ("", "/", "/v2/token", "/service.asmx", "/etframework.wsdl")
_LOCAL_HOSTS = ("127.0.0.1", "localhost")
_EXAMPLE = "https://<your-subdomain>.auth.marketingcloudapis.com/"


@dataclass(frozen=True)
class SfmcCredentials:
    """One Installed Package (API Integration, server-to-server).

    Attributes:
        auth_base_uri: the Auth Base URI (normalised by `normalize_auth_uri` in the client).
        client_id: the package's Client ID.
        client_secret: the package's Client Secret (never shown in repr).
        account_id: optional MID of the business unit to act in.
    """

    auth_base_uri: str
    client_id: str
    client_secret: str = field(repr=False)
    account_id: str | None = None


def _fail(message: str) -> SfmcConfigError:
    return SfmcConfigError(message, operation="check the Auth Base URI")


def normalize_auth_uri(uri: str, *, allow_local: bool = False) -> str:
    """Return the canonical Auth Base URI (`https://{sub}.auth.marketingcloudapis.com/`).

    Accepts the auth URL, the REST or SOAP URL of the same tenant, or the bare subdomain.
    With `allow_local`, `http://127.0.0.1:PORT` or `http://localhost:PORT` (a simulator) is
    accepted too and returned as `http://127.0.0.1:PORT/`.

    Args:
        uri: what the user typed.
        allow_local: accept a local simulator address (demo/dev mode only).

    Returns:
        The normalised URI, ending with a slash.

    Raises:
        SfmcConfigError: the value cannot be an SFMC Auth Base URI; the message says what to fix.
    """
    text = (uri or "").strip()
    if not text:
        msg = f"The Auth Base URI is empty: paste it from your Installed Package, like {_EXAMPLE}"
        raise _fail(msg)
    if any(ch.isspace() for ch in text):
        msg = "The Auth Base URI contains spaces: remove them."
        raise _fail(msg)
    if "://" not in text:
        bare = text.lower().rstrip("/")
        if _SUBDOMAIN.match(bare):
            return f"https://{bare}.auth.{_SFMC_DOMAIN}/"
        msg = f"The Auth Base URI '{text}' has no scheme: start it with https://, like {_EXAMPLE}"
        raise _fail(msg)
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError as exc:
        msg = f"The Auth Base URI '{text}' is not a valid URL: copy it again from the package page."
        raise _fail(msg) from exc
    if parts.username or parts.password:
        msg = "The Auth Base URI must not contain a user name or password: remove the part before '@'."
        raise _fail(msg)
    if parts.query or parts.fragment:
        msg = "The Auth Base URI must not contain '?' or '#' parts: remove everything after the host name."
        raise _fail(msg)
    if host in _LOCAL_HOSTS:
        return _local_uri(text, parts.scheme, port, parts.path, allow_local=allow_local)
    _refuse_ip(host)
    if parts.scheme != "https":
        msg = f"The Auth Base URI must start with https:// (found '{parts.scheme}://'), like {_EXAMPLE}"
        raise _fail(msg)
    if port not in (None, 443):
        msg = f"The Auth Base URI must not name a port (found :{port}): remove it."
        raise _fail(msg)
    if parts.path.lower() not in _KNOWN_PATHS:
        msg = f"The Auth Base URI must not contain a path (found '{parts.path}'): keep only {_EXAMPLE}"
        raise _fail(msg)
    return f"https://{_subdomain_from_host(host)}.auth.{_SFMC_DOMAIN}/"


def _refuse_ip(host: str) -> None:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return
    kind = "a private network address" if address.is_private else "an IP address"
    msg = (
        f"The Auth Base URI points at {kind} ({host}): use your tenant's host name, like {_EXAMPLE}"
    )
    raise _fail(msg)


def _subdomain_from_host(host: str) -> str:
    suffix = "." + _SFMC_DOMAIN
    if not host.endswith(suffix):
        msg = (
            f"The host '{host}' is not a Marketing Cloud API host: the Auth Base URI must end with "
            f".auth.{_SFMC_DOMAIN}/, like {_EXAMPLE}"
        )
        raise _fail(msg)
    labels = host[: -len(suffix)].split(".")
    if len(labels) != 2 or labels[1] not in _SERVICES or not _SUBDOMAIN.match(labels[0]):
        msg = (
            f"The host '{host}' does not look like <subdomain>.auth.{_SFMC_DOMAIN}: copy the Auth "
            "Base URI exactly from the package's API Integration section."
        )
        raise _fail(msg)
    return labels[0]


def _local_uri(text: str, scheme: str, port: int | None, path: str, *, allow_local: bool) -> str:
    if not allow_local:
        msg = (
            f"'{text}' is a local address, allowed only in demo/dev mode (--allow-local): "
            f"use your tenant's Auth Base URI, like {_EXAMPLE}"
        )
        raise _fail(msg)
    if scheme not in ("http", "https") or port is None:
        msg = f"A local Auth Base URI needs http:// and a port, like http://127.0.0.1:8080/ (got '{text}')."
        raise _fail(msg)
    if path not in ("", "/"):
        msg = f"A local Auth Base URI must not contain a path (found '{path}'): use http://127.0.0.1:{port}/"
        raise _fail(msg)
    return f"{scheme}://127.0.0.1:{port}/"


def check_local_address(uri: str, allowed: str) -> None:
    """Refuse a local Auth Base URI other than `allowed`, the one simulator demo mode may reach.

    Demo mode accepts a local address only so that connections reach its built-in simulator;
    any other loopback port is some other program on the server, which must not receive a
    client id and secret (nor be probed through the connection test).

    Args:
        uri: what the user typed.
        allowed: the built-in simulator's Auth Base URI.

    Raises:
        SfmcConfigError: `uri` is a local address and not `allowed`.
    """
    text = (uri or "").strip()
    try:
        host = (urlsplit(text).hostname or "").lower()
    except ValueError:
        return  # not a URL at all: normalize_auth_uri says what is wrong
    if host not in _LOCAL_HOSTS and not _is_loopback_ip(host):
        return
    own = normalize_auth_uri(allowed, allow_local=True)
    if normalize_auth_uri(text, allow_local=True) != own:
        msg = (
            f"'{text}' is a local address other than the built-in simulator's: in demo mode the "
            f"only local Auth Base URI is {own}"
        )
        raise _fail(msg)


def is_api_url(url: str, *, allow_local: bool = False) -> bool:
    """Whether the client may send its token to `url` (a REST/SOAP base URL from `/v2/token`).

    The token response decides where every later request (and its bearer token) goes, so it is
    held to the Auth Base URI's rules: https on a `*.marketingcloudapis.com` host (default port,
    no user info, query or fragment), or a loopback address only when `allow_local` (a simulator).

    Args:
        url: the URL to check.
        allow_local: accept loopback hosts (demo/dev mode only).

    Returns:
        True when the URL is an acceptable API base URL.
    """
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return False
    if parts.username or parts.password or parts.query or parts.fragment or not host:
        return False
    if host in _LOCAL_HOSTS or _is_loopback_ip(host):
        return allow_local and parts.scheme in ("http", "https")
    suffix = "." + _SFMC_DOMAIN
    if parts.scheme != "https" or port not in (None, 443) or not host.endswith(suffix):
        return False
    return all(_SUBDOMAIN.match(label) for label in host[: -len(suffix)].split("."))


def _is_loopback_ip(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def subdomain_of(auth_uri: str) -> str | None:
    """Return the tenant subdomain of a normalised Auth Base URI (None for a local simulator)."""
    host = (urlsplit(auth_uri).hostname or "").lower()
    if host.endswith("." + _SFMC_DOMAIN):
        return host.split(".", 1)[0]
    return None


def guessed_endpoints(auth_uri: str) -> tuple[str, str]:
    """REST and SOAP base URLs implied by the subdomain, shown before a token confirms them."""
    sub = subdomain_of(auth_uri)
    if sub is None:
        return auth_uri, auth_uri
    return f"https://{sub}.rest.{_SFMC_DOMAIN}/", f"https://{sub}.soap.{_SFMC_DOMAIN}/"
