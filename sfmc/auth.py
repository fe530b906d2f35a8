"""OAuth2 client-credentials tokens for SFMC (`POST /v2/token`), cached and refreshed early."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sfmc.config import SfmcCredentials, is_api_url
from sfmc.errors import SfmcAuthError

# FuelSDK refreshes 300 s early; short-lived test tokens keep half of their life as margin instead,
# otherwise a 5 s token would never count as valid.
REFRESH_MARGIN_S = 300.0


@dataclass(frozen=True)
class Token:
    """An access token and what came with it."""

    access_token: str = field(repr=False)
    expires_at: float
    lifetime: float
    scopes: frozenset[str]
    rest_url: str
    soap_url: str


def is_token_valid(token: Token | None, *, now: float, margin: float = REFRESH_MARGIN_S) -> bool:
    """Whether `token` can still be used at `now`, keeping a safety margin before expiry."""
    if token is None:
        return False
    return now + min(margin, token.lifetime / 2) < token.expires_at


def _base(url: object, what: str, *, allow_local: bool) -> str:
    text = str(url or "").strip()
    if not text:
        msg = (
            f"The token response has no {what}: the Auth Base URI may not be an SFMC auth endpoint."
        )
        raise SfmcAuthError(msg, operation="get an access token")
    if "://" not in text:  # the docs example shows bare hosts
        text = "https://" + text
    # Every later request carries the bearer token to this URL: never trust it blindly (SSRF and
    # token leak if the auth endpoint, or something in between, names another host).
    if not is_api_url(text, allow_local=allow_local):
        msg = (
            f"The token response pointed at an unexpected host for {what} ({text[:200]!r}): "
            "SFMC only sends https://<subdomain>.rest/.soap.marketingcloudapis.com/ URLs. Check "
            "that the Auth Base URI is your tenant's (copy it from the Installed Package)."
        )
        raise SfmcAuthError(msg, operation="get an access token", kind="unexpected_host")
    return text.rstrip("/") + "/"


def token_from_response(
    payload: Mapping[str, object], *, now: float, allow_local: bool = False
) -> Token:
    """Build a `Token` from the JSON of a `/v2/token` response.

    Args:
        payload: the response's JSON object.
        now: the current time (epoch seconds), for the expiry.
        allow_local: accept loopback instance URLs (a simulator; demo/dev mode only).

    Raises:
        SfmcAuthError: no access token, or instance URLs missing or on an unexpected host.
    """
    access = payload.get("access_token")
    if not isinstance(access, str) or not access:
        msg = "The token response has no access_token: check the Auth Base URI."
        raise SfmcAuthError(msg, operation="get an access token")
    try:
        lifetime = float(payload.get("expires_in") or 1079)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        lifetime = 1079.0
    scopes = frozenset(str(payload.get("scope") or "").split())
    return Token(
        access_token=access,
        expires_at=now + lifetime,
        lifetime=lifetime,
        scopes=scopes,
        rest_url=_base(
            payload.get("rest_instance_url"), "rest_instance_url", allow_local=allow_local
        ),
        soap_url=_base(
            payload.get("soap_instance_url"), "soap_instance_url", allow_local=allow_local
        ),
    )


@dataclass
class TokenSlot:
    """Where a token is cached: one per client, or one per connection shared in the process."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    token: Token | None = None


_SHARED: dict[tuple[str, str, str, str], TokenSlot] = {}
_SHARED_LOCK = threading.Lock()


def shared_slot(auth_uri: str, credentials: SfmcCredentials) -> TokenSlot:
    """The process-wide token slot of one connection (Auth Base URI, package, MID, secret).

    SFMC's guidance is about one token per 20 minutes, and its token endpoint answers 429
    (errorcode 50200) when asked too often: runs of the same connection share one token,
    renewed when it nears expiry. The secret is part of the key (as a hash) so that a changed
    secret never reuses a token issued for the old one.
    """
    key = (
        auth_uri,
        credentials.client_id.strip(),
        str(credentials.account_id or "").strip(),
        hashlib.sha256(credentials.client_secret.encode()).hexdigest(),
    )
    with _SHARED_LOCK:
        return _SHARED.setdefault(key, TokenSlot())


class TokenProvider:
    """Caches one token (in its own slot, or a shared one); thread-safe.

    The HTTP call is injected (`fetch(body) -> json`) so that it goes through the client's single
    choke point (timeouts, retries, error mapping, call counting).
    """

    def __init__(
        self,
        credentials: SfmcCredentials,
        *,
        fetch: Callable[[dict[str, str]], Mapping[str, object]],
        clock: Callable[[], float] = time.time,
        margin: float = REFRESH_MARGIN_S,
        allow_local: bool = False,
        slot: TokenSlot | None = None,
    ) -> None:
        self._credentials = credentials
        self._allow_local = allow_local
        self._fetch = fetch
        self._clock = clock
        self._margin = margin
        self._slot = slot or TokenSlot()

    def request_body(self) -> dict[str, str]:
        """The JSON body of the token request."""
        body = {
            "grant_type": "client_credentials",
            "client_id": self._credentials.client_id.strip(),
            "client_secret": self._credentials.client_secret.strip(),
        }
        if self._credentials.account_id:
            body["account_id"] = str(self._credentials.account_id).strip()
        return body

    def get(self, *, force: bool = False) -> Token:
        """Return a valid token, fetching a new one when needed (or when `force`)."""
        slot = self._slot
        with slot.lock:
            if force or not is_token_valid(slot.token, now=self._clock(), margin=self._margin):
                payload = self._fetch(self.request_body())
                slot.token = token_from_response(
                    payload, now=self._clock(), allow_local=self._allow_local
                )
            return slot.token  # type: ignore[return-value]

    def invalidate(self, access_token: str) -> None:
        """Forget `access_token` if it is still the cached one (a 401 or Token Expired came back).

        Comparing first means that when several threads see the same expired token, only one
        refresh happens.
        """
        slot = self._slot
        with slot.lock:
            if slot.token is not None and slot.token.access_token == access_token:
                slot.token = None

    @property
    def current(self) -> Token | None:
        """The cached token, if any (no network)."""
        return self._slot.token
