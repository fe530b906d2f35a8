"""Settings of one simulated SFMC tenant: processing model, clients and fault knobs.

Defaults follow DESIGN.md §5 (assumed, not measured): keep them so benchmarks stay comparable.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields

from simulator.realism import Realism

DEMO_CLIENT_ID = "pathways-demo"
DEMO_CLIENT_SECRET = "pathways-demo-secret"  # a documented demo credential

Client = tuple[str, str, "frozenset[str] | None"]


@dataclass
class FaultConfig:
    """Fault knobs, settable by flag and at run time with `POST /_sim/faults` (same names).

    Rates are probabilities 0..1 drawn per request (or per row for `deadlock_rate`).
    """

    error_rate: float = 0.0  # REST/SOAP answered 500 or 503 (503 carries errorcode 50300)
    storm_seconds: float = 0.0  # a 429 storm: every API call is throttled for this long from now
    slow_rate: float = 0.0  # requests that take `slow_ms` longer
    slow_ms: int = 2000
    drop_rate: float = 0.0  # the socket is closed without any response
    timeout_rate: float = 0.0  # the request hangs `timeout_s`, then the socket is closed
    timeout_s: float = 30.0
    async_error_rate: float = 0.0  # async jobs ending with requestStatus "Error" (no rows saved)
    partial_results_rate: float = 0.0  # async jobs whose /results lists only half of the items
    soap_throttle_rate: float = 0.0  # SOAP calls answered with the "Rate Limited" fault (code 17)
    deadlock_rate: float = 0.0  # async rows failing with "... Rerun the transaction."
    expire_tokens: bool = False  # run-time only: expire every token issued so far (one-shot)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


@dataclass
class SimulatorConfig:
    """How the simulated tenant behaves.

    Attributes:
        clients: (client_id, client_secret, scopes or None for every scope).
        token_ttl: `expires_in` of issued tokens; a token stops working exactly then.
        latency_ms: wait before answering each REST request (request thread sleeps).
        soap_latency_ms: the same for SOAP.
        rowset_ms_per_row: extra wait per row on the hub rowset endpoint.
        async_rows_per_s: tenant-wide processing rate of the async DE queue.
        async_not_found_ms: after submit, the status endpoint says AsyncRequestStatusNotFound
            for this long (SFMC has not picked the request up yet).
        rate_limit: API requests per second per client (0 = off); more get 429 / SOAP code 17.
        seed: "demo" creates a realistic account (folders and DEs with rows), None = empty.
        random_seed: seed of the fault dice, for reproducible fault tests.
        faults: initial fault knobs.
        clock: the tenant's time source in seconds (monotonic) for token expiry, 429 storms,
            the rate limit and the token limit; tests pass a clock they advance instead of
            sleeping. Request latency runs on real time.
        queue_clock: the time source of the async queue and of journey batch processing; None =
            real monotonic time. Tests of the realistic profile pass the same clock as `clock`
            to fast-forward pickup waits (a separate setting, because tests that freeze `clock`
            for token expiry still need the queue to run).
        realism: the real-tenant behaviours (`simulator.realism`); the default is the ideal
            tenant, `simulator.realism.REALISTIC` is `--profile realistic`.
    """

    clients: list[Client] = field(
        default_factory=lambda: [(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, None)]
    )
    token_ttl: int = 1079
    latency_ms: int = 120
    soap_latency_ms: int = 250
    rowset_ms_per_row: float = 4
    async_rows_per_s: float = 10_000
    async_not_found_ms: int = 100
    rate_limit: float = 40
    seed: str | None = None
    random_seed: int | None = None
    faults: FaultConfig = field(default_factory=FaultConfig)
    retry_after_s: int = 5  # Retry-After of 429 answers (SFMC sends 5)
    quiet: bool = True  # no per-request log lines from the HTTP server
    clock: Callable[[], float] = time.monotonic
    queue_clock: Callable[[], float] | None = None
    realism: Realism = field(default_factory=Realism)

    @property
    def queue_time(self) -> Callable[[], float]:
        return self.queue_clock or time.monotonic
