"""What a push will do to the DE, per method: remote keys, Mirror's deletes and guard, dry runs.

The four methods differ only in how an audience row relates to the DE's keys: Upsert writes
every row, Append skips keys the DE has, Update Only refuses keys it lacks, and Mirror also
deletes the DE's keys the audience lacks (behind a guard). `push_rows` applies this row by row
while sending; `dry_run` counts it without writing anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sfmc.types import DeField, RowOutcome
from sync.mapping import FieldMap, RowConverter, RowHasher, key_display, key_string
from sync.preflight import Preflight
from sync.tally import Tally
from sync.types import (
    SAMPLE_REJECTS,
    Commit,
    PushOptions,
    PushResult,
    PushTarget,
    plan_reject,
)

if TYPE_CHECKING:
    from sfmc.client import SfmcClient

ReadChunks = Callable[[int], Iterable[Sequence[Mapping[str, Any]]]]


def read_remote_keys(
    client: SfmcClient, customer_key: str, key_fields: Sequence[DeField]
) -> dict[int, dict[str, str]]:
    """Every primary key in the DE: hash(key string) -> {pk field: stored value} (paged SOAP read)."""
    names = [f.name for f in key_fields]
    folded = {n.casefold(): n for n in names}
    remote: dict[int, dict[str, str]] = {}
    for item in client.iter_rows(customer_key, names):
        values = {folded.get(k.casefold(), k): v for k, v in item.items()}
        key = key_string(values, key_fields)
        if key:
            remote[hash(key)] = {n: values.get(n, "") for n in names}
    return remote


def audience_keys(
    read_chunks: ReadChunks,
    mapping: Sequence[FieldMap],
    preflight: Preflight,
    *,
    method: str,
    resume_row: int,
) -> set[int] | None:
    """Pre-pass over the audience's keys, when needed (else None).

    Mirror's guard needs every key before anything is written; a resumed run needs the keys
    used by rows before the checkpoint (remembered in `preflight` for duplicate detection).
    """
    if method != "mirror" and resume_row <= 0:
        return None
    keys: set[int] = set()
    key_conv = RowConverter([m for m in mapping if m.is_primary_key])
    for chunk in read_chunks(0):
        for row in chunk:
            key = preflight.key_of(key_conv(row))
            if not key:
                continue
            keys.add(hash(key))
            if row["_row"] <= resume_row:
                preflight.remember(key)
        if method != "mirror" and chunk and chunk[-1]["_row"] >= resume_row:
            break
    return keys


def stale_keys(
    remote: Mapping[int, dict[str, str]], audience: set[int] | None
) -> list[dict[str, str]]:
    """Mirror: the DE's keys the audience no longer has (to delete)."""
    if audience is None:
        return []
    return [vals for h, vals in remote.items() if h not in audience]


def delete_guard(
    to_delete: Sequence[object], de_rows: int, options: PushOptions
) -> tuple[dict[str, Any], str] | None:
    """Mirror's refusal (plan, message) to delete too large a share of the DE unconfirmed."""
    share = len(to_delete) / de_rows if de_rows else 0.0
    if (
        options.dry_run
        or options.confirm_deletes
        or not to_delete
        or share <= options.delete_guard_share
    ):
        return None
    plan = {
        "delete": len(to_delete),
        "de_rows": de_rows,
        "share": round(share, 4),
        "guard_share": options.delete_guard_share,
    }
    message = (
        f"Mirror would delete {len(to_delete):,} of the {de_rows:,} rows in the Data "
        f"Extension ({share:.0%}, above the {options.delete_guard_share:.0%} guard). "
        "Nothing was changed. Check the audience, then run again with 'confirm deletes'."
    )
    return plan, message


def not_found(key_names: Sequence[str]) -> RowOutcome:
    """Update Only's refusal of a row whose key the DE does not have."""
    return RowOutcome(
        ok=False,
        error_type="NotFound",
        error_details=(
            "No row with this primary key exists in the Data Extension; "
            "Update Only does not create rows."
        ),
        field=key_names[0] if key_names else None,
    )


