"""The one HTTP choke point to SFMC (`SfmcTransport._request`) and the helpers right on top of it.

`_request` owns the URLs (tenant subdomain from the token), the bearer token, timeouts, retries
with backoff, the one token refresh and error mapping (`sfmc.responses`). `_soap`, `_retrieve`,
`_soap_single`, `_rest` and `_rest_pages` are the shapes the resource modules (`sfmc.rows`,
`sfmc.data_extensions`, `sfmc.folders`, `sfmc.contacts`, `sfmc.journeys`...) call it in.
`SfmcClient` (`sfmc.client`) adds the public resource methods.

Thread-safe: the engine shares one client between worker threads. Each thread gets its own
`requests.Session` (unless one is injected), the token cache sits behind a lock, and the call
counter is locked too.
"""

from __future__ import annotations

import json as jsonlib
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from sfmc import soap
from sfmc.auth import Token, TokenProvider, shared_slot
from sfmc.config import SfmcCredentials, normalize_auth_uri
from sfmc.errors import (
    SfmcConfigError,
    SfmcError,
    SfmcFatalError,
    SfmcRetriableError,
    scrub,
)
from sfmc.responses import (
    is_privilege_refusal,
    json_object,
    parsed_body,
    raise_for_response,
    scope_refusal,
    token_rejected,
)

INITIAL_DELAY = 0.5
MAX_DELAY = 5.0
MAX_RETRY_AFTER = 60.0
READ = "data_extensions_read"
WRITE = "data_extensions_write"


def backoff_delay(
    attempt: int, retry_after: float | None, *, rng: Callable[[], float] = random.random
) -> float:
    """Seconds to wait before retry number `attempt + 1` (exponential, jittered, capped).

    A server-sent Retry-After wins (capped at a minute so a bad header cannot stall a run).
    """
    if retry_after is not None:
        return min(max(retry_after, 0.0), MAX_RETRY_AFTER)
    delay = min(INITIAL_DELAY * (2**attempt), MAX_DELAY)
    return max(INITIAL_DELAY, delay * (0.5 + rng() / 2))


def network_error(
    exc: requests.RequestException, url: str, operation: str, *, timeout: float
) -> SfmcError:
    """Map a failed connection (TLS, timeout, DNS, refused...) to an error saying what to check."""
    host = urlsplit(url).hostname or url
    text = str(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        msg = (
            f"The secure (TLS) connection to {host} failed: check the Auth Base URI uses https:// "
            "and that no proxy or antivirus intercepts HTTPS."
        )
        return SfmcFatalError(msg, operation=operation, body=scrub(text), kind="tls")
    if isinstance(exc, requests.exceptions.Timeout):
        msg = f"{host} did not answer within {timeout:g} s."
        return SfmcRetriableError(msg, operation=operation, kind="timeout")
    dns_markers = ("NameResolution", "Name or service not known", "getaddrinfo", "nodename nor")
    if any(marker in text for marker in dns_markers):
        msg = (
            f"The host {host} does not exist (DNS lookup failed): check the subdomain in the "
            "Auth Base URI."
        )
        return SfmcConfigError(msg, operation=operation, kind="dns")
    if isinstance(exc, requests.ConnectionError):
        msg = f"Could not connect to {host}: check the network, proxy and firewall."
        return SfmcRetriableError(msg, operation=operation, kind="unreachable")
    msg = f"The request to {host} failed: {scrub(text)}"
    return SfmcFatalError(msg, operation=operation, kind="request")


def redirect_refused(resp: requests.Response, url: str, operation: str) -> SfmcConfigError:
    """A 3xx answer, refused: following it would resend the token, the secret or the rows elsewhere.

    SFMC's endpoints never redirect, so a redirect means a wrong address or something in the
    middle; the message names where it pointed so the person can check the Auth Base URI.
    """
    location = resp.headers.get("Location") or ""
    target = urlsplit(location).hostname or location or "an unnamed address"
    host = urlsplit(url).hostname or url
    msg = (
        f"{host} answered with a redirect ({resp.status_code}) to {target}; redirects are never "
        "followed (they would resend credentials): check the Auth Base URI."
    )
    return SfmcConfigError(msg, operation=operation, status=resp.status_code, kind="redirect")


def rest_path(template: str, **segments: object) -> str:
    """A REST path whose `{name}` placeholders are filled with percent-encoded values.

    Keys and ids come from users and from SFMC: pasted raw, `x?ignored=1#` would cut the path
    into a query and a fragment and `a/../../x` would climb out of the route (with the bearer
    token and the rows). Every value is encoded as exactly one path segment (`/`, `?`, `#`, `%`,
    spaces... all escaped), so it can only ever name the thing it is.
    """
    return template.format(**{name: quote(str(v), safe="") for name, v in segments.items()})


def _json_default(value: object) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)  # type: ignore[union-attr]


