"""The record-at-a-time runner behind the Contacts and Journey event destinations.

`push_records` reads the audience, preflights each member (contact key rules, SFMC field rules),
skips members the ledger says are done, and hands batches to the plan's `send` (contact upserts
or entry events). It reports through the same `Progress` / `Commit` / `PushResult` types as
`sync.push.push_rows`, so `run_pathway` persists every destination kind the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sfmc.contacts import contact_key_problem
from sfmc.types import DeField, RowOutcome
from sync.mapping import FieldMap, RowConverter, row_hash
from sync.preflight import Preflight
from sync.tally import Tally
from sync.types import (
    SAMPLE_REJECTS,
    Commit,
    PushOptions,
    PushResult,
    Rejection,
    RunIO,
    original_json,
    plan_reject,
)

if TYPE_CHECKING:
    from sfmc.client import SfmcClient


@dataclass(frozen=True)
class RecordPlan:
    """How one record-at-a-time destination validates and sends members."""

    fields: tuple[DeField, ...]  # mapped destination fields, for preflight
    key_field: str  # destination field holding the contact key
    batch_rows: int
    send: Callable[[Sequence[tuple[str, Mapping[str, object]]]], list[RowOutcome]]
    payload_fields: tuple[str, ...]  # destination fields sent (besides the key)


def push_records(
    plan: RecordPlan,
    io: RunIO,
    *,
    mapping: Sequence[FieldMap],
    client: SfmcClient,
    options: PushOptions,
    only_new: bool,
) -> PushResult:
    """Send members one record at a time through `plan` (arguments as for `push_destination`).

    With `only_new`, every member the ledger knows is skipped (journey "new members"), not only
    unchanged ones.
    """
    typed = [
        replace(m, destination_field=f.name, field_type=f.field_type)
        for m, f in zip(mapping, plan.fields, strict=True)
    ]
    sender = _RecordSender(plan, io, typed, Tally(client, io), options, only_new=only_new)
    if io.resume_row > 0:
        sender.remember_keys_before_resume()
    state = sender.run()
    tally = sender.tally
    if options.dry_run:
        dry = sender.dry
        tally.counters.rows_failed, tally.counters.rows_skipped = dry["reject"], dry["skip"]
        message = (
            f"Dry run: {dry['create']:,} to create, {dry['update']:,} to update, "
            f"{dry['skip']:,} to skip, {dry['reject']:,} to reject. Nothing was sent."
        )
        return PushResult("succeeded", tally.snapshot(), plan=dry, message=message)
    return PushResult(state, tally.snapshot(), rejected_sample=tally.sample)


@dataclass
class _Pending:
    """A member checked and waiting for the next batch."""

    row_no: int
    key: str
    digest: str
    original: Mapping[str, Any]
    contact_key: str
    payload: dict[str, object]


@dataclass
class _RecordSender:
    """The record-at-a-time loop: check members, batch them, send, commit each batch."""

    plan: RecordPlan
    io: RunIO
    typed: list[FieldMap]
    tally: Tally
    options: PushOptions
    only_new: bool
    pending: list[_Pending] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    skipped: int = 0
    dry: dict[str, Any] = field(
        default_factory=lambda: {"create": 0, "update": 0, "skip": 0, "reject": 0, "rejects": []}
    )

    def __post_init__(self) -> None:
        self.converter = RowConverter(self.typed)
        self.preflight = Preflight(self.plan.fields, [self.plan.key_field])
        self.last_row = self.io.resume_row
        use_ledger = self.only_new or self.options.incremental
        self.lookup = self.io.ledger_lookup if use_ledger else None

    def remember_keys_before_resume(self) -> None:
        """A resumed run: the keys of rows before the checkpoint count for duplicates."""
        key_conv = RowConverter([m for m in self.typed if m.is_primary_key])
        resume_row = self.io.resume_row
        for chunk in self.io.read_chunks(0):
            for row in chunk:
                if row["_row"] <= resume_row:
                    self.preflight.remember(self.preflight.key_of(key_conv(row)))
            if chunk and chunk[-1]["_row"] >= resume_row:
                break

    def run(self) -> str:
        """Send every member after the resume point; "succeeded" or "cancelled"."""
        should_cancel = self.io.should_cancel
        for chunk in self.io.read_chunks(self.io.resume_row):
            if not self.add_chunk(chunk):
                return "cancelled"
            if should_cancel():
                self.flush()
                return "cancelled"
        self.flush()
        return "succeeded"

    def add_chunk(self, chunk: Sequence[Mapping[str, Any]]) -> bool:
        """Check and batch a chunk's members; False when cancelled after a full batch."""
        converted = [self.converter(row) for row in chunk]
        keys = [self.preflight.key_of(v) for v in converted]
        known = self.lookup([k for k in keys if k]) if self.lookup is not None else {}
        for row, values, key in zip(chunk, converted, keys, strict=True):
            self.tally.counters.rows_read += 1
            self.last_row = row["_row"]
            if self.add_member(row, values, key, known.get(key)):
                self.flush()
                if self.io.should_cancel():
                    return False
        return True

    def add_member(
        self, row: Mapping[str, Any], values: dict[str, object], key: str, previous: str | None
    ) -> bool:
        """Refuse, skip or queue one member; True when the batch is full."""
        plan, dry = self.plan, self.dry
        contact_key = values.get(plan.key_field)
        outcome = contact_key_problem(contact_key) or self.preflight.check(values, key)
        if outcome is not None:
            if outcome.field == "ContactKey":
                outcome = replace(outcome, field=plan.key_field)
            shown = str(contact_key or "")
            self.rejected.append(Rejection(self.last_row, original_json(row), shown, outcome))
            dry["reject"] += 1
            if len(dry["rejects"]) < SAMPLE_REJECTS:
                dry["rejects"].append(plan_reject(self.last_row, shown, outcome))
            return False
        digest = row_hash(values, self.converter.field_names)
        if (self.only_new and previous is not None) or (
            not self.only_new and self.options.incremental and previous == digest
        ):
            self.skipped += 1
            dry["skip"] += 1
            return False
        dry["update" if previous is not None else "create"] += 1
        payload = {n: v for n, v in values.items() if n in plan.payload_fields}
        self.pending.append(_Pending(self.last_row, key, digest, row, str(contact_key), payload))
        return len(self.pending) >= plan.batch_rows

    def flush(self) -> None:
        """Send the pending members (not in a dry run) and commit everything up to here."""
        counters = self.tally.counters
        commit = Commit(checkpoint_row=self.last_row, counters=counters)
        if self.pending and not self.options.dry_run:
            counters.rows_sent += len(self.pending)
            for member, outcome in zip(self.pending, self.send(), strict=True):
                if outcome.ok:
                    counters.rows_succeeded += 1
                    commit.ledger_upserts.append((member.key, member.digest))
                else:
                    original = original_json(member.original)
                    shown = member.contact_key
                    self.rejected.append(Rejection(member.row_no, original, shown, outcome))
        counters.rows_failed += len(self.rejected)
        counters.rows_skipped += self.skipped
        commit.rejected = list(self.rejected)
        self.tally.keep_sample(self.rejected)
        self.pending.clear()
        self.rejected.clear()
        self.skipped = 0
        commit.counters = self.tally.snapshot()
        if not self.options.dry_run:
            self.io.on_commit(commit)
        self.tally.progress("sending")

    def send(self) -> list[RowOutcome]:
        """The pending members' outcomes; members refused as retryable get one more try."""
        batch = [(p.contact_key, p.payload) for p in self.pending]
        outcomes = self.plan.send(batch)
        retry_at = [i for i, o in enumerate(outcomes) if o.retryable]
        if retry_at:
            again = self.plan.send([batch[i] for i in retry_at])
            for i, outcome in zip(retry_at, again, strict=True):
                outcomes[i] = outcome
        return outcomes
