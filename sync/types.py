"""Plain data of the sync engine: what a push targets, its switches, its I/O, tallies and results.

Shared by every runner (`sync.push.push_rows`, `sync.records`, `sync.membership`) so that
`sync.runner.run_pathway` persists every destination kind the same way. No I/O here: `RunIO`
only carries the callables through which the engine reads rows and reports what it did.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sfmc.errors import (
    SfmcAuthError,
    SfmcConfigError,
    SfmcError,
    SfmcFatalError,
    SfmcRetriableError,
)
from sfmc.types import DeField, RowOutcome

METHODS = ("upsert", "mirror", "append", "update_only")
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
        time_zone: the connection's time zone for dates (None: SFMC's CST, `sync.values`).
    """

    customer_key: str
    fields: tuple[DeField, ...]
    primary_keys: tuple[str, ...]
    method: str = "upsert"
    time_zone: str | None = None


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
        poll_interval: shortest status poll delay; delays grow up to `max_poll_interval`
            (see `sync.sender.Sender`: the first poll waits the job's expected duration).
        status_timeout: optional cap (seconds) on waiting for one async request; None waits
            as long as `poll_budget` allows (a queued job is waiting, not failing).
        poll_budget: status checks one run may spend; spent, the run stops retriable.
    """

    dry_run: bool = False
    incremental: bool = True
    confirm_deletes: bool = False
    delete_guard_share: float = 0.5
    batch_rows: int = 32_000  # SFMC's cap; `max_bytes` usually closes a batch first
    max_bytes: int = DEFAULT_MAX_BYTES
    in_flight: int = 3  # with polls timed from the queue (`QueueClock`), 3 keep SFMC busy
    max_requests_per_s: float = 30.0
    poll_interval: float = 0.05
    max_poll_interval: float = 30.0
    status_timeout: float | None = None
    poll_budget: int | None = 2_000
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


@dataclass(frozen=True, slots=True)
class Rejection:
    """One row that did not make it, with the original values and SFMC's reason.

    The values are held as JSON text (`original_json`): Update Only can hold tens of
    thousands of rejected rows until their batches commit, and a row's text takes about an
    eighth of the memory of its dict and strings.
    """

    row: int
    values_json: str
    primary_key: str
    outcome: RowOutcome
    # Preflight refused the row for its own values: the `_rev` it was refused at, so an
    # incremental run can skip it while that revision lasts (`store.models.PreflightRefusal`).
    source_rev: int | None = None
    # The row was skipped as refused before at this revision: the id of that stored refusal,
    # copied into this run's rejected rows in SQL.
    copy_of: int | None = None


class SentRow(NamedTuple):
    """What a batch keeps of a row it sends, to commit it once SFMC answers.

    The source row is kept as a tuple of its values beside its column names (one tuple shared
    by the read), not as its dict: a third of the memory, for the rows of every job in flight.
    """

    row: int  # the source `_row`
    key: str
    digest: str  # `sync.mapping.RowHasher`'s hash, for the ledger
    rev: int | None  # the source `_rev` (None if not read)
    columns: tuple[str, ...]
    values: tuple[Any, ...]

    def original(self) -> str:
        """The source row as the user knows it (`original_json`), for a rejection."""
        return original_json(dict(zip(self.columns, self.values, strict=True)))


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


class PushCancelled(Exception):
    """Raised inside the engine when the run's cancel flag is seen."""


def noop(*_args: object) -> None:
    """Default callback: ignore the call."""
    return None


def never() -> bool:
    """Default cancel check: a run nobody can cancel."""
    return False


# `read(after_row)` yields lists of source rows with increasing `_row` numbers after `after_row`.
ReadChunks = Callable[[int], Iterable[Sequence[Mapping[str, Any]]]]


@dataclass(frozen=True)
class ChangedRows:
    """An incremental run's narrower reads: only the rows SFMC has not accepted as they are.

    Attributes:
        read: like `RunIO.read_chunks`, but only rows changed, new or rejected last time since
            their ledger entry; rows carrying `_rev` get it recorded in the ledger.
        span: `span(after_row, upto_row)` -> (number of audience rows with after_row < `_row`
            <= upto_row (None: no bound), the largest such `_row` or after_row): the rows
            `read` left out are counted as skipped with it.
        holders: key strings -> `_row` of an unchanged (so unread) audience row holding that
            key, for the duplicate-key check of the rows `read` yields.
    """

    read: ReadChunks
    span: Callable[[int, int | None], tuple[int, int]]
    holders: Callable[[Sequence[str]], Mapping[str, int]]


@dataclass(frozen=True)
class RunIO:
    """Everything a run reads and reports through, handed down as one object.

    The engine never touches the store: the runner (`sync.runner`) builds this from it, tests
    and the bench build it from lists. Every destination kind takes the same object.

    Attributes:
        read_chunks: the audience, as `ReadChunks`; called more than once when a pre-pass is
            needed (Mirror's guard, a resume, membership leavers).
        rows_total: audience size, for progress and ETA.
        ledger_lookup: key strings -> row hash SFMC accepted before (incremental runs).
        ledger_keys: every key string of the ledger (membership flag: who left).
        resume_row: checkpoint to resume after (0 = from the start).
        resume_counters: tallies saved with that checkpoint.
        on_progress: called with a `Progress` now and then.
        on_commit: called with each fully acknowledged prefix; persist it atomically.
        should_cancel: polled between batches; True stops the run after in-flight batches land.
        read_key_chunks: like `read_chunks` when only the primary key columns are needed (a
            cheaper read for pre-passes); None: `read_chunks`.
        changed: the incremental reads, when the ledger allows them (DE pushes).
    """

    read_chunks: ReadChunks
    rows_total: int = 0
    ledger_lookup: Callable[[Sequence[str]], Mapping[str, str]] | None = None
    ledger_keys: Callable[[], Iterable[str]] | None = None
    resume_row: int = 0
    resume_counters: Counters | None = None
    on_progress: Callable[[Progress], None] = noop
    on_commit: Callable[[Commit], None] = noop
    should_cancel: Callable[[], bool] = never
    read_key_chunks: ReadChunks | None = None
    changed: ChangedRows | None = None

    def read_keys(self, after_row: int) -> Iterable[Sequence[Mapping[str, Any]]]:
        """The audience for a pre-pass that needs only the key columns."""
        return (self.read_key_chunks or self.read_chunks)(after_row)


def original_json(row: Mapping[str, Any]) -> str:
    """A source row as the user knows it (without the store's `_row` and `_rev`), as JSON text.

    Values that JSON cannot hold (numbers that are not finite, other types) are kept as their
    text, so the text always loads again as it was written.
    """
    shown = {k: v for k, v in row.items() if k not in _STORE_KEYS}
    try:
        return json.dumps(shown, allow_nan=False)
    except (TypeError, ValueError):
        return json.dumps({k: _json_safe(v) for k, v in shown.items()})


def _json_safe(value: object) -> object:
    if value is None or isinstance(value, str | int | bool):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return str(value)


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


class SetupError(SfmcConfigError):
    """A pathway that cannot run as it is set up: `kind` names what to fix, `detail` its facts.

    An `SfmcConfigError`, so code that catches those keeps working; the runner stores `kind` and
    `detail` on the run (`SyncRun.error_kind`, `SyncRun.error_detail`) so that the UI explains
    the error from its kind instead of searching the message for words. Kinds: `SETUP_KINDS`.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        operation: str = "",
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message, operation=operation, kind=kind)
        self.detail = dict(detail or {})


# The kinds of `SetupError` the engine raises, with the setting each one is about.
SETUP_KINDS: dict[str, str] = {
    "pathway_incomplete": "the pathway's audience or connection was deleted",
    "de_owned": "an earlier pathway owns the Data Extension (detail: owner_pathway_id)",
    "modeled_refused": "a modeled audience on a connection that refuses them (detail: ids)",
    "unknown_column": "the mapping uses columns the data set lacks (detail: columns, available)",
    "no_mapping": "the pathway maps no column",
    "no_primary_key": "no mapped column is the primary key",
    "key_too_long": "the DE external key is over 36 characters (detail: customer_key)",
    "schema": "the mapping cannot become a DE (detail: problems)",
    "no_folder": "no DE folder (category) was chosen",
    "folder_missing": "the chosen DE folder was deleted or renamed in SFMC (detail: category_id)",
    "primary_key_mismatch": "the DE's primary key differs from the pathway's (detail: de, mapping)",
    "field_type_change": "a mapped field has another type in the DE (detail: field, de, mapping)",
    "field_not_addable": "a new field cannot be added to the DE (detail: field)",
    "unknown_method": "the sync method is not one of METHODS (detail: method)",
    "contact_key": "not exactly one mapped column is the contact key (detail: marked)",
    "unknown_destination": "the destination kind is unknown (detail: destination)",
    "contacts_mapping": (
        "an attribute unknown, read-only or mapped twice (detail: field), or a mapped set "
        "lacking a required attribute (detail: set, fields)"
    ),
    "journey_settings": "no or an unknown event definition (detail: event_definition_key)",
    "journey_mapping": "the mapping does not fit the event's DE (detail: field or fields)",
    "membership_settings": "the flag field is missing or unusable (detail: flag_field)",
    "membership_mapping": "the mapping or key does not fit the shared DE (detail: field, primary_key)",
    "shared_de_missing": "the membership flag's shared DE does not exist (detail: customer_key)",
    "send_relationship": "the send relationship breaks SFMC's rules (detail: problems, field, "
    "relates_to)",
    "retention": "the data retention setting breaks SFMC's rules (detail: problems)",
    "sendable_refused": "the existing DE cannot be made sendable on the pathway's relationship "
    "(detail: customer_key, field, relates_to)",
}


@dataclass(frozen=True)
class RunError:
    """What a failed run stores: a machine-readable kind, its facts and the message.

    `kind` is the `SfmcError.kind` when the client or the engine set one (`SETUP_KINDS`, and the
    client's: "scope", "throttled", "timeout", "not_found"...), else one per error class:
    "auth", "config", "fatal", "retriable"; "missing" (the run or pathway was deleted) and
    "internal" (a bug) for errors from outside `sfmc`.
    """

    kind: str
    message: str
    detail: dict[str, Any]

    @classmethod
    def from_exception(cls, exc: BaseException) -> RunError:
        if isinstance(exc, SfmcError):
            detail: dict[str, Any] = {
                "error_class": type(exc).__name__,
                "operation": exc.operation,
                "status": exc.status,
                "request_id": exc.request_id,
                **getattr(exc, "detail", {}),
            }
            kind = exc.kind or next((k for c, k in _CLASS_KINDS if isinstance(exc, c)), "sfmc")
            return cls(kind, str(exc), detail)
        if isinstance(exc, LookupError):
            return cls("missing", str(exc), {"error_class": type(exc).__name__})
        message = f"{type(exc).__name__}: {exc}"
        return cls("internal", message, {"error_class": type(exc).__name__})


_CLASS_KINDS: tuple[tuple[type[SfmcError], str], ...] = (
    (SfmcAuthError, "auth"),
    (SfmcConfigError, "config"),
    (SfmcFatalError, "fatal"),
    (SfmcRetriableError, "retriable"),
)