def dumps(payload: object) -> str:
    r"""Compact JSON, every non-ASCII character escaped (`\uXXXX`): for small bodies."""
    return jsonlib.dumps(payload, default=_json_default, separators=(",", ":"))


JSON_UTF8 = "application/json; charset=utf-8"


def encode_json(payload: object) -> bytes:
    r"""Compact JSON as UTF-8 bytes, non-ASCII characters kept as they are (send as `JSON_UTF8`).

    A CJK character costs 3 bytes instead of the 6 of `\uXXXX`: row bodies stay close to the
    UTF-8 size the engine estimates. Text that is not valid UTF-8 (lone surrogates) falls back to
    escaped ASCII JSON, which always encodes.
    """
    text = jsonlib.dumps(payload, default=_json_default, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return dumps(payload).encode("ascii")


class SfmcTransport:
    """Sends requests to one SFMC tenant with one Installed Package's credentials."""

    def __init__(
        self,
        *,
        credentials: SfmcCredentials,
        session: requests.Session | None = None,
        allow_local: bool = False,
        timeout: float = 30.0,
        max_retries: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        share_tokens: bool = False,
    ) -> None:
        """Create a client; nothing is sent until the first call (`share_tokens`: see `shared_slot`).

        Raises:
            SfmcConfigError: the Auth Base URI, credentials or options are invalid.
        """
        if not credentials.client_id.strip() or not credentials.client_secret.strip():
            msg = "Client ID and Client Secret are both required: copy them from the Installed Package."
            raise SfmcConfigError(
                msg, operation="set up the SFMC client", kind="missing_credentials"
            )
        if timeout <= 0 or max_retries < 0:
            msg = f"timeout must be > 0 and max_retries >= 0 (got {timeout}, {max_retries})."
            raise SfmcConfigError(msg, operation="set up the SFMC client")
        self.credentials = credentials
        self.auth_uri = normalize_auth_uri(credentials.auth_base_uri, allow_local=allow_local)
        self._token_url = self.auth_uri + "v2/token"
        self._session_override = session
        self._local = threading.local()
        self._timeout = timeout
        self._max_retries = max_retries
        self._sleep = sleep
        self._counter_lock = threading.Lock()
        self.api_calls = 0
        self.client_mid: int | None = None  # SOAP acts in this business unit (`soap.envelope`)
        self.resolve_owner: Callable[[], object] | None = None  # sets client_mid before SOAP
        slot = shared_slot(self.auth_uri, credentials) if share_tokens else None
        self._tokens = TokenProvider(
            credentials, fetch=self._fetch_token, clock=clock, allow_local=allow_local, slot=slot
        )

    # --- the choke point -------------------------------------------------------------------

    def _session(self) -> requests.Session:
        if self._session_override is not None:
            return self._session_override
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _request(
        self,
        method: str,
        path: str = "",
        *,
        operation: str,
        api: str = "rest",
        json: object = None,
        data: bytes | None = None,
        content_type: str = JSON_UTF8,
        params: Mapping[str, object] | None = None,
        soap_action: str | None = None,
        soap_body: str | None = None,
        scope: str | None = None,
        return_on: frozenset[int] = frozenset(),
        timeout: float | None = None,
        raw: bool = False,
    ) -> Any:
        """Send one logical request: auth, timeout, retries, token refresh and error mapping.

        Args:
            method: HTTP method.
            path: REST path (api "rest"); ignored for "soap" and "auth".
            operation: what we are doing, in words, for error messages.
            api: "rest", "soap" or "auth" (the token endpoint).
            json: JSON payload (dates and decimals become strings), encoded once per call.
            data: a body already encoded (REST only; e.g. `encode_json`), sent as is on every
                attempt; exclusive with `json`.
            content_type: the Content-Type of `data`.
            params: query parameters.
            soap_action: SOAPAction header (api "soap").
            soap_body: the SOAP Body content (the envelope and token are added per attempt).
            scope: the scope this call needs, named in permission errors.
            return_on: fatal statuses to hand back instead of raising (row errors are data).
            timeout: seconds, overriding the client's default.
            raw: return the `requests.Response` instead of its parsed JSON.

        Returns:
            The parsed JSON body (None when empty or not JSON), or the response when `raw`.

        Raises:
            SfmcError: the mapped failure after retries.
        """
        if data is not None and (json is not None or api != "rest"):
            msg = "Pass either json= or data= (data only for REST calls)."
            raise SfmcConfigError(msg, operation=operation)
        # Encoded once: retries and the token refresh replay the same bytes.
        if json is not None:
            data, content_type = dumps(json).encode("ascii"), "application/json"
        refreshed = False
        attempt = 0
        while True:
            token, url, headers, body = self._prepare(
                api, path, data, content_type, soap_action, soap_body
            )
            with self._counter_lock:
                self.api_calls += 1
            try:
                resp = self._session().request(
                    method,
                    url,
                    data=body,
                    params=params,
                    headers=headers,
                    timeout=timeout or self._timeout,
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                err: SfmcError = network_error(exc, url, operation, timeout=self._timeout)
            else:
                if 300 <= resp.status_code < 400:
                    raise redirect_refused(resp, url, operation)
                if token is not None and not refreshed and token_rejected(resp, api):
                    self._tokens.invalidate(token.access_token)
                    refreshed = True
                    continue
                try:
                    self._raise_for_response(resp, operation=operation, api=api, scope=scope)
                except SfmcRetriableError as exc:
                    err = exc
                except SfmcError as exc:
                    if exc.status in return_on:
                        return resp if raw else parsed_body(resp)
                    raise
                else:
                    return resp if raw else parsed_body(resp)
            if not isinstance(err, SfmcRetriableError) or attempt >= self._max_retries:
                raise err
            self._sleep(backoff_delay(attempt, err.retry_after))
            attempt += 1

    def _prepare(
        self,
        api: str,
        path: str,
        data: bytes | None,
        content_type: str,
        soap_action: str | None,
        soap_body: str | None,
    ) -> tuple[Token | None, str, dict[str, str], bytes | None]:
        """The token, URL, headers and body of one attempt (a fresh token after a refresh)."""
        if api == "auth":
            headers = {"Accept": "application/json", "Content-Type": content_type}
            return None, self._token_url, headers, data
        token = self._tokens.get()
        if api == "soap":
            headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": soap_action or ""}
            body = soap.envelope(token.access_token, soap_body or "", self.client_mid).encode()
            return token, token.soap_url + "Service.asmx", headers, body
        headers = {"Accept": "application/json", "Authorization": f"Bearer {token.access_token}"}
        if data is not None:
            headers["Content-Type"] = content_type
        return token, token.rest_url + path.lstrip("/"), headers, data

    def _send(self, method: str, path: str = "", **kwargs: Any) -> requests.Response:
        return self._request(method, path, raw=True, **kwargs)

    def _raise_for_response(
        self, resp: requests.Response, *, operation: str, api: str, scope: str | None = None
    ) -> None:
        """Map a failed response to the error tree (see `sfmc.responses.raise_for_response`)."""
        raise_for_response(
            resp,
            operation=operation,
            api=api,
            scope=scope,
            secret=self.credentials.client_secret,
        )

    # --- helpers on top of the choke point ----------------------------------------------------

    def _fetch_token(self, body: dict[str, str]) -> Mapping[str, object]:
        resp = self._send("POST", api="auth", json=body, operation="get an access token")
        return json_object(resp)

    def _soap(
        self, action: str, body: str, *, operation: str, scope: str = READ
    ) -> soap.SoapResponse:
        if self.resolve_owner is not None:  # pending business-unit lookup (`act_for_folder`)
            resolve, self.resolve_owner = self.resolve_owner, None
            resolve()
        resp = self._send(
            "POST", api="soap", soap_action=action, soap_body=body, operation=operation, scope=scope
        )
        try:
            parsed = soap.parse_response(resp.text)
        except Exception as exc:
            msg = "SFMC sent a SOAP response that could not be read."
            raise SfmcFatalError(
                msg, operation=operation, status=resp.status_code, body=resp.text
            ) from exc
        problem = parsed.request_error
        if problem:
            if is_privilege_refusal(problem):
                raise scope_refusal(
                    problem, scope=scope, operation=operation, request_id=parsed.request_id
                )
            msg = f"SFMC refused the request: {problem}"
            raise SfmcFatalError(
                msg, operation=operation, request_id=parsed.request_id, kind="bad_request"
            )
        return parsed

    def _retrieve(
        self, object_type: str, properties: Sequence[str], filter_xml: str = "", *, operation: str
    ) -> Iterator[soap.SoapResult]:
        """All results of a SOAP Retrieve, page by page (ContinueRequest while MoreDataAvailable)."""
        parsed = self._soap(
            "Retrieve", soap.retrieve(object_type, properties, filter_xml), operation=operation
        )
        yield from parsed.results
        while parsed.more_data and parsed.request_id:
            body = soap.continue_retrieve(object_type, parsed.request_id)
            parsed = self._soap("Retrieve", body, operation=operation)
            yield from parsed.results

    def _soap_single(
        self, action: str, body: str, *, operation: str, scope: str = WRITE
    ) -> soap.SoapResult:
        parsed = self._soap(action, body, operation=operation, scope=scope)
        result = parsed.results[0] if parsed.results else None
        if result is None or not result.ok:
            message = (
                (result.status_message if result else None) or parsed.overall_status or "no result"
            )
            code = result.error_code if result else None
            if is_privilege_refusal(message):
                raise scope_refusal(message, scope=scope, operation=operation)
            msg = f"SFMC refused it: {message}" + (f" (error {code})" if code else "")
            raise SfmcFatalError(
                msg, operation=operation, request_id=parsed.request_id, kind="refused"
            )
        return result

    def _rest(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        scope: str | None = None,
        return_on: frozenset[int] = frozenset(),
    ) -> tuple[int, dict[str, Any]]:
        """One REST call: (status, parsed JSON object or {}); `return_on` statuses come back too."""
        resp = self._send(
            method,
            path,
            operation=operation,
            json=json,
            params=params,
            scope=scope,
            return_on=return_on,
        )
        return resp.status_code, json_object(resp)

    def _rest_pages(
        self,
        path: str,
        *,
        page_size: int,
        operation: str,
        scope: str,
        params: Mapping[str, Any] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every item of a paged REST listing (`$page`/`$pageSize`, up to `count`).

        The end follows the page size SFMC returned; another page than asked ends it.
        """
        page = 1
        while True:
            _, body = self._rest(
                "GET",
                path,
                params={"$page": page, "$pageSize": page_size, **(params or {})},
                operation=operation,
                scope=scope,
            )
            items = body.get("items") or []
            if str(body.get("page") or page) != str(page):
                return
            yield from items
            size = int(body.get("pageSize") or len(items) or page_size)
            if not items or len(items) < size or page * size >= int(body.get("count") or 0):
                return
            page += 1
