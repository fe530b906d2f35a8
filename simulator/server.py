"""Serve a `Simulator` over real HTTP: threaded werkzeug server in a background thread."""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from simulator.app import Simulator
from simulator.config import SimulatorConfig
from simulator.state import Tenant


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Stay silent: tests and benchmarks make thousands of requests."""


class RunningSimulator:
    """A simulator listening on a port. Use as a context manager or call `stop()`.

    Attributes:
        base_url: "http://127.0.0.1:PORT" (no trailing slash).
        auth_uri: the Auth Base URI to configure in a client: base_url + "/".
        app: the `Simulator` WSGI app (config, tokens, faults, stats).
        state: the in-memory tenant, for tests.
    """

    def __init__(self, app: Simulator, server: BaseWSGIServer) -> None:
        self.app = app
        self._server = server
        host, port = server.server_address[:2]
        self.port = int(port)
        self.base_url = f"http://{host}:{self.port}"
        self.auth_uri = self.base_url + "/"
        app.base_url = self.base_url
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
            name=f"sfmc-simulator-{self.port}",
        )  # fmt: skip
        self._thread.start()

    @property
    def state(self) -> Tenant:
        return self.app.state

    @property
    def config(self) -> SimulatorConfig:
        return self.app.config

    def stop(self) -> None:
        """Stop serving; sleeping requests (latency, timeouts) wake up at once."""
        self.app.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> RunningSimulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_simulator(
    config: SimulatorConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> RunningSimulator:
    """Start a simulated SFMC tenant in a background thread.

    Args:
        config: behaviour (defaults: DESIGN.md §5 processing model, the demo client, no seed).
        host: interface to bind; keep 127.0.0.1.
        port: 0 picks a free port.

    Returns:
        The running simulator; its `auth_uri` is what a client uses as Auth Base URI.
    """
    app = Simulator(config)
    handler = _QuietHandler if app.config.quiet else WSGIRequestHandler
    if app.config.quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server(host, port, app, threaded=True, request_handler=handler)
    server.daemon_threads = True
    return RunningSimulator(app, server)
