"""Fault dice, the per-client rate limiter and request statistics."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from simulator.config import FaultConfig


class FaultState:
    """Current fault knobs plus the dice; thread-safe."""

    def __init__(
        self,
        initial: FaultConfig,
        *,
        random_seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock  # the simulator's time source: when a 429 storm ends
        self._initial = FaultConfig(**asdict(initial))
        self._rng = random.Random(random_seed)
        self.knobs = FaultConfig(**asdict(initial))
        self.storm_until = 0.0
        self._arm_storm()

    def _arm_storm(self) -> None:
        if self.knobs.storm_seconds > 0:
            self.storm_until = self._clock() + self.knobs.storm_seconds

    def update(self, changes: dict[str, Any]) -> list[str]:
        """Apply knob changes; returns the list of problems (unknown names, bad values)."""
        problems = []
        with self._lock:
            for name, value in changes.items():
                if name not in FaultConfig.names():
                    problems.append(f"unknown fault knob {name!r}; known: {FaultConfig.names()}")
                    continue
                if name == "expire_tokens":
                    continue  # handled by the caller (one-shot)
                if isinstance(value, bool) or not isinstance(value, int | float):
                    problems.append(f"fault knob {name!r} needs a number, got {value!r}")
                    continue
                if name.endswith("_rate") and not 0 <= value <= 1:
                    problems.append(f"fault knob {name!r} is a probability: use 0 to 1")
                    continue
                setattr(self.knobs, name, value)
                if name == "storm_seconds":
                    self._arm_storm()
        return problems

    def reset(self) -> None:
        with self._lock:
            self.knobs = FaultConfig(**asdict(self._initial))
            self.storm_until = 0.0

    def roll(self, knob: str) -> bool:
        rate = getattr(self.knobs, knob)
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def choice(self, options: list[Any]) -> Any:
        with self._lock:
            return self._rng.choice(options)

    def in_storm(self) -> bool:
        return self._clock() < self.storm_until

    def snapshot(self) -> dict[str, Any]:
        data = asdict(self.knobs)
        data["storm_remaining_s"] = max(0.0, round(self.storm_until - self._clock(), 3))
        return data


class RateLimiter:
    """At most `limit` requests per sliding second per client (0 = unlimited)."""

    def __init__(self, limit: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, client_id: str) -> bool:
        if self.limit <= 0:
            return True
        now = self._clock()
        with self._lock:
            hits = self._hits.setdefault(client_id, deque())
            while hits and hits[0] <= now - 1.0:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            return True

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


class Stats:
    """Request counters for `GET /_sim/stats` (benchmarks read API call counts from here)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.by_endpoint: Counter[str] = Counter()
            self.by_status: Counter[str] = Counter()
            self.by_client: Counter[str] = Counter()
            self.faults: Counter[str] = Counter()
            self.api_requests = 0
            self.rows_received = 0
            self.rows_processed = 0

    def hit(self, endpoint: str, *, api: bool = True, client_id: str | None = None) -> None:
        with self._lock:
            self.by_endpoint[endpoint] += 1
            self.api_requests += int(api)
            if client_id:
                self.by_client[client_id] += 1

    def status(self, code: int) -> None:
        with self._lock:
            self.by_status[str(code)] += 1

    def fault(self, name: str) -> None:
        with self._lock:
            self.faults[name] += 1

    def rows(self, *, received: int = 0, processed: int = 0) -> None:
        with self._lock:
            self.rows_received += received
            self.rows_processed += processed

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.api_requests,
                "by_endpoint": dict(self.by_endpoint),
                "by_status": dict(self.by_status),
                "by_client": dict(self.by_client),
                "faults": dict(self.faults),
                "rows_received": self.rows_received,
                "rows_processed": self.rows_processed,
            }
