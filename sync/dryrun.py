"""Dry runs: what a push would create, update, delete, skip and reject, counted, nothing written.

A dry run judges every audience row as the send loop does (`sync.plan.RowJudge`), but only
Update Only's verdicts depend on the DE's keys, so the others do not wait for them: the audience
is read and judged while the keys are still being read (`sync.plan.read_remote_keys`, in the
background; 100,000 keys take 40 requests at the engine's pace). A row that would be sent is
remembered by its key, with whether the ledger holds it unchanged (accepted keys are distinct:
later rows with a used key are duplicates); once the DE's keys are in, one lookup per page of
keys says which exist (update, unchanged, Append's skip) and which do not (create).

Mirror's leavers are the DE's keys less the audience's, made as the push's pre-pass makes them
(`sync.plan.audience_keys`, without the tenant's zone), read in the same pass. Where those equal
the judged keys (always, unless a date key meets a zone), the audience's key set also carries
each accepted row's mark, so one walk through it counts both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sync.keyset import KeySet
from sync.mapping import FieldMap, key_display
from sync.plan import RowJudge, key_converter
from sync.tally import Tally
from sync.types import SAMPLE_REJECTS, PushResult, RunIO, plan_reject

if TYPE_CHECKING:
    from concurrent.futures import Future

    from sfmc.types import RowOutcome

# The mark of a remembered key (its KeySet value): None for a row that would be sent, SAME
# when the ledger holds it unchanged too, NOT_SENT for an audience key counted elsewhere.
_SAME = ("same",)
_NOT_SENT = ("no",)
_ENTRIES = ("create", "update", "delete", "skip", "unchanged", "reject")


def dry_run(
    io: RunIO,
    judge: RowJudge,
    reading: Future[KeySet] | None,
    *,
    mapping: Sequence[FieldMap],
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
        sets += [counts.pending, counts.audience]
        tally.counters.rows_read += counts.judge_rows(
            io, mapping, incremental=incremental, changed_only=changed_only
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
    """The plan's counts, and the keys whose entry waits for the DE's keys (`deferred`)."""

    judge: RowJudge
    deferred: bool
    plan: dict[str, Any] = field(
        default_factory=lambda: dict.fromkeys(_ENTRIES, 0) | {"rejects": []}
    )
    pending: KeySet = field(default_factory=KeySet)  # marks of accepted keys
    audience: KeySet = field(default_factory=KeySet)  # Mirror: every audience key, marked
    diverged: bool = False  # an audience key differed from its row's judged key

    def judge_rows(
        self, io: RunIO, mapping: Sequence[FieldMap], *, incremental: bool, changed_only: bool
    ) -> int:
        """Judge every row read; count it now or mark its key. Returns the rows read.

        Rows an incremental read left out count as read and unchanged.
        """
        judge = self.judge
        changed = io.changed if changed_only else None
        lookup = io.ledger_lookup if incremental else None
        mirror = self.deferred and judge.method == "mirror"
        audience_key = key_converter(mapping, judge.preflight)  # as `audience_keys`: no zone
        key_of = judge.preflight.key_of
        read = 0
        for chunk in (changed.read if changed else io.read_chunks)(0):
            converted, keys, in_de, used = judge.convert(chunk)
            read += len(chunk)
            akeys = [key_of(audience_key(row)) for row in chunk] if mirror else keys
            self.diverged = self.diverged or akeys != keys
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
            self.remember(keys, akeys, marks, mirror=mirror)
        if changed is not None:
            unread = max(changed.span(0, None)[0] - read, 0)
            self.plan["unchanged"] += unread
            read += unread
        return read

    def remember(
        self,
        keys: Sequence[str],
        akeys: Sequence[str],
        marks: Sequence[Sequence[str] | None],
        *,
        mirror: bool,
    ) -> None:
        """Keep a chunk's marks: in the audience's set while its keys are the judged ones.

        A set keeps a key's first mark; the first row with a key is the one sent (the later
        ones are duplicates), unless an earlier audience key diverged: from then on the marks
        go to `pending` and the audience's set only counts leavers.
        """
        to_pending = not mirror or self.diverged
        if mirror:
            self.audience.add_many(
                (akey, _NOT_SENT if to_pending else mark)
                for akey, mark in zip(akeys, marks, strict=True)
                if akey
            )
        if to_pending:
            self.pending.add_many(
                (key, mark) for key, mark in zip(keys, marks, strict=True) if mark != _NOT_SENT
            )

    def reject(self, row: Mapping[str, Any], values: Mapping[str, object], out: RowOutcome) -> None:
        self.plan["reject"] += 1
        if len(self.plan["rejects"]) < SAMPLE_REJECTS:
            key = key_display(values, self.judge.key_names)
            self.plan["rejects"].append(plan_reject(row["_row"], key, out))

    def resolve(self, remote: KeySet) -> None:
        """Count the marked keys by whether the DE has them, and Mirror's leavers."""
        matched = 0
        for marked in (self.audience, self.pending):
            for page in marked.iter_items():
                found = remote.lookup([key for key, _ in page])
                matched += len(found)
                for key, mark in page:
                    if mark != list(_NOT_SENT):
                        self.plan[_entry(self.judge.method, key in found, bool(mark))] += 1
            if marked is self.audience and self.judge.method == "mirror":
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
