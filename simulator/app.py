"""The simulator's WSGI application: the request pipeline every SFMC route goes through.

Request pipeline for an SFMC route (`kind` "rest" or "soap"):

1. count it (`GET /_sim/stats`);
2. faults: dropped connection, timeout, 5xx (`FaultConfig`);
3. latency: the request thread sleeps (`latency_ms` / `soap_latency_ms`, plus `slow_*` faults),
   so concurrent requests overlap like on a real service (the server is threaded);
4. REST only: bearer token (401 errorcode 0), 429 storm / rate limit (errorcode 50100 +
   Retry-After), scope (403 on /data, 401 on /hub: `Route.scope_status`);
   SOAP does the same from inside its handler via `Call.soap_gate` once it has read the header;
5. the handler.

The routes come from the modules in `ROUTE_MODULES`, each with a `register(router)`; how to
write one is in `simulator.routing`.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Callable
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

import simulator.contacts_journeys
import simulator.rest_async
import simulator.rowset
import simulator.seed
import simulator.sim_api
import simulator.soap
from simulator.auth import TokenStore, token_endpoint
from simulator.config import SimulatorConfig
from simulator.faults import FaultState, RateLimiter, Stats
from simulator.realism import Dice, EventLog
from simulator.routing import BadRequestBody, Call, Router, rest_error
from simulator.soapxml import fault
from simulator.state import Tenant

# Every module that adds routes, in registration order (the contacts and journeys API last).
ROUTE_MODULES = (
    simulator.sim_api,
    simulator.rest_async,
    simulator.rowset,
    simulator.soap,
    simulator.contacts_journeys,
)


_MUST_ENCODE = re.compile(r"[^A-Za-z0-9\-._~!$&'()*+,;=:@/%]")  # RFC 3986 path characters


def _encoded(request: Request, ref: str | None) -> bool:
    """Whether a DE key in the path came percent-encoded (`Realism.strict_key_paths`).

    The server decodes `%2F` to "/", so a key's slashes were all encoded exactly when the raw
    path has as many fewer slashes as the key holds; characters outside RFC 3986's path set
    must be encoded too.
    """
    if not ref:
        return True
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or ""
    raw_path = re.sub("/{2,}", "/", raw.split("?", 1)[0])  # as `_normalise_path` merges them
    if _MUST_ENCODE.search(raw_path):
        return False
    return raw_path.count("/") <= request.path.count("/") - ref.count("/")


class DroppedConnection(ConnectionResetError):
    """Raised after the socket was closed on purpose (werkzeug treats it as a client drop)."""


class Simulator:
    """The WSGI app of one simulated tenant (serve it with `server.start_simulator`)."""

    async_worker: Any = None  # `rest_async.AsyncWorker`, set when its routes register

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.log = EventLog(self.config.queue_time)  # what the realistic behaviours did
        realism = self.config.realism
        self.state = Tenant(
            clock=self.config.queue_time, date_offset_h=realism.date_offset_h,
            business_units=realism.business_units, log=self.log,
        )  # fmt: skip
        clock = self.config.clock
        self.dice = Dice(self.config.random_seed)
        self.tokens = TokenStore(
            self.config.clients, self.config.token_ttl, clock, realism=self.config.realism,
            log=self.log,
        )  # fmt: skip
        self.faults = FaultState(
            self.config.faults, random_seed=self.config.random_seed, clock=clock
        )
        self.limiter = RateLimiter(self.config.rate_limit, clock)
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
        for module in ROUTE_MODULES:
            module.register(self.router)
        self.seed()

    def seed(self) -> None:
        if self.config.seed:
            simulator.seed.apply(self.state, self.config.seed)

    def reset(self) -> None:
        """Back to the initial state: data, tokens, faults, counters (clients stay)."""
        self.state.reset()
        for hook in self.router.reset_hooks:
            hook(self.state)
        self.tokens.clear()
        self.faults.reset()
        self.limiter.reset()
        self.stats.reset()
        self.log.reset()
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
            self.log.record("route_not_found", method=request.method, path=request.path)
            return rest_error(404, f"Resource {request.path} not found.", 10000)
        route = self.router.routes[name]
        if self.config.realism.strict_key_paths and not _encoded(request, args.get("ref")):
            self.log.record("unencoded_key", method=request.method, path=request.path)
            return rest_error(404, f"Resource {request.path} not found.", 10000)
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
                return fault("soap:Server", "Server was unable to process request.", self.base_url)
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
