"""What every simulated SFMC route shares: its `Call`, the `Router`, SFMC's JSON and error bodies.

Route modules (`sim_api`, `rest_async`, `rowset`, `soap`, `contacts_journeys`) import this module
and export `register(router)`; `simulator.app` imports them and calls it, so the imports point one
way. A route module looks like::

    from simulator.routing import Call, Router, json_response, rest_error

    def register(router: Router) -> None:
        router.add("/contacts/v1/contacts", create_contact, methods=("POST",),
                   scope="list_and_subscribers_write", scope_status=403)
        router.on_reset(lambda tenant: tenant.extensions.pop("contacts", None))

    def create_contact(call: Call) -> Response:
        body = call.json()                       # 400 with an SFMC-style body when not JSON
        with call.tenant.lock:                   # shared state: call.tenant.extensions["contacts"]
            ...
        return json_response({...}, status=201)

Routes added this way get the whole pipeline of `simulator.app` (auth, scopes, latency, rate limit,
faults); `call.args` holds the URL variables, `call.token` the caller's token.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from simulator.auth import DOC_URL, Token
from simulator.soapxml import fault, security_fault

if TYPE_CHECKING:
    from simulator.app import Simulator
    from simulator.state import Tenant


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json", headers=headers)


def rest_error(
    status: int, message: str, errorcode: int, *, documentation: str = DOC_URL, **extra: Any
) -> Response:
    """SFMC's standard REST error body `{message, errorcode, documentation}`."""
    body = {"message": message, "errorcode": errorcode, "documentation": documentation, **extra}
    headers = {"Retry-After": str(extra["retryAfter"])} if "retryAfter" in extra else None
    return json_response(body, status, headers)


class BadRequestBody(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__("bad request body")
        self.response = response


@dataclass(frozen=True)
class Route:
    endpoint: str
    handler: Callable[[Call], Response]
    kind: str = "rest"  # "rest" | "soap" | "auth" | "sim"
    scope: str | None = None
    scope_status: int = 403


@dataclass
class Call:
    """One request as a handler sees it."""

    sim: Simulator
    request: Request
    route: Route
    args: dict[str, Any] = field(default_factory=dict)
    token: Token | None = None

    @property
    def tenant(self) -> Tenant:
        return self.sim.state

    def json(self) -> Any:
        try:
            return json.loads(self.request.get_data(as_text=True))
        except ValueError as exc:
            resp = rest_error(400, f"The request body is not valid JSON: {exc}", 10002)
            raise BadRequestBody(resp) from exc

    def sleep_ms(self, ms: float) -> None:
        self.sim.sleep(ms / 1000)

    def soap_gate(self, token_value: str | None, scope: str | None) -> Response | None:
        """Auth, throttling and scope for SOAP; returns the fault to send, or None to go on."""
        sim = self.sim
        token, problem = sim.tokens.lookup(token_value)
        if problem == "missing":
            return security_fault(
                "Security requirements are not satisfied because the security header is not "
                "present in the incoming message.",
                sim.base_url,
            )
        if problem:
            text = "Token Expired" if problem == "expired" else "Login Failed"
            return security_fault(text, sim.base_url)
        self.token = token
        assert token is not None
        sim.stats.hit("client:" + token.client_id, api=False)
        if (
            sim.faults.in_storm()
            or not sim.limiter.allow(token.client_id)
            or sim.faults.roll("soap_throttle_rate")
        ):
            sim.stats.fault("throttled")
            return fault("soap:Server", "Rate Limited", sim.base_url, detail_code=17)
        return self.soap_scope(scope)

    def soap_scope(self, scope: str | None) -> Response | None:
        """The SOAP privilege fault when the (already checked) token lacks `scope`, else None."""
        if scope and self.token is not None and scope not in self.token.scopes:
            return fault(
                "soap:Client",
                f"Insufficient Privileges: the token lacks the {scope} scope.",
                self.sim.base_url,
                detail_code=2,
            )
        return None


class Router:
    """The simulator's URL map. Core modules and extensions add routes with `add`."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.url_map = Map(strict_slashes=False, merge_slashes=False)
        self.routes: dict[str, Route] = {}
        self.reset_hooks: list[Callable[[Tenant], None]] = []

    def add(
        self,
        rule: str,
        handler: Callable[[Call], Response],
        *,
        methods: tuple[str, ...] = ("GET",),
        kind: str = "rest",
        scope: str | None = None,
        scope_status: int = 403,
        endpoint: str | None = None,
    ) -> None:
        """Register a route (werkzeug rule syntax, e.g. "/data/v1/async/<request_id>/status").

        Args:
            rule: path rule; URL variables arrive in `call.args`.
            handler: `handler(call) -> Response`.
            methods: HTTP methods.
            kind: "rest" gets the full REST pipeline; "sim" (inspection) and "auth" skip it.
            scope: scope the token must hold (None = any valid token).
            scope_status: 403 (data/v1 style, "Insufficient privileges") or 401 (hub style).
            endpoint: unique name for stats; defaults to "METHOD rule".
        """
        name = endpoint or f"{'/'.join(methods)} {rule}"
        self.routes[name] = Route(name, handler, kind, scope, scope_status)
        self.url_map.add(Rule(rule, endpoint=name, methods=list(methods)))

    def on_reset(self, hook: Callable[[Tenant], None]) -> None:
        """Call `hook(tenant)` on `POST /_sim/reset` (to clear extension state)."""
        self.reset_hooks.append(hook)
