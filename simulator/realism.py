"""Real-tenant behaviours of the simulator (issue 15): one place for their parameters.

`Realism()` is the ideal tenant every existing test and benchmark runs on (each knob off);
`REALISTIC` is `python -m simulator --profile realistic`; every knob is also its own flag
(`--pickup-median-s`, ...), generated from the field metadata below, so `--help` lists them.

What each knob does, and the reference it follows ([C] confirmed, [I] a safe default):

- Async pickup: a job waits `pickup` seconds after submit before SFMC picks it up (status
  "Pending", then "Executing"); `pickup` is lognormal around `pickup_median_s` (spread
  `pickup_sigma`), and with probability `pickup_long_rate` it is uniform in `pickup_long_s`
  instead (the docs' own example waits 7.5 minutes [C: getStatusDataExtensionAsync]).
- `transient_error_rate`: a picked-up job reads requestStatus "Error" for `transient_error_s`,
  then goes on and completes; its rows land [C: production notes, issue 15].
- `deadlock_concurrency`: a job submitted while that many other jobs of the same DE are still
  queued or running deadlocks: a block of `deadlock_share` of its rows is reported failed with
  "... Rerun the transaction." [C: SEG], and `deadlock_landed` of those rows landed anyway [I].
- `results_paging` "documented": `/results` reads only `page` and `pageSize` (default 50, at most
  `results_page_max`); `$page`, `$pageSize` and anything else are ignored [C: the docs' example
  shows page/pageSize 50; the parameter names are [?], so "lenient" (default) takes both].
- `result_status_text`: the job status's `resultStatus` when rows failed ([?]; "Has Errors"
  is what SOAP's OverallStatus says for the same case [C: SDK util.js]).
- `journey_processing_s`: batch entry events stay "queued" this long, then are "processed" or
  "errored" [C: getStatusOfContacts status types]; 0 = processed at once.
- `date_zone` "cst": values with `Z` or an offset are converted to SFMC's server time, UTC-6
  all year, and zone-less values are stored as given [C: issue 15; SFMC server time is CST].
  "utc" (default) converts them to UTC.
- `business_units`: the package lives in a child business unit (`CHILD_MID`) of the enterprise
  (`PARENT_MID`); folders of content type shared_dataextension and their DEs belong to the
  parent and are usable over SOAP only with the parent's `Client/ID` (or a token for the parent's
  `account_id`) [C: soap_tech_articles_de, reference section 10].
- `token_limit`: more than this many token requests of one client within `token_window_s` get
  429 with errorcode 50200 and no Retry-After [C: DOC-RL; about one per 20 min is the guidance].
- `strict_key_paths`: a DE key in a REST path must be percent-encoded; a raw "/" inside it no
  longer matches (a raw "#" or "?" already cuts the path, so the route answers 404) [C: RFC 3986].
- `contacts_partial`: a contact upsert with some good and some refused attribute sets saves the
  good ones and answers 200 with `operationStatus` "OK", `hasErrors` true and the refusals in
  `resultMessages` [I: which status SFMC uses is [?]; a client must read hasErrors].

The queue model: each job's pickup wait (then its transient "Error", if drawn) runs from its own
submit, so jobs submitted together wait side by side and a long wait holds up no other job; what
the tenant serialises is the processing after that, one job at a time at `async_rows_per_s`
(`SimulatorConfig`; `Tenant.book`). A job waits, on average, `expected_start_s()` =
`expected_pickup_s()` + transient_rate * transient_s before the tenant starts on its rows, with
`expected_pickup_s()` = (1 - long_rate) * median * exp(sigma^2 / 2) + long_rate * mean(long).
Only `deadlock_concurrency` jobs of a DE can wait side by side without deadlocking, so the bench
floor (`bench push --sim-profile realistic`) counts one such wait per wave of jobs, waves =
ceil(ceil(N / 32,000) / deadlock_concurrency), plus N / async_rows_per_s of processing.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

PARENT_MID = 100012300  # the enterprise (parent) business unit when `business_units` is on
CHILD_MID = 100012345  # the package's own business unit (also the MID without business units)
CST_OFFSET_H = -6  # SFMC's server time: Central Standard Time, no daylight saving [C]
LOG_SIZE = 10_000  # events kept by the log (counts are kept for all)
CHOICES = {"results_paging": ("lenient", "documented"), "date_zone": ("utc", "cst")}


def _knob(default: Any, text: str) -> Any:
    return field(default=default, metadata={"help": text})


@dataclass(frozen=True)
class Realism:
    """The real-tenant knobs; the defaults are the ideal tenant (see the module docstring)."""

    pickup_median_s: float = _knob(0.0, "typical wait from submit to pickup, s (lognormal median)")
    pickup_sigma: float = _knob(0.0, "spread of the pickup wait (lognormal sigma)")
    pickup_long_rate: float = _knob(0.0, "share of jobs that wait minutes instead")
    pickup_long_min_s: float = _knob(0.0, "shortest long wait, s")
    pickup_long_max_s: float = _knob(0.0, "longest long wait, s")
    transient_error_rate: float = _knob(0.0, 'share of jobs reading "Error" for a while, then completing')  # fmt: skip
    transient_error_s: float = _knob(0.0, 'how long a transient "Error" lasts, s')
    deadlock_concurrency: int = _knob(0, "jobs in flight on one DE that make the next deadlock (0 = never)")  # fmt: skip
    deadlock_share: float = _knob(0.0, "share of a deadlocked job's rows reported failed")
    deadlock_landed: float = _knob(0.0, "share of those failed rows that landed anyway")
    results_paging: str = _knob("lenient", "lenient ($page/page, $pageSize/pageSize) or documented (page/pageSize only)")  # fmt: skip
    results_page_max: int = _knob(2500, "largest /results page")
    result_status_text: str = _knob("Error", "resultStatus of a job whose rows failed")
    journey_processing_s: float = _knob(0.0, 'batch entry events stay "queued" this long, s')
    date_zone: str = _knob("utc", "zone-aware dates are stored in utc or cst (UTC-6)")
    business_units: bool = _knob(False, "parent and child MIDs; shared folders need the parent Client/ID")  # fmt: skip
    token_limit: int = _knob(0, "token requests per client per window before 429/50200 (0 = off)")  # fmt: skip
    token_window_s: float = _knob(60.0, "the token-limit window, s")
    strict_key_paths: bool = _knob(False, "DE keys in REST paths must be percent-encoded")
    contacts_partial: bool = _knob(False, "contacts: save good attribute sets, hasErrors for the rest")  # fmt: skip

    def __post_init__(self) -> None:
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                msg = f"Realism.{name} is {getattr(self, name)!r}; use one of {', '.join(allowed)}."
                raise ValueError(msg)

    @classmethod
    def knobs(cls) -> list[tuple[str, Any, str]]:
        """(name, default, help) of every knob, for the command line."""
        return [(f.name, f.default, f.metadata["help"]) for f in fields(cls)]

    def expected_pickup_s(self) -> float:
        """Mean wait from submit to pickup (the bench floor's pickup term, see the docstring)."""
        typical = self.pickup_median_s * math.exp(self.pickup_sigma**2 / 2)
        long_mean = (self.pickup_long_min_s + self.pickup_long_max_s) / 2
        return (1 - self.pickup_long_rate) * typical + self.pickup_long_rate * long_mean

    def expected_start_s(self) -> float:
        """Mean wait from submit to the start of processing: pickup, then any transient Error."""
        return self.expected_pickup_s() + self.transient_error_rate * self.transient_error_s

    @property
    def date_offset_h(self) -> int:
        return CST_OFFSET_H if self.date_zone == "cst" else 0

    def describe(self) -> dict[str, Any]:
        """The profile's name ("custom" when flags changed it), its knobs and the floor term."""
        name = next((n for n, p in PROFILES.items() if p == self), "custom")
        return {"profile": name, **asdict(self),
                "expected_pickup_s": round(self.expected_pickup_s(), 3),
                "expected_start_s": round(self.expected_start_s(), 3)}  # fmt: skip


# `--profile realistic`: seconds typical, occasionally minutes [C: the docs' 7.5 min example].
REALISTIC = replace(
    Realism(),
    pickup_median_s=3.0,
    pickup_sigma=0.6,
    pickup_long_rate=0.03,
    pickup_long_min_s=60.0,
    pickup_long_max_s=240.0,
    transient_error_rate=0.05,
    transient_error_s=10.0,
    deadlock_concurrency=2,
    deadlock_share=0.2,
    deadlock_landed=0.5,
    results_paging="documented",
    results_page_max=2000,
    result_status_text="Has Errors",
    journey_processing_s=5.0,
    date_zone="cst",
    business_units=True,
    token_limit=5,
    strict_key_paths=True,
    contacts_partial=True,
)
PROFILES = {"ideal": Realism(), "realistic": REALISTIC}


class Dice:
    """The realistic behaviours' own seeded RNG (separate from the fault dice)."""

    def __init__(self, seed: int | None) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def pickup_s(self, r: Realism) -> float:
        with self._lock:
            if r.pickup_long_rate > 0 and self._rng.random() < r.pickup_long_rate:
                return self._rng.uniform(r.pickup_long_min_s, r.pickup_long_max_s)
            if r.pickup_median_s <= 0:
                return 0.0
            return r.pickup_median_s * math.exp(self._rng.gauss(0.0, r.pickup_sigma))

    def chance(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def block(self, n: int, share: float) -> range:
        """A contiguous block of `share` of `n` rows at a random place (a deadlocked batch)."""
        size = min(n, max(1, round(n * share))) if n and share > 0 else 0
        with self._lock:
            start = self._rng.randrange(n - size + 1) if size else 0
        return range(start, start + size)

    def subset(self, rows: range, share: float) -> set[int]:
        with self._lock:
            return {i for i in rows if self._rng.random() < share}


class EventLog:
    """What the realistic behaviours did, for tests and chaos scenarios (`GET /_sim/log`)."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._items: deque[dict[str, Any]] = deque(maxlen=LOG_SIZE)
            self._counts: Counter[str] = Counter()

    def record(self, kind: str, **detail: Any) -> None:
        with self._lock:
            self._counts[kind] += 1
            self._items.append({"kind": kind, "at": round(self._clock(), 3), **detail})

    def snapshot(self, kind: str | None = None) -> dict[str, Any]:
        with self._lock:
            items = [e for e in self._items if kind is None or e["kind"] == kind]
            return {"counts": dict(self._counts), "count": len(items), "items": items}
