"""The SFMC client: one HTTP choke point (`_request`) and thin resource methods.

Thread-safe: the engine shares one client between worker threads. Each thread gets its own
`requests.Session` (unless one is injected), the token cache sits behind a lock, and the call
counter is locked too.
"""

from __future__ import annotations

import json as jsonlib
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import requests

from sfmc import fieldrules, soap
from sfmc.auth import Token, TokenProvider
from sfmc.config import SfmcCredentials, guessed_endpoints, normalize_auth_uri, subdomain_of
from sfmc.errors import (
    SfmcAuthError,
    SfmcConfigError,
    SfmcError,
    SfmcFatalError,
    SfmcRetriableError,
    scrub,
)
from sfmc.scopes import FOLDER_SCOPE, scope_checklist
from sfmc.types import (
    AsyncStatus,
    ConnectionReport,
    DataExtension,
    DeField,
    Folder,
    FolderListing,
    RowOutcome,
)

INITIAL_DELAY = 0.5
MAX_DELAY = 5.0
MAX_RETRY_AFTER = 60.0
ASYNC_MAX_ROWS = 32_000
ASYNC_MAX_BYTES = 4_000_000
ROWSET_BATCH = 50
DELETE_BATCH = 500
POLL_INITIAL = 0.25
POLL_MAX = 5.0
RESULTS_PAGE_SIZE = 2_500
READ = "data_extensions_read"
WRITE = "data_extensions_write"

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


def _json_default(value: object) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)  # type: ignore[union-attr]


def _dumps(payload: object) -> str:
    return jsonlib.dumps(payload, default=_json_default, separators=(",", ":"))


def _row_bytes(row: Mapping[str, object]) -> int:
    return len(_dumps(row).encode("utf-8")) + 1


