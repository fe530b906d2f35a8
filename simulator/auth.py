"""OAuth2 client-credentials tokens (`POST /v2/token`) and token checks for REST and SOAP."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from werkzeug.wrappers import Request, Response

from simulator.config import Client
from simulator.realism import CHILD_MID, PARENT_MID, EventLog, Realism

ERROR_URI = "https://developer.salesforce.com/docs"
DOC_URL = (  # the `documentation` link of SFMC's REST error bodies
    "https://developer.salesforce.com/docs/atlas.en-us.mc-apis.meta/mc-apis/error-handling.htm"
)
ALL_SCOPES = frozenset(
    """offline documents_and_images_read documents_and_images_write saved_content_read
    saved_content_write automations_execute automations_read automations_write journeys_execute
    journeys_read journeys_write journeys_delete journeys_aspr email_read email_send email_write
    push_read push_send push_write sms_read sms_send sms_write social_post social_publish
    social_read social_write web_publish web_read web_write audiences_read audiences_write
    list_and_subscribers_read list_and_subscribers_write data_extensions_read
    data_extensions_write file_locations_read file_locations_write tracking_events_read
    tracking_events_write calendar_read calendar_write campaign_read campaign_write accounts_read
    accounts_write users_read users_write webhooks_read webhooks_write workflows_read
    workflows_write approvals_read approvals_write tags_read tags_write""".split()
)


@dataclass
class Token:
    value: str
    client_id: str
    scopes: frozenset[str]
    expires_at: float  # on the store's clock
    mid: int = CHILD_MID  # the business unit the token acts in (`account_id`)


class TokenStore:
    """Issued tokens; thread-safe. A token is valid until exactly `expires_in` seconds.

    `clock` is the simulator's time source (`SimulatorConfig.clock`): tests advance it instead
    of sleeping until a token expires.
    """

    def __init__(
        self,
        clients: list[Client],
        ttl: int,
        clock: Callable[[], float] = time.monotonic,
        *,
        realism: Realism | None = None,
        log: EventLog | None = None,
    ) -> None:
        self._clients = {cid: (secret, scopes) for cid, secret, scopes in clients}
        self.ttl = ttl
        self.clock = clock
        self.realism = realism or Realism()
        self.log = log or EventLog(clock)
        self._tokens: dict[str, Token] = {}
        self._asked: dict[str, deque[float]] = {}  # token requests per client (token_limit)
        self._lock = threading.Lock()

    def throttled(self, client_id: str) -> bool:
        """Whether this token request is one too many (`Realism.token_limit` per window)."""
        limit, window = self.realism.token_limit, self.realism.token_window_s
        if limit <= 0:
            return False
        now = self.clock()
        with self._lock:
            asked = self._asked.setdefault(client_id, deque())
            while asked and asked[0] <= now - window:
                asked.popleft()
            asked.append(now)
            too_many = len(asked) > limit
        if too_many:
            self.log.record("token_throttled", client_id=client_id, in_window=len(asked))
        return too_many

    def issue(self, client_id: str, scopes: frozenset[str], mid: int = CHILD_MID) -> Token:
        token = Token(
            secrets.token_urlsafe(96), client_id, scopes, self.clock() + self.ttl, mid=mid
        )
        with self._lock:
            self._tokens[token.value] = token
        return token

    def lookup(self, value: str | None) -> tuple[Token | None, str]:
        """(token, problem) where problem is "" (valid), "expired" or "unknown"."""
        if not value:
            return None, "missing"
        with self._lock:
            token = self._tokens.get(value)
        if token is None:
            return None, "unknown"
        if self.clock() >= token.expires_at:
            return token, "expired"
        return token, ""

    def expire_all(self) -> int:
        with self._lock:
            for token in self._tokens.values():
                token.expires_at = float("-inf")  # expired whatever the clock reads
            return len(self._tokens)

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()
            self._asked.clear()

    def client(self, client_id: str) -> tuple[str, frozenset[str] | None] | None:
        return self._clients.get(client_id)


def _oauth_error(status: int, error: str, description: str) -> Response:
    body = {"error": error, "error_description": description, "error_uri": ERROR_URI}
    return Response(json.dumps(body), status=status, mimetype="application/json")


def token_endpoint(request: Request, store: TokenStore, base_url: str) -> Response:
    """Answer `POST /v2/token` like SFMC's auth host (JSON or form-encoded body)."""
    if request.mimetype == "application/json":
        try:
            data = json.loads(request.get_data(as_text=True) or "{}")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return _oauth_error(400, "invalid_request", "The request body is not valid JSON.")
    else:
        data = request.form.to_dict()
    grant = data.get("grant_type")
    client_id, secret = data.get("client_id"), data.get("client_secret")
    if not grant or not client_id or not secret:
        return _oauth_error(
            400, "invalid_request", "grant_type, client_id and client_secret are required."
        )
    if grant != "client_credentials":
        return _oauth_error(
            400, "unsupported_grant_type", "Use grant_type client_credentials for server-to-server."
        )
    if store.throttled(str(client_id)):  # asked too often: 429 / 50200, no Retry-After [C: DOC-RL]
        body = {"message": "Your requests are temporarily blocked.", "errorcode": 50200,
                "documentation": DOC_URL}  # fmt: skip
        return Response(json.dumps(body), status=429, mimetype="application/json")
    known = store.client(str(client_id))
    if known is None:
        return _oauth_error(
            401,
            "invalid_client",
            "Invalid client ID. Use the client ID in Marketing Cloud Installed Packages.",
        )
    expected_secret, package_scopes = known
    if not secrets.compare_digest(str(secret), expected_secret):
        return _oauth_error(
            401,
            "invalid_client",
            "Client authentication failed. Make sure that the client ID and client secret are "
            "valid and that the package is installed and enabled.",
        )
    available = ALL_SCOPES if package_scopes is None else package_scopes
    requested = data.get("scope")
    if requested is None:
        granted = available
    else:
        granted = frozenset(str(requested).split()) & available
    mid = _account(data.get("account_id"), store.realism)
    if mid is None:
        return _oauth_error(
            401, "invalid_grant", f"account_id {data.get('account_id')} is not a business unit "
            "this package can access. Use the MID of the package's business unit or its parent.",
        )  # fmt: skip
    token = store.issue(str(client_id), granted, mid)
    body = {
        "access_token": token.value,
        "token_type": "Bearer",
        "expires_in": store.ttl,
        "scope": " ".join(sorted(granted)),
        "soap_instance_url": base_url + "/",
        "rest_instance_url": base_url + "/",
    }
    return Response(json.dumps(body), status=200, mimetype="application/json")


def _account(account_id: object, realism: Realism) -> int | None:
    """The MID a token acts in, None when `account_id` is not one of the tenant's units.

    Omitted: the package's own (child) unit. An unknown unit answers invalid_grant [I]. Without
    business units any MID is taken.
    """
    if account_id in (None, ""):
        return CHILD_MID
    try:
        mid = int(str(account_id))
    except ValueError:
        return None
    if not realism.business_units:
        return CHILD_MID
    return mid if mid in (PARENT_MID, CHILD_MID) else None
