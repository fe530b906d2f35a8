"""The membership-flag destination: one True/False field per audience on a shared DE.

Members are upserted with the flag True through `sync.push.push_rows`; afterwards, keys the ledger
holds that the audience no longer does ("leavers") are upserted with the flag False. Rows are
never deleted, so several audiences can share one DE keyed by contact key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sfmc.errors import SfmcConfigError
from sfmc.types import DeField
from sync.mapping import FieldMap, RowConverter
from sync.preflight import Preflight
from sync.push import (
    Commit,
    Counters,
    Progress,
    PushOptions,
    PushResult,
    PushTarget,
    push_rows,
    read_remote_keys,
)

if TYPE_CHECKING:
    from sfmc.client import SfmcClient
    from sync.destinations import DestinationSettings


def push_membership(
    settings: DestinationSettings,
    read_chunks: Callable[[int], Iterable[Sequence[Mapping[str, Any]]]],
    *,
    mapping: Sequence[FieldMap],
    client: SfmcClient,
    options: PushOptions,
    rows_total: int,
    ledger_lookup: Callable[[Sequence[str]], Mapping[str, str]] | None,
    ledger_keys: Callable[[], Iterable[str]] | None,
    resume_row: int,
    resume_counters: Counters | None,
    on_progress: Callable[[Progress], None],
    on_commit: Callable[[Commit], None],
    should_cancel: Callable[[], bool],
) -> PushResult:
    """Flag members True and leavers False on the shared DE (arguments as for `push_destination`).

    Raises:
        SfmcConfigError: the shared DE, its key or the flag field are not usable, with the fix.
    """
    flag = settings.flag_field.strip()
    if not flag:
        msg = (
            "Name the True/False field that marks this audience's members (e.g. 'In Lapsed 2023')."
        )
        raise SfmcConfigError(msg, operation="check the membership settings")
    de = client.find_data_extension(customer_key=settings.de_customer_key)
    if de is None:
        msg = (
            f"The shared Data Extension '{settings.de_customer_key}' was not found. Membership "
            "flags go to an existing DE keyed by contact key: pick one that exists."
        )
        raise SfmcConfigError(msg, operation="find the shared Data Extension")
    by_name = {f.name.casefold(): f for f in de.fields}
    key_map = next(m for m in mapping if m.is_primary_key)
    key_field = by_name.get(key_map.destination_field.casefold())
    if key_field is None or not key_field.is_primary_key or len(de.primary_keys) != 1:
        msg = (
            f"'{key_map.destination_field}' must be the single primary key of '{de.name}' "
            f"(its primary key: {', '.join(de.primary_keys) or 'none'})."
        )
        raise SfmcConfigError(msg, operation="check the membership mapping")
    fields: list[DeField] = []
    for m in mapping:
        de_field = by_name.get(m.destination_field.casefold())
        if de_field is None:
            msg = (
                f"'{m.destination_field}' is not a field of the shared DE '{de.name}'; add it in "
                "SFMC or remove it from the mapping (a shared DE's fields are not changed here)."
            )
            raise SfmcConfigError(msg, operation="check the membership mapping")
        if de_field.name.casefold() == flag.casefold():
            msg = f"'{flag}' is the membership flag; do not map a column to it."
            raise SfmcConfigError(msg, operation="check the membership mapping")
        fields.append(de_field)
    flag_field = by_name.get(flag.casefold())
    if flag_field is not None and flag_field.field_type != "Boolean":
        msg = f"'{flag_field.name}' exists in '{de.name}' as {flag_field.field_type}; pick another flag name."
        raise SfmcConfigError(msg, operation="check the membership settings")
    if flag_field is None:
        flag_field = DeField(flag, "Boolean", default_value="False")
        if not options.dry_run:
            client.add_fields(de.customer_key, [flag_field])
    flag_source = "__pathways_member"
    member_map = [
        *(
            replace(m, destination_field=f.name, field_type=f.field_type)
            for m, f in zip(mapping, fields, strict=True)
        ),
        FieldMap(flag_source, flag_field.name, "Boolean"),
    ]
    target = PushTarget(de.customer_key, (*fields, flag_field), (key_field.name,), "upsert")

    def members(after: int) -> Iterator[list[dict[str, Any]]]:
        for chunk in read_chunks(after):
            yield [{**row, flag_source: True} for row in chunk]

    result = push_rows(
        members,
        target=target,
        mapping=member_map,
        client=client,
        options=options,
        rows_total=rows_total,
        ledger_lookup=ledger_lookup,
        resume_row=resume_row,
        resume_counters=resume_counters,
        on_progress=on_progress,
        on_commit=on_commit,
        should_cancel=should_cancel,
    )
    if result.state != "succeeded" or ledger_keys is None:
        return result
    # Who left: keys SFMC accepted before that the audience no longer holds.
    preflight = Preflight([key_field], [key_field.name])
    key_conv = RowConverter(
        [replace(key_map, destination_field=key_field.name, field_type=key_field.field_type)]
    )
    current = {hash(preflight.key_of(key_conv(row))) for chunk in read_chunks(0) for row in chunk}
    gone = [k for k in ledger_keys() if k and hash(k) not in current]
    if options.dry_run:
        result.plan["left"] = len(gone)
        result.message += f" {len(gone):,} member(s) who left would be flagged False."
        return result
    if not gone:
        result.plan["left"] = 0
        return result
    remote = read_remote_keys(client, de.customer_key, [key_field])
    leavers = [remote[hash(k)] for k in gone if hash(k) in remote]
    vanished = [k for k in gone if hash(k) not in remote]
    if vanished:
        # Someone deleted these rows in SFMC: nothing to flag, and never re-create them.
        on_commit(Commit(-1, replace(result.counters), ledger_deletes=vanished, phase="leavers"))
    leave_map = [
        FieldMap(key_field.name, key_field.name, key_field.field_type, is_primary_key=True),
        FieldMap(flag_source, flag_field.name, "Boolean"),
    ]
    rows = [
        {key_field.name: v[key_field.name], flag_source: False, "_row": i + 1}
        for i, v in enumerate(leavers)
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
        lambda after: [rows[after:]] if rows[after:] else [],
        target=PushTarget(de.customer_key, (key_field, flag_field), (key_field.name,), "upsert"),
        mapping=leave_map,
        client=client,
        options=replace(options, incremental=False),
        rows_total=rows_total + len(rows),
        resume_counters=result.counters,
        on_progress=on_progress,
        on_commit=leaver_commit,
        should_cancel=should_cancel,
    )
    left.plan["left"] = left.counters.rows_succeeded - result.counters.rows_succeeded
    left.rejected_sample = result.rejected_sample + left.rejected_sample
    return left