def batches(
    rows: Iterable[Mapping[str, object]],
    *,
    max_rows: int = ASYNC_MAX_ROWS,
    max_bytes: int = ASYNC_MAX_BYTES,
) -> Iterator[list[dict[str, object]]]:
    """Split rows into batches of at most `max_rows` rows and about `max_bytes` of JSON.

    A single row bigger than `max_bytes` travels alone (SFMC will judge it).
    """
    batch: list[dict[str, object]] = []
    size = 0
    for row in rows:
        row_size = _row_bytes(row)
        if batch and (len(batch) >= max_rows or size + row_size > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(dict(row))
        size += row_size
    if batch:
        yield batch


def _json(resp: requests.Response) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {"items": data}


def _parsed(resp: requests.Response) -> Any:
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


class SfmcClient:
    """Talks to one SFMC tenant with one Installed Package's credentials."""

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
    ) -> None:
        """Create a client; nothing is sent until the first call.

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
        self._tokens = TokenProvider(credentials, fetch=self._fetch_token, clock=clock)

    # --- the choke point -------------------------------------------------------------------

    def _session(self) -> requests.Session:
        if self._session_override is not None:
            return self._session_override
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _count(self) -> None:
        with self._counter_lock:
            self.api_calls += 1

    def _request(
        self,
        method: str,
        path: str = "",
        *,
        operation: str,
        api: str = "rest",
        json: object = None,
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
            json: JSON payload (dates and decimals become strings).
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
        refreshed = False
        attempt = 0
        while True:
            token: Token | None = None
            headers: dict[str, str] = {"Accept": "application/json"}
            data: str | None = None
            if api == "auth":
                url = self._token_url
                data = _dumps(json)
                headers["Content-Type"] = "application/json"
            else:
                token = self._tokens.get()
                if api == "soap":
                    url = token.soap_url + "Service.asmx"
                    data = soap.envelope(token.access_token, soap_body or "")
                    headers = {
                        "Content-Type": "text/xml; charset=utf-8",
                        "SOAPAction": soap_action or "",
                    }
                else:
                    url = token.rest_url + path.lstrip("/")
                    headers["Authorization"] = f"Bearer {token.access_token}"
                    if json is not None:
                        data = _dumps(json)
                        headers["Content-Type"] = "application/json"
            self._count()
            try:
                resp = self._session().request(
                    method,
                    url,
                    data=data.encode("utf-8") if data is not None else None,
                    params=params,
                    headers=headers,
                    timeout=timeout or self._timeout,
                )
            except requests.RequestException as exc:
                err: SfmcError = self._network_error(exc, url, operation)
            else:
                if token is not None and not refreshed and self._token_rejected(resp, api):
                    self._tokens.invalidate(token.access_token)
                    refreshed = True
                    continue
                try:
                    self._raise_for_response(resp, operation=operation, api=api, scope=scope)
                except SfmcRetriableError as exc:
                    err = exc
                except SfmcError as exc:
                    if exc.status in return_on:
                        return resp if raw else _parsed(resp)
                    raise
                else:
                    return resp if raw else _parsed(resp)
            if not isinstance(err, SfmcRetriableError) or attempt >= self._max_retries:
                raise err
            self._sleep(backoff_delay(attempt, err.retry_after))
            attempt += 1

    def _send(self, method: str, path: str = "", **kwargs: Any) -> requests.Response:
        return self._request(method, path, raw=True, **kwargs)

    @staticmethod
    def _token_rejected(resp: requests.Response, api: str) -> bool:
        if api == "rest":
            return resp.status_code == 401
        if resp.status_code != 500:
            return False
        fault = soap.parse_fault(resp.text)
        return fault is not None and fault.message.lower() in ("token expired", "login failed")

    def _network_error(self, exc: requests.RequestException, url: str, operation: str) -> SfmcError:
        host = requests.utils.urlparse(url).hostname or url
        text = str(exc)
        if isinstance(exc, requests.exceptions.SSLError):
            msg = (
                f"The secure (TLS) connection to {host} failed: check the Auth Base URI uses https:// "
                "and that no proxy or antivirus intercepts HTTPS."
            )
            return SfmcFatalError(msg, operation=operation, body=scrub(text), kind="tls")
        if isinstance(exc, requests.exceptions.Timeout):
            msg = f"{host} did not answer within {self._timeout:g} s."
            return SfmcRetriableError(msg, operation=operation, kind="timeout")
        dns_markers = (
            "NameResolution",
            "Name or service not known",
            "getaddrinfo",
            "nodename nor servname",
        )
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

    def _raise_for_response(
        self, resp: requests.Response, *, operation: str, api: str, scope: str | None = None
    ) -> None:
        """Map a failed response to the error tree (through `_HTTP_TABLE` / `_FAULT_TABLE`)."""
        status = resp.status_code
        fault = soap.parse_fault(resp.text) if api == "soap" and status >= 400 else None
        if status < 400 and fault is None:
            return
        data = {} if api == "soap" else _json(resp)
        detail = fault.message if fault else _detail(data, resp.text)
        cls, kind = _HTTP_TABLE.get(
            status,
            (SfmcRetriableError, "server_error")
            if status >= 500
            else (SfmcFatalError, "bad_request"),
        )
        if fault is not None:
            cls, kind = _FAULT_TABLE.get(fault.message.lower(), (cls, kind))
            if any(w in fault.message.lower() for w in ("privilege", "permission")):
                cls, kind = SfmcAuthError, "scope"
            elif fault.api_code == 17:
                cls, kind = SfmcRetriableError, "throttled"
            elif kind == "server_error" and "client" in fault.code.lower():
                cls, kind = SfmcFatalError, "bad_request"
            elif "security" in fault.code.lower() and kind == "server_error":
                cls, kind = SfmcAuthError, "login_failed"
        elif api == "auth":
            kind = self._token_kind(status, data, kind)
            if kind in ("invalid_client_id", "bad_secret", "bad_account", "ip_not_allowed"):
                cls = SfmcAuthError
        elif status == 400 and data.get("errorcode") == 10006 and not data.get("additionalErrors"):
            # Segment sees this transient variant of "Unable to save rows" and retries it.
            cls, kind = SfmcRetriableError, "server_error"
        if kind == "not_found" and status == 404 and api == "auth":
            kind = "wrong_endpoint"
        message = _FIX.get(kind or "", "{detail}").format(scope=scope or "needed", detail=detail)
        if detail and detail not in message:
            message = f"{message} SFMC said: {detail}"
        request_id = resp.headers.get("X-Request-Id") or (
            str(data["requestId"]) if data.get("requestId") else None
        )
        body = scrub(resp.text, self.credentials.client_secret)
        kwargs: dict[str, Any] = {
            "operation": operation,
            "status": status,
            "request_id": request_id,
            "body": body,
            "kind": kind,
        }
        if cls is SfmcRetriableError:
            raise SfmcRetriableError(message, retry_after=self._retry_after(resp, data), **kwargs)
        raise cls(message, **kwargs)

    @staticmethod
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

    @staticmethod
    def _retry_after(resp: requests.Response, data: Mapping[str, Any]) -> float | None:
        for value in (resp.headers.get("Retry-After"), data.get("retryAfter")):
            try:
                if value is not None:
                    return float(value)
            except (TypeError, ValueError):
                continue
        return None

    # --- helpers on top of the choke point ----------------------------------------------------

    def _fetch_token(self, body: dict[str, str]) -> Mapping[str, object]:
        resp = self._send("POST", api="auth", json=body, operation="get an access token")
        return _json(resp)

    def _soap(
        self, action: str, body: str, *, operation: str, scope: str = READ
    ) -> soap.SoapResponse:
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
            lowered = problem.lower()
            if any(
                w in lowered for w in ("privilege", "permission", "not authorized", "unauthorized")
            ):
                msg = _FIX["scope"].format(scope=scope) + f" SFMC said: {problem}"
                raise SfmcAuthError(
                    msg, operation=operation, request_id=parsed.request_id, kind="scope"
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

    # --- tokens and connection ----------------------------------------------------------------

    def granted_scopes(self) -> frozenset[str]:
        """Scopes of the current token (fetching one if needed)."""
        return self._tokens.get().scopes

    def test_connection(self) -> ConnectionReport:
        """Request a fresh token and make one light SOAP call; never raises for auth/network problems."""
        rest_guess, soap_guess = guessed_endpoints(self.auth_uri)
        base = {"subdomain": subdomain_of(self.auth_uri), "auth_url": self.auth_uri}
        try:
            token = self._tokens.get(force=True)
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
                self._retrieve(
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
            fix = (
                "Edit the Installed Package's API Integration and grant: "
                + ", ".join(missing)
                + "."
            )
        return ConnectionReport(ok=True, reason=reason, fix=fix, scopes=checks, **endpoints, **base)

    # --- folders and Data Extensions -----------------------------------------------------------

    def list_folders(self) -> FolderListing:
        """Data Extension folders as a tree with paths; falls back to folders of existing DEs."""
        flt = soap.or_filter(
            ("ContentType", "equals", "dataextension"),
            ("ContentType", "equals", "shared_dataextension"),
        )
        try:
            results = list(
                self._retrieve("DataFolder", soap.FOLDER_PROPERTIES, flt, operation="list folders")
            )
        except SfmcAuthError:
            return self._folders_from_data_extensions()
        return FolderListing(folders=_folder_tree(results))

    def list_data_extensions(self) -> list[DataExtension]:
        """Every Data Extension in the business unit, without fields."""
        results = self._retrieve(
            "DataExtension", soap.DE_PROPERTIES, operation="list Data Extensions"
        )
        return [_de_from_result(r) for r in results]

    def find_data_extension(
        self, *, customer_key: str | None = None, name: str | None = None
    ) -> DataExtension | None:
        """Find a DE by customer key or name, with its fields; None when absent."""
        if (customer_key is None) == (name is None):
            msg = "Give exactly one of customer_key or name to find a Data Extension."
            raise SfmcConfigError(msg, operation="find a Data Extension")
        prop, value = ("CustomerKey", customer_key) if customer_key is not None else ("Name", name)
        flt = soap.simple_filter(prop, "equals", value)
        found = next(
            iter(
                self._retrieve(
                    "DataExtension", soap.DE_PROPERTIES, flt, operation="find a Data Extension"
                )
            ),
            None,
        )
        if found is None:
            return None
        de = _de_from_result(found)
        return DataExtension(**{**de.__dict__, "fields": tuple(self._fields(de.customer_key))})

    def _fields(self, customer_key: str) -> list[DeField]:
        flt = soap.simple_filter("DataExtension.CustomerKey", "equals", customer_key)
        results = self._retrieve(
            "DataExtensionField", soap.FIELD_PROPERTIES, flt, operation="describe fields"
        )
        return [f for _, f in sorted((_field_from_result(r) for r in results), key=lambda p: p[0])]

    def create_data_extension(self, de: DataExtension) -> DataExtension:
        """Create a DE (not sendable) after checking SFMC's schema rules locally.

        Raises:
            SfmcConfigError: a schema rule is broken (the message says which and how to fix it).
            SfmcFatalError: SFMC refused it (for example, the name or key already exists).
        """
        _check_new_data_extension(de)
        body = soap.create_data_extension(
            name=de.name, customer_key=de.customer_key, fields=de.fields, category_id=de.category_id
        )
        result = self._soap_single("Create", body, operation=f"create Data Extension {de.name}")
        object_id = result.values.get("NewObjectID")
        return DataExtension(
            **{**de.__dict__, "object_id": str(object_id) if object_id else de.object_id}
        )

    def add_fields(self, customer_key: str, fields: Sequence[DeField]) -> DataExtension:
        """Add new fields (or lengthen Text fields) on an existing DE; identical fields are skipped.

        Raises:
            SfmcConfigError: the DE does not exist or a change breaks SFMC's rules.
        """
        current = self.find_data_extension(customer_key=customer_key)
        if current is None:
            msg = f"Data Extension '{customer_key}' does not exist: create it first."
            raise SfmcConfigError(msg, operation="add fields", kind="not_found")
        object_ids = self._field_object_ids(customer_key) if fields else {}
        changes = _plan_field_changes(
            current, fields, has_rows=lambda: self._has_rows(customer_key), object_ids=object_ids
        )
        if changes:
            self._soap_single(
                "Update",
                soap.update_fields(customer_key, changes),
                operation=f"add fields to {customer_key}",
                scope=WRITE,
            )
        return self.find_data_extension(customer_key=customer_key) or current

    def _field_object_ids(self, customer_key: str) -> dict[str, str]:
        flt = soap.simple_filter("DataExtension.CustomerKey", "equals", customer_key)
        results = self._retrieve(
            "DataExtensionField", ("ObjectID", "Name"), flt, operation="describe fields"
        )
        return {
            str(r.values.get("Name", "")).lower(): str(r.values.get("ObjectID", ""))
            for r in results
        }

    def _has_rows(self, customer_key: str) -> bool:
        resp = self._send(
            "GET",
            f"data/v1/customobjectdata/key/{customer_key}/rowset",
            params={"$page": 1, "$pageSize": 1},
            operation=f"count rows of {customer_key}",
            scope=READ,
        )
        data = _json(resp)
        return bool(data.get("items")) or int(data.get("count") or 0) > 0

    def delete_data_extension(self, customer_key: str) -> None:
        """Delete a whole DE (rows and all)."""
        self._soap_single(
            "Delete",
            soap.delete_data_extension(customer_key),
            operation=f"delete Data Extension {customer_key}",
            scope=WRITE,
        )

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
            lowered = message.lower()
            if any(w in lowered for w in ("privilege", "permission", "not authorized")):
                raise SfmcAuthError(
                    _FIX["scope"].format(scope=scope) + f" SFMC said: {message}",
                    operation=operation,
                    kind="scope",
                )
            msg = f"SFMC refused it: {message}" + (f" (error {code})" if code else "")
            raise SfmcFatalError(
                msg, operation=operation, request_id=parsed.request_id, kind="refused"
            )
        return result

    # --- rows ------------------------------------------------------------------------------------

    def submit_rows(
        self, customer_key: str, rows: Sequence[Mapping[str, object]], *, mode: str
    ) -> str:
        """Queue rows through the async DE API; returns SFMC's requestId.

        Args:
            customer_key: the DE's external key.
            rows: flat `{field: value}` rows (at most 32,000 and the byte cap; see `batches`).
            mode: "upsert" (PUT) or "insert" (POST; existing keys come back as row errors).
        """
        method = {"upsert": "PUT", "insert": "POST"}.get(mode)
        if method is None:
            msg = f"mode must be 'upsert' or 'insert' (got {mode!r})."
            raise SfmcConfigError(msg, operation="submit rows")
        size = sum(_row_bytes(r) for r in rows)
        if len(rows) > ASYNC_MAX_ROWS or size > ASYNC_MAX_BYTES + 64:
            msg = f"{len(rows)} rows / {size} bytes exceed one async request: split them with batches()."
            raise SfmcConfigError(msg, operation="submit rows")
        resp = self._send(
            method,
            f"data/v1/async/dataextensions/key:{customer_key}/rows",
            json={"items": list(rows)},
            operation=f"{mode} {len(rows)} rows into {customer_key}",
            scope=WRITE,
        )
        request_id = _json(resp).get("requestId")
        if not request_id:
            msg = "SFMC accepted the rows but sent no requestId."
            raise SfmcFatalError(
                msg, operation="submit rows", status=resp.status_code, body=resp.text
            )
        return str(request_id)

    def async_status(self, request_id: str) -> AsyncStatus | None:
        """Status of an async request; None while SFMC does not know the request yet."""
        resp = self._send(
            "GET",
            f"data/v1/async/{request_id}/status",
            operation="check async status",
            scope=READ,
            return_on=frozenset({400, 404}),
        )
        data = _json(resp)
        status = data.get("status")
        if isinstance(status, dict) and status.get("requestStatus"):
            return AsyncStatus(
                request_id=str(status.get("requestId") or request_id),
                request_status=str(status["requestStatus"]),
                result_status=status.get("resultStatus"),
                has_errors=bool(status.get("hasErrors")),
            )
        codes = {
            str(m.get("resultCode"))
            for m in data.get("resultMessages") or []
            if isinstance(m, dict)
        }
        if "AsyncRequestStatusNotFound" in codes or resp.status_code == 404:
            return None
        self._raise_for_response(resp, operation="check async status", api="rest", scope=READ)
        msg = "SFMC sent an async status without requestStatus."
        raise SfmcFatalError(msg, operation="check async status", body=resp.text)

    def async_results(self, request_id: str) -> list[RowOutcome]:
        """Per-row outcomes of an async request, all pages, in submission order."""
        outcomes: list[RowOutcome] = []
        page = 1
        while True:
            resp = self._send(
                "GET",
                f"data/v1/async/{request_id}/results",
                params={"$page": page, "$pageSize": RESULTS_PAGE_SIZE},
                operation="read async results",
                scope=READ,
            )
            data = _json(resp)
            items = data.get("items") or []
            outcomes.extend(_async_outcome(i) for i in items if isinstance(i, dict))
            if not items or len(outcomes) >= int(data.get("count") or 0):
                return outcomes
            page += 1

    def wait_for_rows(
        self, request_id: str, n_rows: int, *, timeout: float = 900.0
    ) -> list[RowOutcome]:
        """Poll until the async request finishes, then return one outcome per submitted row.

        Results are read only when the status reports errors.
        """
        waited, delay = 0.0, POLL_INITIAL
        while True:
            status = self.async_status(request_id)
            if status is not None and status.done:
                break
            if waited >= timeout:
                msg = f"SFMC was still processing async request {request_id} after {waited:.0f} s."
                raise SfmcRetriableError(msg, operation="wait for rows", kind="timeout")
            self._sleep(delay)
            waited += delay
            delay = min(delay * 2, POLL_MAX)
        if status.all_ok:
            return [RowOutcome(ok=True)] * n_rows
        outcomes = self.async_results(request_id)
        if status.request_status == "Error" and not outcomes:
            failed = RowOutcome(
                ok=False,
                error_type="UnexpectedError",
                error_details="SFMC reported the whole async request as failed.",
                retryable=True,
            )
            return [failed] * n_rows
        return _pad_outcomes(outcomes, n_rows)

    def iter_rows(self, customer_key: str, fields: Sequence[str]) -> Iterator[dict[str, str]]:
        """Stream a DE's rows (only `fields`), one SOAP page (2,500 rows) in memory at a time."""
        if not fields:
            msg = "Name at least one field to read."
            raise SfmcConfigError(msg, operation="read rows")
        for result in self._retrieve(
            f"DataExtensionObject[{customer_key}]", fields, operation=f"read rows of {customer_key}"
        ):
            yield soap.row_properties(result)

    def delete_rows(
        self, customer_key: str, keys: Sequence[Mapping[str, object]]
    ) -> list[RowOutcome]:
        """Delete rows by primary key (all PK fields per row), in batches; one outcome per key."""
        outcomes: list[RowOutcome] = []
        for start in range(0, len(keys), DELETE_BATCH):
            chunk = keys[start : start + DELETE_BATCH]
            parsed = self._soap(
                "Delete",
                soap.delete_rows(customer_key, chunk),
                operation=f"delete rows of {customer_key}",
                scope=WRITE,
            )
            ordered = sorted(
                parsed.results, key=lambda r: r.ordinal if r.ordinal is not None else 0
            )
            outcomes.extend(_pad_outcomes([_soap_row_outcome(r) for r in ordered], len(chunk)))
        return outcomes

    def clear_data(self, customer_key: str) -> None:
        """Remove every row of a DE (SOAP Perform ClearData)."""
        self._soap_single(
            "Perform",
            soap.clear_data(customer_key),
            operation=f"clear Data Extension {customer_key}",
        )

    def upsert_rowset(
        self, customer_key: str, rows: Sequence[Mapping[str, object]], primary_keys: Sequence[str]
    ) -> list[RowOutcome]:
        """Synchronous hub upsert in batches of 50; a failed batch gives all its rows the error."""
        outcomes: list[RowOutcome] = []
        for start in range(0, len(rows), ROWSET_BATCH):
            chunk = rows[start : start + ROWSET_BATCH]
            payload = [
                {
                    "keys": {k: r.get(k) for k in primary_keys},
                    "values": {k: v for k, v in r.items() if k not in primary_keys},
                }
                for r in chunk
            ]
            resp = self._send(
                "POST",
                f"hub/v1/dataevents/key:{customer_key}/rowset",
                json=payload,
                operation=f"upsert rows into {customer_key}",
                scope=WRITE,
                return_on=frozenset({400}),
            )
            if resp.status_code < 400:
                outcomes.extend(RowOutcome(ok=True) for _ in chunk)
            else:
                outcomes.extend([_rowset_outcome(_json(resp))] * len(chunk))
        return outcomes

    def _folders_from_data_extensions(self) -> FolderListing:
        des = self.list_data_extensions()
        by_folder: dict[int, list[str]] = {}
        for de in des:
            if de.category_id is not None:
                by_folder.setdefault(de.category_id, []).append(de.name)
        folders = tuple(
            Folder(
                id=fid,
                name=f"Folder {fid}",
                parent_id=None,
                path=f"Folder {fid} (holds {', '.join(sorted(names)[:3])})",
            )
            for fid, names in sorted(by_folder.items())
        )
        notice = (
            f"This package cannot read Data Extension folders, so only the {len(folders)} folder(s) that "
            f"hold existing Data Extensions are listed. Grant the {FOLDER_SCOPE} scope to pick any folder."
        )
        return FolderListing(folders=folders, fallback=True, notice=notice)


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
        "wrong_endpoint": "The Auth Base URI is not an SFMC token endpoint.",
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
        "wrong_endpoint": "Copy the Auth Base URI exactly from the package's API Integration section.",
    }
    return fixes.get(exc.kind or "", exc.message)


