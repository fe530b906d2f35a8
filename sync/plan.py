"""What a push will do to the DE, per method: remote keys, Mirror's deletes and guard.

The four methods differ only in how an audience row relates to the DE's keys: Upsert writes
every row, Append skips keys the DE has, Update Only refuses keys it lacks, and Mirror also
deletes the DE's keys the audience lacks (behind a guard). `push_rows` applies this row by row
while sending; `sync.dryrun` counts it without writing anything.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence, Sized
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import tzinfo
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sfmc import keys as de_keys
from sfmc import rows as de_rows
from sfmc.types import DeField, RowOutcome
from sync.keyset import KeySet
from sync.mapping import FieldMap, RowConverter, RowHasher, key_function
from sync.preflight import Preflight
from sync.tally import Tally
from sync.types import (
    Commit,
    PushOptions,
    PushTarget,
    RunIO,
)

if TYPE_CHECKING:
    from sfmc.client import SfmcClient

# The DE's primary keys: exact key string (`key_string`) -> the stored value of each key field,
# in key-field order. Keyed by the string itself, never by its hash(): two keys whose hashes
# collide are still two rows. On disk beyond a few thousand keys (`sync.keyset`).
RemoteKeys = KeySet
# Rowset pages read at once. The engine's request pacing (`PushOptions.max_requests_per_s`,
# 30/s) bounds the rate, so readers only need to cover the latency: at SFMC's ~0.12-0.3 s per
# page (and the time to take each page apart), 4 readers reached 23 pages/s, 8 reach the pace.
KEY_READERS = 8


def _no_pace() -> None:
    return None


def read_remote_keys(
    client: SfmcClient,
    customer_key: str,
    key_fields: Sequence[DeField],
    *,
    pace: Callable[[], None] = _no_pace,
    keep_values: bool = True,
) -> RemoteKeys:
    """Every primary key in the DE, by its key string, with its stored values.

    A REST rowset read: page 1 gives the count and a token, then `KEY_READERS` threads read
    the other pages at once (each page is independent), each adding its keys as it lands.
    `pace` is called before each request (the engine's request pacing). Without
    `keep_values` the keys alone are kept (only Mirror's deletes need the stored values).
    """
    names = [f.name for f in key_fields]
    key_of = key_function(key_fields)
    remote = KeySet()

    def add(rows: Sequence[Mapping[str, str]]) -> None:
        remote.add_many(
            (key, [values.get(n, "") for n in names] if keep_values else None)
            for values in rows
            if (key := key_of(values))
        )

    pace()
    first = de_keys.rowset_first_page(client, customer_key, names)
    add(first.rows)

    def read(page: int) -> None:
        pace()
        add(de_keys.rowset_page(client, first, page, names))

    if first.pages > 1:
        with ThreadPoolExecutor(KEY_READERS, thread_name_prefix="keys") as pool:
            list(pool.map(read, range(2, first.pages + 1)))
    return remote


@dataclass(frozen=True)
class RowJudge:
    """How one push judges an audience row: its preflight verdict and its key against the DE.

    Shared by the send loop (`sync.push`) and `dry_run`, so that a dry run predicts exactly what
    a push does.
    """

    method: str
    converter: RowConverter
    preflight: Preflight
    hasher: RowHasher
    remote: RemoteKeys
    # The key fields' converter alone (`key_converter`): Update Only judges a row by its key first.
    key_converter: RowConverter

    @property
    def key_names(self) -> list[str]:
        return [f.name for f in self.preflight.key_fields]

    @cached_property
    def unmatched(self) -> RowOutcome:
        """Update Only's refusal of a row whose key the DE lacks (one instance per run)."""
        return not_found(self.key_names)

    def convert(
        self, chunk: Sequence[Mapping[str, Any]]
    ) -> tuple[list[dict[str, object]], list[str], Collection[str], list[bool]]:
        """A chunk's converted rows, their keys, the keys the DE has and the duplicate flags.

        One DE lookup and one duplicate claim per chunk. Update Only converts the key fields
        first: a row whose key the DE lacks is refused `NotFound` whatever its other values
        (DESIGN.md: unmatched rows are reported as such, not created), so only its key is
        converted and its key is not claimed (every row with that key is unmatched alike).
        """
        key_of, remote = self.preflight.key_of, self.remote
        if self.method != "update_only":
            converted = [self.converter(row) for row in chunk]
            keys = [key_of(values) for values in converted]
            in_de = remote.lookup([k for k in keys if k]) if remote else {}
            return converted, keys, in_de, self.preflight.claim(keys)
        by_key = [self.key_converter(row) for row in chunk]
        keys = [key_of(values) for values in by_key]
        in_de = remote.lookup([k for k in keys if k]) if remote else {}
        matched = [not k or k in in_de for k in keys]
        converted = [
            self.converter(row) if hit else values
            for row, values, hit in zip(chunk, by_key, matched, strict=True)
        ]
        claimed = self.preflight.claim(
            [k if hit else "" for k, hit in zip(keys, matched, strict=True)]
        )
        return converted, keys, in_de, claimed

    def verdict(
        self,
        row: Mapping[str, Any],
        values: Mapping[str, object],
        key: str,
        holders: Mapping[str, int],
        in_de: Collection[str],
        duplicate: bool | None = None,
    ) -> tuple[RowOutcome | None, bool]:
        """(refusal or None, whether the row is refused for its own values).

        `holders`: keys held by earlier audience rows an incremental read left out; a row
        using one of them is a duplicate. `in_de`: the keys of the row's chunk that the DE
        has (`self.remote.lookup`); `duplicate`: the row's flag from `Preflight.claim`.
        Own-value refusals can be remembered with the row's
        revision; duplicates and Update Only's "not found" depend on other rows. Update Only
        refuses an unmatched key first (`convert` converted only its key).
        """
        if self.method == "update_only" and key and key not in in_de:
            return self.unmatched, False
        if holders and holders.get(key, row["_row"]) < row["_row"]:
            # An earlier row, unchanged and so not read, has this key.
            return self.preflight.duplicate(), False
        outcome = self.preflight.check(values, key, duplicate)
        if outcome is not None:
            return outcome, outcome.error_type != "DuplicateKey"
        return None, False


def key_converter(
    mapping: Sequence[FieldMap], preflight: Preflight, zone: tzinfo | None = None
) -> RowConverter:
    """A converter of the mapping's DE key fields only (the fields `preflight.key_of` reads)."""
    names = {f.name.casefold() for f in preflight.key_fields}
    return RowConverter([m for m in mapping if m.destination_field.casefold() in names], zone)


def audience_keys(
    io: RunIO, mapping: Sequence[FieldMap], preflight: Preflight, *, method: str
) -> KeySet | None:
    """Pre-pass over the audience's keys, when needed (else None).

    Mirror's guard needs every key before anything is written; a resumed run needs the keys
    used by rows before the checkpoint (remembered in `preflight` for duplicate detection).
    """
    resume_row = io.resume_row
    if method != "mirror" and resume_row <= 0:
        return None
    keys = KeySet()
    key_conv = key_converter(mapping, preflight)
    key_of = preflight.key_of
    for chunk in io.read_keys(0):
        found = [(row["_row"], key_of(key_conv(row))) for row in chunk]
        keys.add_many((key, None) for _, key in found if key)
        preflight.seen.add_many(
            (key, None) for row_no, key in found if key and row_no <= resume_row
        )
        if method != "mirror" and chunk and chunk[-1]["_row"] >= resume_row:
            break
    return keys


def stale_keys(remote: RemoteKeys, audience: KeySet | None) -> KeySet:
    """Mirror: the DE's keys the audience no longer has (to delete), with their stored values."""
    stale = KeySet()
    if audience is None:
        return stale
    for page in remote.iter_items():
        kept = audience.lookup([key for key, _ in page])
        stale.add_many((key, values) for key, values in page if key not in kept)
    return stale


def delete_guard(
    to_delete: Sized, de_rows: int, options: PushOptions
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
        "Nothing was changed. Check the audience; if these deletes are right, confirm them "
        "with 'Confirm the deletes and sync'."
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
    to_delete: KeySet,
    *,
    options: PushOptions,
    key_fields: Sequence[DeField],
    on_commit: Callable[[Commit], None],
    tally: Tally,
    pace: Callable[[], None] = _no_pace,
    should_stop: Callable[[], bool] = lambda: False,
) -> bool:
    """Mirror's deletes, `options.delete_batch` keys per SOAP Delete, each committed as it lands.

    Each commit drops the deleted keys' ledger entries. Runs alongside the upserts (the keys are disjoint), so counting and committing happen
    under the tally's lock; `should_stop` is asked before each batch (cancel, failed send).
    Returns False when it stopped before the last batch.
    """
    names = [f.name for f in key_fields]
    step = max(1, options.delete_batch)
    for page in to_delete.iter_items(step):
        if should_stop():
            return False
        part = [dict(zip(names, values, strict=True)) for _, values in page]
        pace()
        outcomes = de_rows.delete_rows(client, target.customer_key, part, batch_size=step)
        gone = [key for (key, _), outcome in zip(page, outcomes, strict=False) if outcome.ok]
        with tally.lock:
            tally.counters.rows_deleted += len(gone)
            on_commit(
                Commit(
                    checkpoint_row=-1,
                    counters=tally.snapshot(),
                    ledger_deletes=gone,
                    phase="delete",
                )
            )
    return True
