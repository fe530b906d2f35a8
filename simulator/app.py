"""The simulator's WSGI application: routing, and the machinery every SFMC route shares.

Request pipeline for an SFMC route (`kind` "rest" or "soap"):

1. count it (`GET /_sim/stats`);
2. faults: dropped connection, timeout, 5xx (`FaultConfig`);
3. latency: the request thread sleeps (`latency_ms` / `soap_latency_ms`, plus `slow_*` faults),
   so concurrent requests overlap like on a real service (the server is threaded);
4. REST only: bearer token (401 errorcode 0), 429 storm / rate limit (errorcode 50100 +
   Retry-After), scope (403 on /data, 401 on /hub: `Route.scope_status`);
   SOAP does the same from inside its handler via `Call.soap_gate` once it has read the header;
5. the handler.

Extension point (helper G, the `simulator/contacts_journeys` package): when it exists it
is imported and its `register(router: Router) -> None` is called once per simulator. Inside::

    from simulator.app import Call, Router, json_response, rest_error

    def register(router: Router) -> None:
        router.add("/contacts/v1/contacts", create_contact, methods=("POST",),
                   scope="list_and_subscribers_write", scope_status=403)
        router.on_reset(lambda tenant: tenant.extensions.pop("contacts", None))

    def create_contact(call: Call) -> Response:
        body = call.json()                       # 400 with an SFMC-style body when not JSON
        with call.tenant.lock:                   # shared state: call.tenant.extensions["contacts"]
            ...
        return json_response({...}, status=201)

Routes added this way get the whole pipeline above (auth, scopes, latency, rate limit, faults)
for free; `call.args` holds the URL variables, `call.token` the caller's token.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from simulator import soapxml
from simulator.auth import Token, TokenStore, token_endpoint
from simulator.config import SimulatorConfig
from simulator.faults import FaultState, RateLimiter, Stats
from simulator.state import Tenant

DOC_URL = (
    "https://developer.salesforce.com/docs/atlas.en-us.mc-apis.meta/mc-apis/error-handling.htm"
)
EXTENSION_MODULES = ("simulator.contacts_journeys",)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json", headers=headers)


def rest_error(
    status: int, message: str, errorcode: int, *, documentation: str = DOC_URL, **extra: Any
) -> Response:
    """SFMC's standard REST error body `{message, errorcode, documentation}`."""
    body = {"message": message, "errorcode": errorcode, "documentation": documentation, **extra}
    headers = {"Retry-After": str(extra["retryAfter"])} if "retryAfter" in extra else None
    return json_response(body, status, headers)