def _folder_tree(results: Iterable[soap.SoapResult]) -> tuple[Folder, ...]:
    raw: dict[int, tuple[str, int | None]] = {}
    for r in results:
        v = r.values
        parent = v.get("ParentFolder")
        parent_id = soap._int(str(parent.get("ID"))) if isinstance(parent, dict) else None
        fid = soap._int(str(v.get("ID", "")))
        if fid is not None:
            raw[fid] = (str(v.get("Name", "")), parent_id or None)

    def path(fid: int, seen: frozenset[int] = frozenset()) -> str:
        name, parent = raw[fid]
        if parent is None or parent not in raw or parent in seen:
            return name
        return f"{path(parent, seen | {fid})} / {name}"

    folders = [
        Folder(id=fid, name=name, parent_id=parent if parent in raw else None, path=path(fid))
        for fid, (name, parent) in raw.items()
    ]
    return tuple(sorted(folders, key=lambda f: f.path.lower()))


def _de_from_result(r: soap.SoapResult) -> DataExtension:
    v = r.values
    return DataExtension(
        name=str(v.get("Name", "")),
        customer_key=str(v.get("CustomerKey", "")),
        object_id=str(v["ObjectID"]) if v.get("ObjectID") else None,
        category_id=soap._int(str(v.get("CategoryID", ""))),
    )


