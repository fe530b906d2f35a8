"""Plain data of the sync engine: what a push targets, its switches, tallies and results.

Shared by every runner (`sync.push.push_rows`, `sync.records`, `sync.membership`) so that
`sync.runner.run_pathway` persists every destination kind the same way. No I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sfmc.types import DeField, RowOutcome

METHODS = ("upsert", "mirror", "append", "update_only")
MAX_BATCH_ROWS = 32_000
DEFAULT_MAX_BYTES = 3_500_000
SAMPLE_REJECTS = 20


@dataclass(frozen=True)
class PushTarget:
    """Where and how rows go.

    Attributes:
        customer_key: the DE's external key.
        fields: the DE fields the mapping writes, as SFMC describes them.
        primary_keys: the DE's primary key field names.
        method: "upsert" | "mirror" | "append" | "update_only".
    """

    customer_key: str
    fields: tuple[DeField, ...]
    primary_keys: tuple[str, ...]
    method: str = "upsert"


@dataclass(frozen=True)
class PushOptions:
    """Tuning and run switches of `push_rows`.

    Attributes:
        dry_run: read the DE's keys and report a plan; write nothing.
        incremental: skip rows whose ledger hash is unchanged (False = full re-send).
        confirm_deletes: let Mirror delete more than `delete_guard_share` of the DE.
        delete_guard_share: Mirror stops in "needs_confirm" above this share of the DE.
        batch_rows: rows per async request (at most 32,000); the first batches are smaller so
            that SFMC starts working while the rest is being prepared.
        max_bytes: byte cap of one request body.
        in_flight: async requests submitted and not yet answered, at most.
        max_requests_per_s: the engine's own request pacing (SFMC throttles with 429).
        poll_interval: first status poll delay; it grows up to `max_poll_interval`.
        status_timeout: give up on an async request SFMC has not finished after this long.
    """

    dry_run: bool = False
    incremental: bool = True
    confirm_deletes: bool = False
    delete_guard_share: float = 0.5
    batch_rows: int = 8_000
    max_bytes: int = DEFAULT_MAX_BYTES
    in_flight: int = 5
    max_requests_per_s: float = 30.0
    poll_interval: float = 0.05
    max_poll_interval: float = 0.3
    status_timeout: float = 900.0
    delete_batch: int = 2_500


@dataclass
class Counters:
    """Row tallies of a run; restored from the checkpoint when a run resumes."""

    rows_read: int = 0
    rows_sent: int = 0
    rows_succeeded: int = 0
    rows_failed: int = 0
    rows_skipped: int = 0
    rows_deleted: int = 0
    api_calls: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Counters:
        known = {k: int(v) for k, v in (data or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class Progress:
    """A snapshot for progress bars: rows done of total, rate and ETA."""

    rows_total: int
    rows_done: int
    counters: Counters
    rows_per_s: float
    eta_s: float | None
    batches_in_flight: int
    phase: str


@dataclass(frozen=True)
class Rejection:
    """One row that did not make it, with the original values and SFMC's reason."""

    row: int
    values: dict[str, Any]
    primary_key: str
    outcome: RowOutcome
    # Preflight refused the row for its own values: the `_rev` it was refused at, so an
    # incremental run can skip it while that revision lasts (`store.models.PreflightRefusal`).
    source_rev: int | None = None
    # The row was skipped as refused before at this revision: the id of that stored refusal,
    # copied into this run's rejected rows in SQL.
    copy_of: int | None = None


@dataclass
class Commit:
    """A fully acknowledged prefix of the audience, to persist atomically."""

    checkpoint_row: int
    counters: Counters
    rejected: list[Rejection] = field(default_factory=list)
    # (key, hash) or (key, hash, source `_row`, source `_rev`): see `store.ledger.commit_checkpoint`.
    ledger_upserts: list[tuple[Any, ...]] = field(default_factory=list)
    ledger_deletes: list[str] = field(default_factory=list)
    phase: str = "rows"


@dataclass
class PushResult:
    """What a push did. `state` is "succeeded", "cancelled" or "needs_confirm"."""

    state: str
    counters: Counters
    plan: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    rejected_sample: list[Rejection] = field(default_factory=list)


class PushCancelled(Exception):  # noqa: N818 - a signal, not an error
    """Raised inside the engine when the run's cancel flag is seen."""


def noop(*_args: object) -> None:
    """Default callback: ignore the call."""
    return None


def original_values(row: Mapping[str, Any]) -> dict[str, Any]:
    """A source row as the user knows it (without the store's `_row` and `_rev` numbers)."""
    return {k: v for k, v in row.items() if k not in _STORE_KEYS}


_STORE_KEYS = frozenset(("_row", "_rev", "_refused", "_refused_type"))


def plan_reject(row_no: int, key: str, outcome: RowOutcome) -> dict[str, Any]:
    """One entry of a dry-run plan's `rejects` sample."""
    return {
        "row": row_no,
        "key": key,
        "field": outcome.field,
        "error_type": outcome.error_type,
        "error_details": outcome.error_details,
    }