class DroppedConnection(ConnectionResetError):
    """Raised after the socket was closed on purpose (werkzeug treats it as a client drop)."""


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
            return soapxml.security_fault(
                "Security requirements are not satisfied because the security header is not "
                "present in the incoming message.",
                sim.base_url,
            )
        if problem:
            text = "Token Expired" if problem == "expired" else "Login Failed"
            return soapxml.security_fault(text, sim.base_url)
        self.token = token
        assert token is not None
        sim.stats.hit("client:" + token.client_id, api=False)
        if (
            sim.faults.in_storm()
            or not sim.limiter.allow(token.client_id)
            or sim.faults.roll("soap_throttle_rate")
        ):
            sim.stats.fault("throttled")
            return soapxml.fault("soap:Server", "Rate Limited", sim.base_url, detail_code=17)
        return self.soap_scope(scope)

    def soap_scope(self, scope: str | None) -> Response | None:
        """The SOAP privilege fault when the (already checked) token lacks `scope`, else None."""
        if scope and self.token is not None and scope not in self.token.scopes:
            return soapxml.fault(
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


class Simulator:
    """The WSGI app of one simulated tenant (serve it with `server.start_simulator`)."""

    async_worker: Any = None  # `rest_async.AsyncWorker`, set when its routes register

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        from simulator import rest_async, rowset, seed, sim_api, soap

        self.config = config or SimulatorConfig()
        self.state = Tenant()
        self.tokens = TokenStore(self.config.clients, self.config.token_ttl)
        self.faults = FaultState(self.config.faults, random_seed=self.config.random_seed)
        self.limiter = RateLimiter(self.config.rate_limit)
        self.stats = Stats()
        self.base_url = "http://127.0.0.1"
        self.stopping = threading.Event()
        self.router = Router(self)
        self.router.add(
            "/v2/token",
            lambda call: token_endpoint(call.request, self.tokens, self.base_url),
            methods=("POST",),
            kind="auth",
            endpoint="POST /v2/token",
        )
        for module in (sim_api, rest_async, rowset, soap):
            module.register(self.router)
        for name in EXTENSION_MODULES:
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name != name:
                    raise
                continue
            register = getattr(module, "register", None)
            if register is not None:  # a module still under construction may lack it
                register(self.router)
        self._seed = seed
        self.seed()

    def seed(self) -> None:
        if self.config.seed:
            self._seed.apply(self.state, self.config.seed)

    def reset(self) -> None:
        """Back to the initial state: data, tokens, faults, counters (clients stay)."""
        self.state.reset()
        for hook in self.router.reset_hooks:
            hook(self.state)
        self.tokens.clear()
        self.faults.reset()
        self.limiter.reset()
        self.stats.reset()
        self.seed()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.stopping.wait(seconds)

    # ----- WSGI
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except BadRequestBody as exc:
            response = exc.response
        self.stats.status(response.status_code)
        return response(environ, start_response)

    def _normalise_path(self, environ: dict[str, Any]) -> None:
        path = re.sub("/{2,}", "/", environ.get("PATH_INFO", "/"))
        if path.lower().rstrip("/") == "/service.asmx":
            path = "/Service.asmx"
        environ["PATH_INFO"] = path

    def dispatch(self, request: Request) -> Response:
        self._normalise_path(request.environ)
        adapter = self.router.url_map.bind_to_environ(request.environ)
        try:
            name, args = adapter.match()
        except HTTPException as exc:
            if exc.code == 405:
                return rest_error(405, f"Method {request.method} is not allowed here.", 10000)
            return rest_error(404, f"Resource {request.path} not found.", 10000)
        route = self.router.routes[name]
        call = Call(self, request, route, dict(args))
        self.stats.hit(route.endpoint, api=route.kind in ("rest", "soap", "auth"))
        if route.kind in ("rest", "soap"):
            early = self._faults_and_latency(call)
            if early is not None:
                return early
        if route.kind == "auth":
            self.sleep(self.config.latency_ms / 1000)
        if route.kind == "rest":
            denied = self._rest_gate(call)
            if denied is not None:
                return denied
        return route.handler(call)

    def _faults_and_latency(self, call: Call) -> Response | None:
        faults, soap = self.faults, call.route.kind == "soap"
        if faults.roll("drop_rate"):
            self.stats.fault("dropped")
            self._drop(call.request)
        if faults.roll("timeout_rate"):
            self.stats.fault("timeout")
            self.sleep(faults.knobs.timeout_s)
            self._drop(call.request)
        if faults.roll("error_rate"):
            status = faults.choice([500, 503])
            self.stats.fault(f"http_{status}")
            if status == 503:
                if soap:
                    return Response("Service Unavailable", status=503, mimetype="text/plain")
                return rest_error(503, "Service Unavailable", 50300)
            if soap:
                return soapxml.fault(
                    "soap:Server", "Server was unable to process request.", self.base_url
                )
            return rest_error(500, "An unexpected error occurred.", 10000)
        latency = self.config.soap_latency_ms if soap else self.config.latency_ms
        if faults.roll("slow_rate"):
            self.stats.fault("slow")
            latency += faults.knobs.slow_ms
        self.sleep(latency / 1000)
        return None

    def _drop(self, request: Request) -> None:
        request.get_data()  # the request was received; the answer never comes
        sock = request.environ.get("werkzeug.socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
        msg = "connection dropped by fault injection"
        raise DroppedConnection(msg)

    def _rest_gate(self, call: Call) -> Response | None:
        header = call.request.headers.get("Authorization", "")
        value = header[7:].strip() if header.lower().startswith("bearer ") else None
        token, problem = self.tokens.lookup(value)
        if problem:
            return rest_error(401, "Not Authorized", 0)
        assert token is not None
        call.token = token
        self.stats.hit("client:" + token.client_id, api=False)
        if self.faults.in_storm() or not self.limiter.allow(token.client_id):
            self.stats.fault("throttled")
            wait = self.config.retry_after_s
            return rest_error(429, "Rate limit exceeded", 50100, retryAfter=wait)
        scope = call.route.scope
        if scope and scope not in token.scopes:
            if call.route.scope_status == 401:
                return rest_error(401, "Not Authorized", 0)
            return rest_error(403, "Insufficient privileges to complete this action.", 20002)
        return None