def _field_from_result(r: soap.SoapResult) -> tuple[int, DeField]:
    v = r.values
    field_type = str(v.get("FieldType") or "Text")
    max_length = soap._int(str(v.get("MaxLength", "")))
    scale = soap._int(str(v.get("Scale", "")))
    is_decimal = field_type == "Decimal"
    field = DeField(
        name=str(v.get("Name", "")),
        field_type=field_type,
        max_length=None if is_decimal else max_length,
        precision=max_length if is_decimal else None,
        scale=scale if is_decimal else None,
        is_primary_key=str(v.get("IsPrimaryKey", "")).lower() == "true",
        is_required=str(v.get("IsRequired", "")).lower() == "true",
        default_value=str(v["DefaultValue"]) if v.get("DefaultValue") else None,
    )
    return soap._int(str(v.get("Ordinal", ""))) or 0, field


def check_connection(
    credentials: SfmcCredentials, *, allow_local: bool = False, **options: Any
) -> ConnectionReport:
    """Build a client and test it, turning a bad Auth Base URI into a failed report too."""
    try:
        client = SfmcClient(credentials=credentials, allow_local=allow_local, **options)
    except SfmcConfigError as exc:
        return ConnectionReport(
            ok=False, reason=exc.message, fix=exc.message, auth_url=credentials.auth_base_uri
        )
    return client.test_connection()


