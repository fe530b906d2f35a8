"""Destinations beyond one Data Extension per audience: membership flags, Contacts, Journey events.

The runners the sync engine dispatches to by `Pathway.destination_kind`:

- ``membership_flag``: an existing shared DE keyed by a contact key; the audience is a Boolean field
  set True for members and False for people who left since the last run. Rows are never deleted.
  (`sync.membership`)
- ``contacts``: members upserted as SFMC Contacts with attribute sets (`"Set.Attribute"` targets).
  (client calls and contact-key rules: `sfmc.contacts`; runner: `sync.records`)
- ``journey_event``: new members (or every member) fired as API entry events to an event definition.
  (client calls: `sfmc.journeys`; runner: `sync.records`)

This module holds the kinds, their settings and scope check, `push_destination` (which checks the
destination with the rules of `sync.destination_rules`, the wizard's too, and builds the per-kind
plan) and the generated-key option for DE pushes. Every HTTP call goes through
`SfmcClient._request`, which owns tokens, retries and error mapping. Nothing here reads the
store: the runner hands everything in through a `RunIO`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sfmc.contacts import CONTACT_KEY_MAX, list_attribute_set_definitions, upsert_contacts
from sfmc.errors import SfmcAuthError
from sfmc.journeys import EVENT_BATCH_MAX, fire_entry_events, get_event_definition
from sfmc.types import DeField, RowOutcome
from sync.destination_rules import (
    contact_key_problems,
    contacts_problems,
    is_contact_key,
    journey_problems,
    raise_first,
)
from sync.mapping import FieldMap
from sync.membership import push_membership
from sync.records import RecordPlan, push_records
from sync.types import PushOptions, PushResult, ReadChunks, RunIO, SetupError

if TYPE_CHECKING:
    from sfmc.client import SfmcClient

DATA_EXTENSION = "data_extension"
MEMBERSHIP_FLAG = "membership_flag"
CONTACTS = "contacts"
JOURNEY_EVENT = "journey_event"
DESTINATION_KINDS: dict[str, str] = {
    DATA_EXTENSION: "Data Extension (one per audience)",
    MEMBERSHIP_FLAG: "Membership flag on a shared Data Extension",
    CONTACTS: "Contacts (attribute sets)",
    JOURNEY_EVENT: "Journey entry event",
}
DESTINATION_HELP: dict[str, str] = {
    DATA_EXTENSION: "A Data Extension of its own holding the audience's rows (sync methods apply).",
    MEMBERSHIP_FLAG: (
        "One True/False column per audience in an existing DE keyed by contact key: members get "
        "True, people who left get False; rows are never deleted. Several audiences share one DE."
    ),
    CONTACTS: (
        "Creates or updates Contacts in Contact Builder, writing attribute-set values "
        "(e.g. Email Addresses.Email Address)."
    ),
    JOURNEY_EVENT: (
        "Sends each new member (or every member) into a journey through an API entry event; "
        "mapped fields must exist in the event's Data Extension."
    ),
}
# Scopes each kind needs (reference §4; sfmc-api.md §10). Checked before a run sends anything.
DESTINATION_SCOPES: dict[str, frozenset[str]] = {
    DATA_EXTENSION: frozenset({"data_extensions_read", "data_extensions_write"}),
    MEMBERSHIP_FLAG: frozenset({"data_extensions_read", "data_extensions_write"}),
    CONTACTS: frozenset({"list_and_subscribers_read", "list_and_subscribers_write"}),
    JOURNEY_EVENT: frozenset({"journeys_read", "data_extensions_read"}),
}


# ----------------------------------------------------------------------------- the runners
#
# `push_destination(...)` takes the same `RunIO` as `sync.push.push_rows` plus the pathway's
# destination settings, and reports through the same `Progress` / `Commit` / `PushResult` types,
# so `run_pathway` persists progress, checkpoints, rejected rows and the ledger the same way for
# every destination kind. The ledger holds, per pathway, the contact keys SFMC accepted.


@dataclass(frozen=True)
class DestinationSettings:
    """What a pathway of a non-DE kind needs besides its mapping.

    Attributes:
        kind: `MEMBERSHIP_FLAG`, `CONTACTS` or `JOURNEY_EVENT`.
        de_customer_key: membership flag: the shared DE's external key.
        flag_field: membership flag: the Boolean field of this audience (created if missing).
        event_definition_key: journey event: the event definition to fire.
        send_to: journey event: "new" (members not sent before) or "all" (every member, every run).
        use_batch: journey event: use the batch events endpoint (falls back to single on 404).
    """

    kind: str
    de_customer_key: str = ""
    flag_field: str = ""
    event_definition_key: str = ""
    send_to: str = "new"
    use_batch: bool = True

    @classmethod
    def from_pathway(cls, pathway: Any) -> DestinationSettings:
        """Read the settings from a `store.models.Pathway` (options JSON + DE key)."""
        opts = dict(pathway.options or {})
        return cls(
            kind=pathway.destination_kind,
            de_customer_key=pathway.de_customer_key,
            flag_field=str(opts.get("flag_field") or ""),
            event_definition_key=str(opts.get("event_definition_key") or ""),
            send_to=str(opts.get("send_to") or "new"),
            use_batch=bool(opts.get("use_batch", True)),
        )


def check_scopes(client: SfmcClient, kind: str) -> None:
    """Refuse to start when the token lacks a scope the destination kind needs.

    Raises:
        SfmcAuthError: kind "scope", with the scopes to add to the Installed Package.
    """
    missing = sorted(DESTINATION_SCOPES.get(kind, frozenset()) - set(client.granted_scopes()))
    if missing:
        msg = (
            f"The connection's Installed Package lacks {', '.join(missing)}, needed for the "
            f"{DESTINATION_KINDS.get(kind, kind)} destination. Add the scope(s) in Marketing "
            "Cloud Setup > Installed Packages, then test the connection again."
        )
        raise SfmcAuthError(msg, operation="check scopes", kind="scope")


def push_destination(
    settings: DestinationSettings,
    io: RunIO,
    *,
    mapping: Sequence[FieldMap],
    client: SfmcClient,
    options: PushOptions | None = None,
) -> PushResult:
    """Run one pathway of a non-DE destination kind (see the module docstring).

    Args:
        settings: destination settings (`DestinationSettings.from_pathway`).
        io: as for `push_rows`; `io.ledger_lookup` also tells new members from known ones,
            `io.ledger_keys` who left (membership flag).
        mapping: source column -> destination field. The primary-key mapping is the contact key.
            Contacts: destination fields are `"<Set>.<Attribute>"`. Journey events: fields of the
            event's Data Extension. Membership flag: fields of the shared DE (key at least).
        client: a thread-safe SFMC client.
        options: `PushOptions` (dry_run, incremental; batch sizes are per kind).

    Returns:
        A `PushResult` like `push_rows`.

    Raises:
        SetupError: the destination is not usable as set (missing flag field name, unknown
            event definition, mapped field missing from the event DE...), with what to fix.
        SfmcAuthError: a needed scope is missing.
    """
    options = options or PushOptions()
    check_scopes(client, settings.kind)
    raise_first(contact_key_problems(mapping))
    if settings.kind == MEMBERSHIP_FLAG:
        return push_membership(
            settings.flag_field,
            settings.de_customer_key,
            io,
            mapping=mapping,
            client=client,
            options=options,
        )
    if settings.kind == CONTACTS:
        plan = _contacts_plan(client, mapping)
    elif settings.kind == JOURNEY_EVENT:
        plan = _journey_plan(client, settings, mapping)
        if settings.send_to == "all":
            # Every member enters every run: the ledger must not skip unchanged rows.
            options = replace(options, incremental=False)
    else:
        msg = f"Unknown destination kind {settings.kind!r}; use one of {', '.join(DESTINATION_KINDS)}."
        raise SetupError(msg, kind="unknown_destination", detail={"destination": settings.kind})
    only_new = settings.kind == JOURNEY_EVENT and settings.send_to != "all"
    return push_records(
        plan, io, mapping=mapping, client=client, options=options, only_new=only_new
    )


def _contacts_plan(client: SfmcClient, mapping: Sequence[FieldMap]) -> RecordPlan:
    """Contact upserts: the mapped attributes as fields (checked by `contacts_problems`)."""
    sets = list_attribute_set_definitions(client)
    raise_first(contacts_problems(sets, mapping))
    attrs = {a.qualified_name.casefold(): a for s in sets for a in s.attributes}
    fields = tuple(
        # The contact key column need not be an attribute: it is the contactKey itself.
        DeField(m.destination_field, "Text", CONTACT_KEY_MAX, is_primary_key=True)
        if is_contact_key(m)
        else replace(
            attrs[m.destination_field.casefold()].to_de_field(), is_primary_key=m.is_primary_key
        )
        for m in mapping
    )
    key_dest = next(m.destination_field for m in mapping if m.is_primary_key)
    payload = tuple(m.destination_field for m in mapping if not is_contact_key(m))
    canonical = {a.qualified_name.casefold(): a.qualified_name for a in attrs.values()}

    def send(batch: Sequence[tuple[str, Mapping[str, object]]]) -> list[RowOutcome]:
        fixed = [(k, {canonical.get(n.casefold(), n): v for n, v in d.items()}) for k, d in batch]
        return upsert_contacts(client, fixed)

    return RecordPlan(fields, key_dest, 50, send, payload)


def _journey_plan(
    client: SfmcClient, settings: DestinationSettings, mapping: Sequence[FieldMap]
) -> RecordPlan:
    """Entry events: the mapped fields of the event's DE (checked by `journey_problems`)."""
    key = settings.event_definition_key
    definition = get_event_definition(client, key) if key else None
    de = None
    if definition is not None and definition.data_extension_name:
        de = client.find_data_extension(name=definition.data_extension_name)
    raise_first(journey_problems(key, definition, de, mapping))
    assert definition is not None  # journey_problems said so
    assert de is not None
    by_name = {f.name.casefold(): f for f in de.fields}
    fields = tuple(
        replace(by_name[m.destination_field.casefold()], is_primary_key=m.is_primary_key)
        for m in mapping
    )
    event_key = definition.key

    def send(batch: Sequence[tuple[str, Mapping[str, object]]]) -> list[RowOutcome]:
        return fire_entry_events(client, event_key, batch, use_batch=settings.use_batch)

    key_field = next(f.name for f in fields if f.is_primary_key)
    return RecordPlan(fields, key_field, EVENT_BATCH_MAX, send, tuple(f.name for f in fields))


# ------------------------------------------------------------------ DE push key options

GENERATED_KEY_COLUMN = "_pathways_uuid"


def with_generated_keys(
    read_chunks: ReadChunks,
    *,
    namespace: str,
    column: str = GENERATED_KEY_COLUMN,
) -> Callable[[int], Iterator[list[dict[str, Any]]]]:
    """Add a generated UUID key to every row, for append-only event tables.

    The UUID is derived from `namespace` (e.g. "pathway:7:run:42") and the row's `_row`, so a
    resumed run sends the same keys again (no duplicates) while a new run appends new rows. Map
    `column` to a Text(36) primary key field of the DE.
    """
    base = uuid.uuid5(uuid.NAMESPACE_URL, f"pathways:{namespace}")

    def chunks(after: int) -> Iterator[list[dict[str, Any]]]:
        for chunk in read_chunks(after):
            yield [{**row, column: str(uuid.uuid5(base, str(row["_row"])))} for row in chunk]

    return chunks
