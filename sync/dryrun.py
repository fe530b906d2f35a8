"""Dry runs: what a push would create, update, delete, skip and reject, counted, nothing written.

A dry run judges every audience row as the send loop does (`sync.plan.RowJudge`), but only
Update Only's verdicts depend on the DE's keys, so the others do not wait for them: the audience
is read and judged while the keys are still being read (`sync.plan.read_remote_keys`, in the
background; 100,000 keys take 40 requests at the engine's pace). A row that would be sent is
remembered by its key, with whether the ledger holds it unchanged (accepted keys are distinct:
later rows with a used key are duplicates); once the DE's keys are in, one lookup per page of
keys says which exist (update, unchanged, Append's skip) and which do not (create).

Mirror's leavers are the DE's keys less the audience's, read in the same pass: the key set of
every audience row also carries the accepted rows' marks, so one walk through it counts both.
(The push's pre-pass, `sync.plan.audience_keys`, converts key fields without the tenant's zone;
only a Date converts otherwise, and SFMC allows no Date primary key: the keys are the same.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sync.keyset import KeySet
from sync.mapping import key_display
from sync.plan import RowJudge
from sync.tally import Tally
from sync.types import SAMPLE_REJECTS, PushResult, RunIO, plan_reject

if TYPE_CHECKING:
    from concurrent.futures import Future

    from sfmc.types import RowOutcome

# The mark of a remembered key (its KeySet value): None for a row that would be sent, SAME
# when the ledger holds it unchanged too, NOT_SENT for a Mirror audience key counted already.
_SAME = ("same",)
_NOT_SENT = ("no",)
_ENTRIES = ("create", "update", "delete", "skip", "unchanged", "reject")


def dry_run(
    io: RunIO,
    judge: RowJudge,
    reading: Future[KeySet] | None,
    *,
    tally: Tally,
    incremental: bool,
    changed_only: bool,
) -> PushResult:
    """Count what a push would do; write nothing. Closes the key sets it used (the judge's too).

    `reading`: the DE's keys being read (None when the DE does not exist: every row is new);
    `judge.remote` must be empty (the keys come from `reading`). With `changed_only`, only the
    rows of the incremental read (`io.changed`) are read: those it leaves out count as unchanged.
    """
    sets = [judge.preflight.seen]
    try:
        if reading is not None and judge.method == "update_only":
            judge = replace(judge, remote=reading.result())  # its verdicts need the DE's keys
            sets.append(judge.remote)
            reading = None
        counts = _DryPass(judge, deferred=reading is not None)
        sets.append(counts.marked)
        tally.counters.rows_read += counts.judge_rows(
            io, incremental=incremental, changed_only=changed_only
        )
        remote = judge.remote
        if reading is not None:
            remote = reading.result()
            sets.append(remote)
            counts.resolve(remote)
        counts.plan["de_rows"] = len(remote)
    finally:
        for keys in sets:
            keys.close()
    return _result(counts.plan, tally)


@dataclass
class _DryPass:
    """The plan's counts, and the keys whose entry waits for the DE's keys (`deferred`).

    `marked` holds the keys of the rows that would be sent, with their marks; for Mirror, every
    audience key (the others marked NOT_SENT), so that it also counts the leavers.
    """

    judge: RowJudge
    deferred: bool
    plan: dict[str, Any] = field(
        default_factory=lambda: dict.fromkeys(_ENTRIES, 0) | {"rejects": []}
    )
    marked: KeySet = field(default_factory=KeySet)

    @property
    def mirror(self) -> bool:
        return self.deferred and self.judge.method == "mirror"

    def judge_rows(self, io: RunIO, *, incremental: bool, changed_only: bool) -> int:
        """Judge every row read; count it now or mark its key. Returns the rows read.

        Rows an incremental read left out count as read and unchanged.
        """
        judge = self.judge
        changed = io.changed if changed_only else None
        lookup = io.ledger_lookup if incremental else None
        every_key = self.mirror
        read = 0
        for chunk in (changed.read if changed else io.read_chunks)(0):
            converted, keys, in_de, used = judge.convert(chunk)
            read += len(chunk)
            present = [k for k in keys if k]
            known = lookup(present) if lookup else {}
            holders = changed.holders(present) if changed else {}
            marks: list[Sequence[str] | None] = []
            for row, values, key, dup in zip(chunk, converted, keys, used, strict=True):
                outcome, _ = judge.verdict(row, values, key, holders, in_de, dup)
                if outcome is not None:
                    self.reject(row, values, outcome)
                    marks.append(_NOT_SENT)
                    continue
                same = bool(known) and known.get(key) == judge.hasher(values)[0]
                if not (self.deferred and key):
                    self.plan[_entry(judge.method, bool(key) and key in in_de, same)] += 1
                    marks.append(_NOT_SENT)
                else:
                    marks.append(_SAME if same else None)
            self.marked.add_many(
                (k, mark)
                for k, mark in zip(keys, marks, strict=True)
                if k and (every_key or mark != _NOT_SENT)
            )
        if changed is not None:
            unread = max(changed.span(0, None)[0] - read, 0)
            self.plan["unchanged"] += unread
            read += unread
        return read

    def reject(self, row: Mapping[str, Any], values: Mapping[str, object], out: RowOutcome) -> None:
        self.plan["reject"] += 1
        if len(self.plan["rejects"]) < SAMPLE_REJECTS:
            key = key_display(values, self.judge.key_names)
            self.plan["rejects"].append(plan_reject(row["_row"], key, out))

    def resolve(self, remote: KeySet) -> None:
        """Count the marked keys by whether the DE has them, and Mirror's leavers."""
        matched = 0
        for page in self.marked.iter_items():
            found = remote.lookup([key for key, _ in page])
            matched += len(found)
            for key, mark in page:
                if mark != list(_NOT_SENT):
                    self.plan[_entry(self.judge.method, key in found, bool(mark))] += 1
        if self.mirror:
            self.plan["delete"] = len(remote) - matched


def _entry(method: str, exists: bool, same: bool) -> str:
    """The plan entry of a row that would be sent: by its key in the DE and the ledger."""
    if method == "append" and exists:
        return "skip"
    if same and exists:
        return "unchanged"
    return "update" if exists else "create"


def _result(plan: dict[str, Any], tally: Tally) -> PushResult:
    counters = tally.counters
    counters.rows_failed = plan["reject"]
    counters.rows_skipped = plan["skip"] + plan["unchanged"]
    message = (
        f"Dry run: {plan['create']:,} to create, {plan['update']:,} to update, "
        f"{plan['delete']:,} to delete, {plan['skip'] + plan['unchanged']:,} to skip, "
        f"{plan['reject']:,} to reject. Nothing was written."
    )
    return PushResult("succeeded", tally.snapshot(), plan=plan, message=message)