# --- row outcomes (rejections are data) ----------------------------------------------------------

# SOAP custom-object codes (reference §3b/§4.6) -> validationErrorType.
_CODE_TYPES: Mapping[int, str] = fieldrules.ERROR_TYPES
# Phrases of SFMC row messages -> validationErrorType; first match wins.
_MESSAGE_TYPES: tuple[tuple[str, str], ...] = (
    ("does not allow null", "NullValue"),
    ("required keys are missing", "NullValue"),
    ("exceeds the column's maximum length", "MaxLengthExceeded"),
    ("not a valid email", "InvalidEmailAddress"),
    ("not a valid phone", "InvalidPhone"),
    ("not a valid number", "InvalidNumber"),
    ("not a valid decimal", "InvalidDecimal"),
    ("not a valid date", "InvalidDate"),
    ("not a valid boolean", "InvalidBoolean"),
    ("violation of primary key", "PrimaryKeyViolation"),
    ("primary key", "PrimaryKeyViolation"),
    ("does not exist", "UnknownColumn"),
    ("at least one existing field", "UnknownColumn"),
    ("cannot locate the existing record", "NotFound"),
)
_FIELD_IN_MESSAGE = re.compile(r"\[([^\]]+)\]")


def _classify(message: str, code: object = None) -> str:
    try:
        by_code = _CODE_TYPES.get(int(code))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        by_code = None
    if by_code:
        return by_code
    lowered = message.lower()
    for phrase, error_type in _MESSAGE_TYPES:
        if phrase in lowered:
            return error_type
    return "UnexpectedError"


