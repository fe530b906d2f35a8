"""The record-at-a-time runner behind the Contacts and Journey event destinations.

`push_records` reads the audience, preflights each member (contact key rules, SFMC field rules),
skips members the ledger says are done, and hands batches to the plan's `send` (contact upserts
or entry events). It reports through the same `Progress` / `Commit` / `PushResult` types as
`sync.push.push_rows`, so `run_pathway` persists every destination kind the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sfmc.contacts import contact_key_problem
from sfmc.types import DeField, RowOutcome
from sync.mapping import FieldMap, RowConverter, row_hash
from sync.preflight import Preflight
from sync.tally import Tally
from sync.types import (
    SAMPLE_REJECTS,
    Commit,
    Counters,
    Progress,
    PushOptions,
    PushResult,
    Rejection,
    original_values,
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


def push_records(  # noqa: C901 - one loop, like push_rows
    plan: RecordPlan,
    read_chunks: Callable[[int], Iterable[Sequence[Mapping[str, Any]]]],
    *,
    mapping: Sequence[FieldMap],
    client: SfmcClient,
    options: PushOptions,
    rows_total: int,
    ledger_lookup: Callable[[Sequence[str]], Mapping[str, str]] | None,
    resume_row: int,
    resume_counters: Counters | None,
    on_progress: Callable[[Progress], None],
    on_commit: Callable[[Commit], None],
    should_cancel: Callable[[], bool],
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
    converter = RowConverter(typed)
    preflight = Preflight(plan.fields, [plan.key_field])
    field_names = converter.field_names
    tally = Tally(
        client, rows_total=rows_total, resume_counters=resume_counters, on_progress=on_progress
    )
    counters = tally.counters
    dry: dict[str, Any] = {"create": 0, "update": 0, "skip": 0, "reject": 0, "rejects": []}

    if resume_row > 0:
        key_conv = RowConverter([m for m in typed if m.is_primary_key])
        for chunk in read_chunks(0):
            for row in chunk:
                if row["_row"] <= resume_row:
                    preflight.remember(preflight.key_of(key_conv(row)))
            if chunk and chunk[-1]["_row"] >= resume_row:
                break

    pending: list[tuple[int, str, str, Mapping[str, Any], str, dict[str, object]]] = []
    rejected: list[Rejection] = []
    skipped = 0
    last_row = resume_row

    def flush() -> None:
        nonlocal skipped
        commit = Commit(checkpoint_row=last_row, counters=counters)
        if pending and not options.dry_run:
            counters.rows_sent += len(pending)
            outcomes = plan.send([(p[4], p[5]) for p in pending])
            retry_at = [i for i, o in enumerate(outcomes) if o.retryable]
            if retry_at:
                again = plan.send([(pending[i][4], pending[i][5]) for i in retry_at])
                for i, outcome in zip(retry_at, again, strict=True):
                    outcomes[i] = outcome
            for (row_no, key, digest, original, shown, _), outcome in zip(
                pending, outcomes, strict=True
            ):
                if outcome.ok:
                    counters.rows_succeeded += 1
                    commit.ledger_upserts.append((key, digest))
                else:
                    rejected.append(Rejection(row_no, original_values(original), shown, outcome))
        counters.rows_failed += len(rejected)
        counters.rows_skipped += skipped
        commit.rejected = list(rejected)
        tally.keep_sample(rejected)
        pending.clear()
        rejected.clear()
        skipped = 0
        commit.counters = tally.snapshot()
        if not options.dry_run:
            on_commit(commit)
        tally.progress("sending")

    state = "succeeded"
    for chunk in read_chunks(resume_row):
        converted = [converter(row) for row in chunk]
        keys = [preflight.key_of(v) for v in converted]
        known: Mapping[str, str] = {}
        if ledger_lookup is not None and (only_new or options.incremental):
            known = ledger_lookup([k for k in keys if k])
        for row, values, key in zip(chunk, converted, keys, strict=True):
            counters.rows_read += 1
            last_row = row["_row"]
            contact_key = values.get(plan.key_field)
            outcome = contact_key_problem(contact_key) or preflight.check(values, key)
            if outcome is not None:
                if outcome.field == "ContactKey":
                    outcome = replace(outcome, field=plan.key_field)
                shown = str(contact_key or "")
                rejected.append(Rejection(last_row, original_values(row), shown, outcome))
                dry["reject"] += 1
                if len(dry["rejects"]) < SAMPLE_REJECTS:
                    dry["rejects"].append(plan_reject(last_row, shown, outcome))
                continue
            digest = row_hash(values, field_names)
            previous = known.get(key)
            if (only_new and previous is not None) or (
                not only_new and options.incremental and previous == digest
            ):
                skipped += 1
                dry["skip"] += 1
                continue
            dry["update" if previous is not None else "create"] += 1
            payload = {n: v for n, v in values.items() if n in plan.payload_fields}
            pending.append((last_row, key, digest, row, str(contact_key), payload))
            if len(pending) >= plan.batch_rows:
                flush()
                if should_cancel():
                    state = "cancelled"
                    break
        if state == "cancelled":
            break
        if should_cancel():
            flush()
            state = "cancelled"
            break
    if state == "succeeded":
        flush()
    if options.dry_run:
        counters.rows_failed, counters.rows_skipped = dry["reject"], dry["skip"]
        message = (
            f"Dry run: {dry['create']:,} to create, {dry['update']:,} to update, "
            f"{dry['skip']:,} to skip, {dry['reject']:,} to reject. Nothing was sent."
        )
        return PushResult("succeeded", tally.snapshot(), plan=dry, message=message)
    return PushResult(state, tally.snapshot(), rejected_sample=tally.sample)
