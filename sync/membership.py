"""The membership-flag destination: one True/False field per audience on a shared DE.

Members are upserted with the flag True through `sync.push.push_rows`; afterwards, keys the ledger
holds that the audience no longer does ("leavers") are upserted with the flag False. Rows are
never deleted, so several audiences can share one DE keyed by contact key.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sfmc.types import DataExtension, DeField
from sync.destination_rules import membership_problems, raise_first
from sync.keyset import KeySet
from sync.mapping import FieldMap, RowConverter
from sync.plan import read_remote_keys
from sync.preflight import Preflight
from sync.push import push_rows
from sync.types import Commit, PushOptions, PushResult, PushTarget, RunIO

if TYPE_CHECKING:
    from sfmc.client import SfmcClient

# The source column the engine adds to every member row: the flag's value.
_FLAG_SOURCE = "__pathways_member"


@dataclass(frozen=True)
class _SharedDe:
    """The shared DE as this audience writes it: key field, mapped fields and its flag."""

    de: DataExtension
    key_field: DeField
    fields: tuple[DeField, ...]
    flag_field: DeField

    def target(self, fields: tuple[DeField, ...]) -> PushTarget:
        return PushTarget(self.de.customer_key, fields, (self.key_field.name,), "upsert")


def push_membership(
    flag_name: str,
    de_customer_key: str,
    io: RunIO,
    *,
    mapping: Sequence[FieldMap],
    client: SfmcClient,
    options: PushOptions,
) -> PushResult:
    """Flag members True and leavers False on the shared DE (arguments as for `push_destination`).

    Raises:
        SetupError: the shared DE, its key or the flag field are not usable, with the fix.
    """
    shared = _shared_de(client, flag_name.strip(), de_customer_key, mapping, options)
    member_map = [
        *(
            replace(m, destination_field=f.name, field_type=f.field_type)
            for m, f in zip(mapping, shared.fields, strict=True)
        ),
        FieldMap(_FLAG_SOURCE, shared.flag_field.name, "Boolean"),
    ]
    read = io.read_chunks

    def members(after: int) -> Iterator[list[dict[str, Any]]]:
        for chunk in read(after):
            yield [{**row, _FLAG_SOURCE: True} for row in chunk]

    result = push_rows(
        RunIO(
            members,
            rows_total=io.rows_total,
            ledger_lookup=io.ledger_lookup,
            resume_row=io.resume_row,
            resume_counters=io.resume_counters,
            on_progress=io.on_progress,
            on_commit=io.on_commit,
            should_cancel=io.should_cancel,
        ),
        target=shared.target((*shared.fields, shared.flag_field)),
        mapping=member_map,
        client=client,
        options=options,
    )
    if result.state != "succeeded" or io.ledger_keys is None:
        return result
    key_map = next(m for m in mapping if m.is_primary_key)
    gone = _leavers(io.read_chunks(0), io.ledger_keys(), shared.key_field, key_map)
    if options.dry_run:
        result.plan["left"] = len(gone)
        result.message += f" {len(gone):,} member(s) who left would be flagged False."
        return result
    if not gone:
        result.plan["left"] = 0
        return result
    return _flag_leavers(gone, shared, io, result, client=client, options=options)


def _shared_de(
    client: SfmcClient,
    flag: str,
    customer_key: str,
    mapping: Sequence[FieldMap],
    options: PushOptions,
) -> _SharedDe:
    """The shared DE checked by `membership_problems`; its flag field added if missing."""
    # Without a flag name there is nothing to write: refuse before asking SFMC for the DE.
    de = client.find_data_extension(customer_key=customer_key) if flag else None
    raise_first(membership_problems(customer_key, de, flag, mapping))
    assert de is not None  # membership_problems said so
    by_name = {f.name.casefold(): f for f in de.fields}
    key_map = next(m for m in mapping if m.is_primary_key)
    key_field = by_name[key_map.destination_field.casefold()]
    fields = tuple(by_name[m.destination_field.casefold()] for m in mapping)
    flag_field = by_name.get(flag.casefold())
    if flag_field is None:
        flag_field = DeField(flag, "Boolean", default_value="False")
        if not options.dry_run:
            client.add_fields(de.customer_key, [flag_field])
    return _SharedDe(de, key_field, fields, flag_field)


def _leavers(
    audience: Iterable[Sequence[Mapping[str, Any]]],
    ledger_keys: Iterable[str],
    key_field: DeField,
    key_map: FieldMap,
) -> list[str]:
    """Who left: keys SFMC accepted before that the audience no longer holds (exact keys)."""
    preflight = Preflight([key_field], [key_field.name])
    key_conv = RowConverter(
        [replace(key_map, destination_field=key_field.name, field_type=key_field.field_type)]
    )
    current = KeySet()  # on disk beyond a few thousand keys
    try:
        for chunk in audience:
            current.add_many((preflight.key_of(key_conv(row)), None) for row in chunk)
        return [k for k in ledger_keys if k and k not in current]
    finally:
        current.close()


def _flag_leavers(
    gone: list[str],
    shared: _SharedDe,
    io: RunIO,
    members: PushResult,
    *,
    client: SfmcClient,
    options: PushOptions,
) -> PushResult:
    """Upsert the leavers still in the DE with the flag False; forget the others."""
    key_field, flag_field = shared.key_field, shared.flag_field
    remote = read_remote_keys(client, shared.de.customer_key, [key_field])
    found = remote.lookup(gone)
    remote.close()
    leavers = [found[k][0] for k in gone if k in found]
    vanished = [k for k in gone if k not in found]
    on_commit = io.on_commit
    if vanished:
        # Someone deleted these rows in SFMC: nothing to flag, and never re-create them.
        on_commit(Commit(-1, replace(members.counters), ledger_deletes=vanished, phase="leavers"))
    leave_map = [
        FieldMap(key_field.name, key_field.name, key_field.field_type, is_primary_key=True),
        FieldMap(_FLAG_SOURCE, flag_field.name, "Boolean"),
    ]
    rows = [
        {key_field.name: value, _FLAG_SOURCE: False, "_row": i + 1}
        for i, value in enumerate(leavers)
    ]

    def leaver_commit(commit: Commit) -> None:
        # Accepted "left" rows leave the ledger: a member who comes back is sent again.
        on_commit(
            Commit(
                -1,
                commit.counters,
                rejected=commit.rejected,
                ledger_deletes=[entry[0] for entry in commit.ledger_upserts],
                phase="leavers",
            )
        )

    left = push_rows(
        RunIO(
            lambda after: [rows[after:]] if rows[after:] else [],
            rows_total=io.rows_total + len(rows),
            resume_counters=members.counters,
            on_progress=io.on_progress,
            on_commit=leaver_commit,
            should_cancel=io.should_cancel,
        ),
        target=shared.target((key_field, flag_field)),
        mapping=leave_map,
        client=client,
        options=replace(options, incremental=False),
    )
    left.plan["left"] = left.counters.rows_succeeded - members.counters.rows_succeeded
    left.rejected_sample = members.rejected_sample + left.rejected_sample
    return left