def _retryable(message: str) -> bool:
    # SQL deadlocks between concurrent async jobs on one DE (Segment retries these).
    return message.rstrip().endswith("Rerun the transaction.")


def _async_outcome(item: Mapping[str, Any]) -> RowOutcome:
    if str(item.get("status", "")).upper() == "OK":
        return RowOutcome(ok=True)
    message = str(item.get("message") or "")
    errors = item.get("errors") or []
    first = errors[0] if errors and isinstance(errors[0], Mapping) else {}
    details = str(first.get("errorMessage") or message)
    return RowOutcome(
        ok=False,
        error_type=_classify(details, first.get("errorCode"))
        if first
        else _classify(message, item.get("errorCode")),
        error_details=details,
        field=str(first["name"]) if first.get("name") else None,
        retryable=_retryable(message) or _retryable(details),
    )


def _rowset_outcome(data: Mapping[str, Any]) -> RowOutcome:
    extra = data.get("additionalErrors") or []
    first = extra[0] if extra and isinstance(extra[0], Mapping) else {}
    message = str(first.get("message") or data.get("message") or "SFMC rejected the batch")
    column, _, _ = message.partition(": ")
    field = column if column and " " not in column and column != message else None
    if field is None:
        match = _FIELD_IN_MESSAGE.search(message)
        field = match.group(1) if match else None
    return RowOutcome(
        ok=False,
        error_type=_classify(message),
        error_details=message,
        field=field,
        retryable=_retryable(message),
    )