def delete_stale(
    client: SfmcClient,
    target: PushTarget,
    to_delete: list[dict[str, str]],
    *,
    options: PushOptions,
    preflight: Preflight,
    on_commit: Callable[[Commit], None],
    tally: Tally,
) -> None:
    """Mirror's deletes, in batches, each committed (ledger entries dropped) as it lands."""
    step = max(1, options.delete_batch)
    for start in range(0, len(to_delete), step):
        part = to_delete[start : start + step]
        outcomes = client.delete_rows(target.customer_key, part)
        gone = [
            preflight.key_of(keys)
            for keys, outcome in zip(part, outcomes, strict=False)
            if outcome.ok
        ]
        tally.counters.rows_deleted += len(gone)
        on_commit(
            Commit(
                checkpoint_row=-1,
                counters=tally.snapshot(),
                ledger_deletes=[k for k in gone if k],
                phase="delete",
            )
        )


def dry_run(
    read_chunks: ReadChunks,
    *,
    converter: RowConverter,
    preflight: Preflight,
    method: str,
    remote: dict[int, dict[str, str]],
    to_delete: list[dict[str, str]],
    ledger_lookup: Callable[[Sequence[str]], Mapping[str, str]] | None,
    hasher: RowHasher,
    tally: Tally,
    audience_total: int | None = None,
    key_holders: Callable[[Sequence[str]], Mapping[str, int]] | None = None,
) -> PushResult:
    """Count what a push would create, update, delete, skip and reject; write nothing.

    With `audience_total`, `read_chunks` is an incremental read: the audience rows it left out
    (unchanged since SFMC accepted them) count as unchanged; `key_holders` tells which keys
    such rows hold.
    """
    plan: dict[str, Any] = {
        "create": 0,
        "update": 0,
        "delete": len(to_delete),
        "skip": 0,
        "unchanged": 0,
        "reject": 0,
        "rejects": [],
        "de_rows": len(remote),
    }
    key_names = [f.name for f in preflight.key_fields]
    counters = tally.counters
    for chunk in read_chunks(0):
        converted = [converter(row) for row in chunk]
        keys = [preflight.key_of(v) for v in converted]
        known = ledger_lookup([k for k in keys if k]) if ledger_lookup else {}
        holders = key_holders([k for k in keys if k]) if key_holders else {}
        for row, values, key in zip(chunk, converted, keys, strict=True):
            counters.rows_read += 1
            if holders and holders.get(key, row["_row"]) < row["_row"]:
                outcome: RowOutcome | None = preflight.duplicate()
            else:
                outcome = preflight.check(values, key)
            exists = bool(key) and hash(key) in remote
            if outcome is None and method == "update_only" and not exists:
                outcome = not_found(key_names)
            if outcome is not None:
                plan["reject"] += 1
                if len(plan["rejects"]) < SAMPLE_REJECTS:
                    plan["rejects"].append(
                        plan_reject(row["_row"], key_display(values, key_names), outcome)
                    )
                continue
            if method == "append" and exists:
                plan["skip"] += 1
                continue
            if known and known.get(key) == hasher(values)[0] and exists:
                plan["unchanged"] += 1
                continue
            plan["update" if exists else "create"] += 1
    if audience_total is not None:
        unread = max(audience_total - counters.rows_read, 0)
        plan["unchanged"] += unread
        counters.rows_read += unread
    counters.rows_failed = plan["reject"]
    counters.rows_skipped = plan["skip"] + plan["unchanged"]
    message = (
        f"Dry run: {plan['create']:,} to create, {plan['update']:,} to update, "
        f"{plan['delete']:,} to delete, {plan['skip'] + plan['unchanged']:,} to skip, "
        f"{plan['reject']:,} to reject. Nothing was written."
    )
    return PushResult("succeeded", tally.snapshot(), plan=plan, message=message)
