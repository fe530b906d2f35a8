"""The connection test: a fresh token, one light SOAP call, and a report saying what to fix."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sfmc import soap
from sfmc.config import guessed_endpoints, subdomain_of
from sfmc.errors import SfmcError
from sfmc.scopes import scope_checklist
from sfmc.types import ConnectionReport

if TYPE_CHECKING:
    from sfmc.transport import SfmcTransport


def connection_report(client: SfmcTransport) -> ConnectionReport:
    """Request a fresh token and make one light SOAP call; never raises for auth/network problems."""
    rest_guess, soap_guess = guessed_endpoints(client.auth_uri)
    base = {"subdomain": subdomain_of(client.auth_uri), "auth_url": client.auth_uri}
    try:
        token = client._tokens.get(force=True)
    except SfmcError as exc:
        return ConnectionReport(
            ok=False,
            reason=_reason(exc),
            fix=_fix_for(exc),
            rest_url=rest_guess,
            soap_url=soap_guess,
            **base,
        )
    checks = scope_checklist(token.scopes)
    endpoints = {"rest_url": token.rest_url, "soap_url": token.soap_url}
    try:
        probe = soap.simple_filter("CustomerKey", "equals", "pathways-connection-probe")
        list(
            client._retrieve(
                "DataExtension", ("CustomerKey",), probe, operation="test the SOAP API"
            )
        )
    except SfmcError as exc:
        if exc.kind != "scope":
            return ConnectionReport(
                ok=False,
                reason=_reason(exc),
                fix=_fix_for(exc),
                scopes=checks,
                **endpoints,
                **base,
            )
    missing = [c.scope for c in checks if c.required and not c.granted]
    reason = "Connected: SFMC issued a token and answered a SOAP call."
    fix = None
    if missing:
        reason = f"Connected, but the package lacks {', '.join(missing)}."
        fix = "Edit the Installed Package's API Integration and grant: " + ", ".join(missing) + "."
    return ConnectionReport(ok=True, reason=reason, fix=fix, scopes=checks, **endpoints, **base)


def _reason(exc: SfmcError) -> str:
    reasons = {
        "invalid_client_id": "Bad Client ID: SFMC does not know it.",
        "bad_secret": "Bad Client Secret, or the package is disabled.",
        "bad_account": "The Account ID (MID) is not accessible to this package.",
        "dns": "Wrong subdomain: the Auth Base URI's host does not exist.",
        "unreachable": "SFMC is unreachable from this machine.",
        "timeout": "SFMC did not answer in time.",
        "tls": "The secure (TLS) connection failed.",
        "ip_not_allowed": "This machine's IP address is not allow-listed.",
        "throttled": "SFMC is throttling this package.",
        "wrong_endpoint": "Something answers at this address, but it is not Marketing Cloud's token endpoint.",
    }
    return reasons.get(exc.kind or "", exc.message)


def _fix_for(exc: SfmcError) -> str:
    fixes = {
        "invalid_client_id": (
            "Copy the Client ID exactly, without spaces, from a Server-to-Server Installed Package "
            "(enhanced functionality) > API Integration."
        ),
        "bad_secret": (
            "Copy the Client Secret again without spaces, and check the Server-to-Server Installed "
            "Package (enhanced functionality) is installed and enabled."
        ),
        "dns": (
            "Check the Auth Base URI: it starts with https:// and looks like "
            "https://<subdomain>.auth.marketingcloudapis.com/ (copy it from the package page)."
        ),
        "unreachable": "Check the network, proxy and firewall allow HTTPS to *.marketingcloudapis.com.",
        "timeout": "Retry in a minute; if it persists check the network or proxy.",
        "tls": "Check the Auth Base URI starts with https:// and that no proxy intercepts HTTPS.",
        "ip_not_allowed": "Add this machine's public IP address to the Marketing Cloud Login IP allowlist for API access.",
        "throttled": "Wait a few minutes before testing again; tokens are cached, so do not request many.",
        "bad_account": "Fix the Account ID (MID) or leave it empty to use the package's own business unit.",
        "wrong_endpoint": (
            "Copy the Auth Base URI exactly from the Installed Package's API Integration section: "
            "it looks like https://<subdomain>.auth.marketingcloudapis.com/."
        ),
    }
    return fixes.get(exc.kind or "", exc.message)