def _soap_row_outcome(result: soap.SoapResult) -> RowOutcome:
    if result.ok:
        return RowOutcome(ok=True)
    message = str(result.values.get("ErrorMessage") or result.status_message or "Error")
    match = _FIELD_IN_MESSAGE.search(message)
    return RowOutcome(
        ok=False,
        error_type=_classify(message, result.error_code),
        error_details=message,
        field=match.group(1) if match else None,
        retryable=_retryable(message),
    )


def _pad_outcomes(outcomes: list[RowOutcome], n_rows: int) -> list[RowOutcome]:
    """Align outcomes to the submitted rows (SFMC is assumed to answer in submission order).

    When SFMC answers for fewer rows than were sent, the rest are marked unknown and retryable:
    re-sending an upsert is safe, silently counting it as written is not.
    """
    if len(outcomes) >= n_rows:
        return outcomes[:n_rows]
    unknown = RowOutcome(
        ok=False,
        error_type="UnexpectedError",
        error_details="SFMC returned no result for this row.",
        retryable=True,
    )
    return outcomes + [unknown] * (n_rows - len(outcomes))


# --- schema rules, checked before calling SFMC ----------------------------------------------------

MAX_KEY_LENGTH = 36


def _check_new_data_extension(de: DataExtension) -> None:
    problems = []
    if not de.name.strip():
        problems.append("The Data Extension needs a name.")
    if not de.customer_key.strip() or len(de.customer_key) > MAX_KEY_LENGTH:
        problems.append(
            f"The external key must be 1-{MAX_KEY_LENGTH} characters (got {len(de.customer_key)}): shorten it."
        )
    if not de.fields:
        problems.append("The Data Extension needs at least one field.")
    problems.extend(p for p in fieldrules.check_schema(de.fields) if p not in problems)
    if problems:
        raise SfmcConfigError(
            " ".join(problems), operation=f"create Data Extension {de.name}", kind="schema"
        )


