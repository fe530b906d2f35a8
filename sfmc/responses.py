"""Reading SFMC's answers: JSON bodies, and failures mapped to the `SfmcError` tree.

`raise_for_response` is the single place where an HTTP status or SOAP fault becomes an error class
(through `_HTTP_TABLE` / `_FAULT_TABLE`) with a message saying what to fix (`_FIX`);
`SfmcTransport._request` calls it (and maps connection failures itself, `sfmc.transport`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sfmc import soap
from sfmc.errors import (
    SfmcAuthError,
    SfmcError,
    SfmcFatalError,
    SfmcRetriableError,
    scrub,
)

if TYPE_CHECKING:
    import requests

# status -> (error class, kind). 5xx not listed are retriable, other 4xx fatal.
_HTTP_TABLE: dict[int, tuple[type[SfmcError], str | None]] = {
    400: (SfmcFatalError, "bad_request"),
    401: (SfmcAuthError, "not_authorized"),
    403: (SfmcAuthError, "scope"),
    404: (SfmcFatalError, "not_found"),
    408: (SfmcRetriableError, "timeout"),
    413: (SfmcFatalError, "too_large"),
    429: (SfmcRetriableError, "throttled"),
    500: (SfmcRetriableError, "server_error"),
    502: (SfmcRetriableError, "unavailable"),
    503: (SfmcRetriableError, "unavailable"),
    504: (SfmcRetriableError, "timeout"),
}
# SOAP faultstring (lowercase) -> (error class, kind).
_FAULT_TABLE: dict[str, tuple[type[SfmcError], str]] = {
    "token expired": (SfmcAuthError, "token_expired"),
    "login failed": (SfmcAuthError, "login_failed"),
    "rate limited": (SfmcRetriableError, "throttled"),
}
# kind -> what to tell the person.
_FIX: dict[str, str] = {
    "invalid_client_id": (
        "SFMC does not know this Client ID: copy it exactly (no spaces) from Setup > Apps > "
        "Installed Packages > your package > API Integration."
    ),
    "bad_secret": (
        "SFMC refused the Client Secret or the package is disabled: copy the secret again without "
        "spaces and check the Installed Package is installed and enabled."
    ),
    "bad_account": (
        "The Account ID (MID) is not a business unit this package can access: fix or clear it."
    ),
    "ip_not_allowed": (
        "SFMC refused this machine's IP address: add it to the Login IP allowlist for API access "
        "(Setup > Security > Security Settings)."
    ),
    "wrong_endpoint": "There is no SFMC token endpoint at this address: check the Auth Base URI.",
    "not_authorized": (
        "SFMC answered Not Authorized even with a fresh token: give the Installed Package the "
        "{scope} scope."
    ),
    "scope": "Insufficient privileges: give the Installed Package the {scope} scope.",
    "token_expired": "SFMC rejected a fresh token: check the package is enabled, then retry.",
    "login_failed": "SFMC rejected the token (Login Failed): check the package is enabled.",
    "throttled": "SFMC is throttling requests: wait a minute and retry with fewer parallel pushes.",
    "too_large": "The request is too large for SFMC: send smaller batches.",
    "not_found": "SFMC could not find what was asked for ({detail}).",
    "timeout": "SFMC did not answer in time: retry later.",
    "unavailable": "SFMC is temporarily unavailable: retry later.",
    "server_error": "SFMC had an internal error: retry later.",
    "bad_request": "SFMC refused the request: {detail}",
}


def json_object(resp: requests.Response) -> dict[str, Any]:
    """The body as a JSON object: `{}` when empty or not JSON, a list wrapped as `{"items": ...}`."""
    try:
        data = resp.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {"items": data}


def parsed_body(resp: requests.Response) -> Any:
    """The parsed JSON body, or None when it is empty or not JSON."""
    if not resp.content:
        return None
    try:
        return resp.json()
    except ValueError:
        return None


def _detail(data: Mapping[str, Any], text: str) -> str:
    messages = data.get("resultMessages")
    if isinstance(messages, list) and messages and isinstance(messages[0], dict):
        return str(messages[0].get("message") or messages[0].get("resultCode") or "")
    for key in ("error_description", "message", "error"):
        if data.get(key):
            return str(data[key])
    return text[:200]


def scope_refusal(
    sfmc_said: str, *, scope: str, operation: str, request_id: str | None = None
) -> SfmcAuthError:
    """The error for a call SFMC refused for lack of a scope (`sfmc_said` is SFMC's message)."""
    msg = _FIX["scope"].format(scope=scope) + f" SFMC said: {sfmc_said}"
    return SfmcAuthError(msg, operation=operation, request_id=request_id, kind="scope")


def token_rejected(resp: requests.Response, api: str) -> bool:
    """Whether SFMC refused the token itself (worth one retry with a fresh token)."""
    if api == "rest":
        return resp.status_code == 401
    if resp.status_code != 500:
        return False
    fault = soap.parse_fault(resp.text)
    return fault is not None and fault.message.lower() in ("token expired", "login failed")


# Words SFMC uses when an API user lacks a permission, in faults and in SOAP results.
# Seconds to wait after 429 errorcode 50200 ("Your requests are temporarily blocked."), which
# SFMC sends without Retry-After [C: DOC-RL]: longer than the plain backoff, so that a blocked
# token endpoint gets a real pause.
BLOCKED_WAIT_S = 10.0
_PRIVILEGE_WORDS = ("privilege", "permission", "not authorized", "unauthorized")


def is_privilege_refusal(text: str) -> bool:
    """Whether SFMC's message says the package lacks a permission (the one test for it)."""
    lowered = text.lower()
    return any(word in lowered for word in _PRIVILEGE_WORDS)


def raise_for_response(
    resp: requests.Response,
    *,
    operation: str,
    api: str,
    scope: str | None = None,
    secret: str = "",
) -> None:
    """Map a failed response to the error tree (through `_HTTP_TABLE` / `_FAULT_TABLE`).

    Args:
        resp: the response; nothing happens when it succeeded.
        operation: what we were doing, in words.
        api: "rest", "soap" or "auth" (the token endpoint).
        scope: the scope the call needs, named in permission errors.
        secret: scrubbed from the body kept on the error.

    Raises:
        SfmcError: the subclass the status or fault maps to.
    """
    status = resp.status_code
    fault = soap.parse_fault(resp.text) if api == "soap" and status >= 400 else None
    if status < 400 and fault is None:
        return
    data = {} if api == "soap" else json_object(resp)
    detail = fault.message if fault else _detail(data, resp.text)
    cls, kind = _HTTP_TABLE.get(
        status,
        (SfmcRetriableError, "server_error") if status >= 500 else (SfmcFatalError, "bad_request"),
    )
    if fault is not None:
        cls, kind = _FAULT_TABLE.get(fault.message.lower(), (cls, kind))
        if is_privilege_refusal(fault.message):
            cls, kind = SfmcAuthError, "scope"
        elif fault.api_code == 17:
            cls, kind = SfmcRetriableError, "throttled"
        elif kind == "server_error" and "client" in fault.code.lower():
            cls, kind = SfmcFatalError, "bad_request"
        elif "security" in fault.code.lower() and kind == "server_error":
            cls, kind = SfmcAuthError, "login_failed"
    elif api == "auth":
        kind = _token_kind(status, data, kind)
        if kind in ("invalid_client_id", "bad_secret", "bad_account", "ip_not_allowed"):
            cls = SfmcAuthError
    elif status == 400 and data.get("errorcode") == 10006 and not data.get("additionalErrors"):
        # Segment sees this transient variant of "Unable to save rows" and retries it.
        cls, kind = SfmcRetriableError, "server_error"
    if api == "auth" and status in (404, 405) and kind in ("not_found", "bad_request"):
        kind = "wrong_endpoint"  # a server that answers but is not SFMC's token endpoint
    message = _FIX.get(kind or "", "{detail}").format(scope=scope or "needed", detail=detail)
    if detail and detail not in message:
        message = f"{message} SFMC said: {detail}"
    request_id = resp.headers.get("X-Request-Id") or (
        str(data["requestId"]) if data.get("requestId") else None
    )
    body = scrub(resp.text, secret)
    kwargs: dict[str, Any] = {
        "operation": operation,
        "status": status,
        "request_id": request_id,
        "body": body,
        "kind": kind,
    }
    if cls is SfmcRetriableError:
        raise SfmcRetriableError(message, retry_after=_retry_after(resp, data), **kwargs)
    raise cls(message, **kwargs)


def _token_kind(status: int, data: Mapping[str, Any], default: str | None) -> str | None:
    error = str(data.get("error") or "").lower()
    text = f"{error} {data.get('error_description') or ''} {data.get('message') or ''}".lower()
    if " ip " in f" {text} " or "allowlist" in text or "whitelist" in text:
        return "ip_not_allowed"
    if status == 401 and "invalid client id" in text:
        return "invalid_client_id"
    if status == 401 and error == "invalid_client":
        return "bad_secret"
    if "invalid_grant" in error or "account" in text:
        return "bad_account"
    if status == 403:
        # SFMC documents no body for a refused IP; a 403 from the token endpoint is that case.
        return "ip_not_allowed"
    return default


def _retry_after(resp: requests.Response, data: Mapping[str, Any]) -> float | None:
    for value in (resp.headers.get("Retry-After"), data.get("retryAfter")):
        try:
            if value is not None:
                return float(value)
        except (TypeError, ValueError):
            continue
    if str(data.get("errorcode")) == "50200":
        return BLOCKED_WAIT_S  # "temporarily blocked" comes without Retry-After
    return None