def _plan_field_changes(
    current: DataExtension,
    fields: Sequence[DeField],
    *,
    has_rows: Callable[[], bool],
    object_ids: Mapping[str, str],
) -> list[tuple[DeField, str | None]]:
    """Fields to send in the Update: new ones (no ObjectID) and lengthened ones (with ObjectID)."""
    existing = {f.name.lower(): f for f in current.fields}
    problems = fieldrules.check_schema(fields) if fields else []
    changes: list[tuple[DeField, str | None]] = []
    rows_known: bool | None = None
    for new in fields:
        old = existing.get(new.name.lower())
        if old == new or (old is not None and _same_field(old, new)):
            continue
        if old is None and (new.is_primary_key or new.is_required) and rows_known is None:
            rows_known = has_rows()
        problem = fieldrules.check_field_change(old, new, de_has_rows=bool(rows_known))
        if problem:
            problems.append(problem)
            continue
        changes.append((new, None if old is None else object_ids.get(new.name.lower())))
    if problems:
        raise SfmcConfigError(
            " ".join(problems), operation=f"add fields to {current.customer_key}", kind="schema"
        )
    return changes


def _same_field(old: DeField, new: DeField) -> bool:
    return (
        old.field_type == new.field_type
        and (new.max_length is None or old.max_length == new.max_length)
        and old.is_primary_key == new.is_primary_key
        and old.is_required == new.is_required
        and (
            new.field_type != "Decimal" or (old.precision, old.scale) == (new.precision, new.scale)
        )
    )
