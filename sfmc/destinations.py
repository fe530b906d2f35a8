"""Destinations beyond one Data Extension per audience: membership flags, Contacts, Journey events.

Client calls for the Contacts API and Journey Builder entry events (facts:
`reference/sfmc-contacts-journeys.md`), contact-key preflight, and the runners the sync engine
dispatches to by `Pathway.destination_kind`:

- ``membership_flag``: an existing shared DE keyed by a contact key; the audience is a Boolean field
  set True for members and False for people who left since the last run. Rows are never deleted.
- ``contacts``: members upserted as SFMC Contacts with attribute sets (`"Set.Attribute"` targets).
- ``journey_event``: new members (or every member) fired as API entry events to an event definition.

Every HTTP call goes through `SfmcClient._request`, which owns tokens, retries and error mapping.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sfmc import fieldrules
from sfmc.errors import SfmcConfigError, SfmcFatalError, SfmcRetriableError
from sfmc.mapping import FieldMap, RowConverter, row_hash
from sfmc.preflight import Preflight
from sfmc.push import (
    Commit,
    Counters,
    Progress,
    PushOptions,
    PushResult,
    PushTarget,
    Rejection,
    _noop,
    _original,
    push_rows,
    read_remote_keys,
)
from sfmc.types import DeField, RowOutcome

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

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

CONTACT_KEY_MAX = 254
EVENT_BATCH_MAX = 100
EVENT_DEFINITIONS_PAGE = 50
ATTRIBUTE_SETS_PAGE = 200
_KEY_BREAKERS = re.compile(r"[:\x00-\x1f\x7f]")

# Contacts attribute data types -> DE field types, for preflight with `fieldrules`.
_ATTRIBUTE_TYPES = {
    "text": "Text",
    "emailaddress": "EmailAddress",
    "email": "EmailAddress",
    "boolean": "Boolean",
    "date": "Date",
    "number": "Number",
    "byte": "Number",
    "longnumber": "Decimal",  # 64-bit: a Number (32-bit) would reject large ids
    "decimal": "Decimal",
    "phone": "Phone",
    "locale": "Locale",
}


# ------------------------------------------------------------------------------ plain data


@dataclass(frozen=True)
class AttributeDefinition:
    """One attribute of an attribute set, addressed as `"<Set>.<Attribute>"` in mappings."""

    set_name: str
    name: str
    data_type: str = "Text"
    length: int | None = None
    is_required: bool = False
    is_read_only: bool = False

    @property
    def qualified_name(self) -> str:
        return f"{self.set_name}.{self.name}"

    def to_de_field(self) -> DeField:
        """The equivalent DE field, so preflight can use SFMC's field rules."""
        ftype = _ATTRIBUTE_TYPES.get(self.data_type.casefold(), "Text")
        return DeField(
            name=self.qualified_name,
            field_type=ftype,
            max_length=self.length if ftype in ("Text", "EmailAddress", "Phone") else None,
            precision=19 if self.data_type.casefold() == "longnumber" else None,
            scale=0 if self.data_type.casefold() == "longnumber" else None,
            is_required=self.is_required,
        )


@dataclass(frozen=True)
class AttributeSetDefinition:
    """An attribute set definition (`GET /contacts/v1/attributeSetDefinitions`)."""

    id: str
    key: str
    name: str
    attributes: tuple[AttributeDefinition, ...]
    is_system_defined: bool = False


@dataclass(frozen=True)
class EventDefinition:
    """A Journey Builder event definition (`GET /interaction/v1/eventDefinitions`)."""

    id: str
    key: str
    name: str
    type: str
    data_extension_id: str | None
    data_extension_name: str | None


# ---------------------------------------------------------------------------- HTTP helpers


def _call(
    client: SfmcClient,
    method: str,
    path: str,
    *,
    operation: str,
    json: Any = None,
    params: Mapping[str, Any] | None = None,
    scope: str | None = None,
    return_on: frozenset[int] = frozenset(),
) -> tuple[int, dict[str, Any]]:
    """One REST call through the client's choke point: (status, parsed JSON object or {})."""
    resp = client._request(
        method,
        path,
        operation=operation,
        json=json,
        params=params,
        scope=scope,
        return_on=return_on,
        raw=True,
    )
    try:
        body = resp.json() if resp.content else {}
    except ValueError:
        body = {}
    return resp.status_code, body if isinstance(body, dict) else {"items": body}


def _name_of(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("value", ""))
    return str(value or "")


# ------------------------------------------------------------------------- contact keys


def contact_key_problem(key: object) -> RowOutcome | None:
    """Check a contact key against SFMC's rules before sending it.

    The key is the Email Studio subscriber key: required, at most 254 characters, and no colon
    (`:` separates key and value in SFMC's row routes) or control characters; leading or trailing
    spaces would create a second contact that only looks like the first.

    Returns:
        None when the key is acceptable, else a failed `RowOutcome` saying what to fix.
    """
    if key is None or (isinstance(key, str) and not key.strip()):
        return RowOutcome(
            ok=False,
            error_type="ContactKeyRequired",
            error_details="The contact key is empty: every member needs one (e.g. a CRM id).",
            field="ContactKey",
        )
    text = str(key)
    if len(text) > CONTACT_KEY_MAX:
        details = f"The contact key is {len(text)} characters long; SFMC allows {CONTACT_KEY_MAX}."
    elif _KEY_BREAKERS.search(text):
        details = (
            "The contact key contains a colon or a control character (tab, newline); SFMC "
            "cannot address such keys. Remove them from the key column."
        )
    elif text != text.strip():
        details = "The contact key starts or ends with spaces; trim the key column."
    else:
        return None
    return RowOutcome(
        ok=False, error_type="ContactKeyInvalid", error_details=details, field="ContactKey"
    )


# -------------------------------------------------------------------------------- contacts


def list_attribute_set_definitions(client: SfmcClient) -> list[AttributeSetDefinition]:
    """Every attribute set definition of the account, with its attributes (all pages)."""
    result: list[AttributeSetDefinition] = []
    page = 1
    while True:
        _, body = _call(
            client,
            "GET",
            "/contacts/v1/attributeSetDefinitions",
            params={"$page": page, "$pageSize": ATTRIBUTE_SETS_PAGE},
            operation="list attribute set definitions",
            scope="list_and_subscribers_read",
        )
        items = body.get("items") or []
        for item in items:
            set_name = _name_of(item.get("name"))
            attributes = tuple(
                AttributeDefinition(
                    set_name=set_name,
                    name=_name_of(attr.get("name")),
                    data_type=str(attr.get("dataType") or "Text"),
                    length=attr.get("length"),
                    is_required=attr.get("isNullable") is False
                    and not attr.get("defaultValue")
                    and not attr.get("isReadOnly"),
                    is_read_only=bool(attr.get("isReadOnly")) or attr.get("isUpdateable") is False,
                )
                for attr in item.get("attributes") or item.get("valueDefinitions") or []
            )
            result.append(
                AttributeSetDefinition(
                    id=str(item.get("id", "")),
                    key=str(item.get("key", "")),
                    name=set_name,
                    attributes=attributes,
                    is_system_defined=bool(item.get("isSystemDefined")),
                )
            )
        count = int(body.get("count") or 0)
        if not items or page * ATTRIBUTE_SETS_PAGE >= count:
            return result
        page += 1


def writable_attributes(sets: Iterable[AttributeSetDefinition]) -> list[AttributeDefinition]:
    """Attributes a mapping may target (read-only ones such as "Contacts ID" left out)."""
    return [a for s in sets for a in s.attributes if not a.is_read_only]


def contact_payload(contact_key: str, values: Mapping[str, object]) -> dict[str, Any]:
    """The POST /contacts/v1/contacts body for one contact.

    Args:
        contact_key: the contact key.
        values: `"<Set>.<Attribute>"` -> value; blank values are left out (not cleared).
    """
    sets: dict[str, list[dict[str, object]]] = {}
    for qualified, value in values.items():
        if fieldrules.is_blank(value):
            continue
        set_name, _, attr = qualified.partition(".")
        sets.setdefault(set_name, []).append({"name": attr, "value": value})
    return {
        "contactKey": contact_key,
        "attributeSets": [
            {"name": name, "items": [{"values": pairs}]} for name, pairs in sets.items()
        ],
    }


def upsert_contact(
    client: SfmcClient, contact_key: str, values: Mapping[str, object]
) -> RowOutcome:
    """Create or update one contact (POST upserts by key); refusals come back as data."""
    try:
        status, body = _call(
            client,
            "POST",
            "/contacts/v1/contacts",
            json=contact_payload(contact_key, values),
            operation="upsert contact",
            scope="list_and_subscribers_write",
            return_on=frozenset({400}),
        )
    except SfmcRetriableError as exc:
        return RowOutcome(
            ok=False, error_type="UnexpectedError", error_details=exc.message, retryable=True
        )
    if status == 400:
        return _contact_refusal(body)
    return RowOutcome(ok=True)


def _contact_refusal(body: Mapping[str, Any]) -> RowOutcome:
    messages = body.get("resultMessages") or []
    if messages:
        first = messages[0]
        params = first.get("formatStringParams") or []
        return RowOutcome(
            ok=False,
            error_type=str(first.get("resultCode") or "InvalidValue"),
            error_details="; ".join(str(m.get("message", "")) for m in messages),
            field=".".join(params[:2]) if len(params) >= 2 else None,
        )
    return RowOutcome(
        ok=False,
        error_type="InvalidValue",
        error_details=str(body.get("message") or "SFMC refused the contact."),
    )


def upsert_contacts(
    client: SfmcClient,
    contacts: Sequence[tuple[str, Mapping[str, object]]],
    *,
    concurrency: int = 4,
) -> list[RowOutcome]:
    """Upsert many contacts; outcomes in input order.

    SFMC has no batch create/update endpoint for contacts (one contact per call), so the calls
    run a few at a time; the client is thread-safe and its choke point keeps within rate limits.
    """
    if not contacts:
        return []
    if concurrency <= 1 or len(contacts) == 1:
        return [upsert_contact(client, key, values) for key, values in contacts]
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(lambda kv: upsert_contact(client, kv[0], kv[1]), contacts))


# ------------------------------------------------------------------------- journey events


def _event_definition(item: Mapping[str, Any]) -> EventDefinition:
    return EventDefinition(
        id=str(item.get("id", "")),
        key=str(item.get("eventDefinitionKey", "")),
        name=str(item.get("name", "")),
        type=str(item.get("type", "")),
        data_extension_id=item.get("dataExtensionId"),
        data_extension_name=item.get("dataExtensionName"),
    )


def list_event_definitions(client: SfmcClient, *, name: str | None = None) -> list[EventDefinition]:
    """Event definitions of the account (all pages of 50), API events first."""
    result: list[EventDefinition] = []
    page = 1
    while True:
        params: dict[str, Any] = {"$page": page, "$pageSize": EVENT_DEFINITIONS_PAGE}
        if name:
            params["name"] = name
        _, body = _call(
            client,
            "GET",
            "/interaction/v1/eventDefinitions",
            params=params,
            operation="list journey event definitions",
            scope="journeys_read",
        )
        items = body.get("items") or []
        result.extend(_event_definition(i) for i in items)
        if not items or page * EVENT_DEFINITIONS_PAGE >= int(body.get("count") or 0):
            break
        page += 1
    return sorted(result, key=lambda d: (d.type != "APIEvent", d.name.casefold()))


def get_event_definition(client: SfmcClient, key: str) -> EventDefinition | None:
    """One event definition by key, or None when SFMC does not know the key."""
    # SFMC answers an unknown key with 400 (reference §3.3); 404 seen too.
    status, body = _call(
        client,
        "GET",
        f"/interaction/v1/eventDefinitions/key:{key}",
        operation="read the journey event definition",
        scope="journeys_read",
        return_on=frozenset({400, 404}),
    )
    if status in (400, 404):
        return None
    return _event_definition(body)


def _unknown_event(key: str, body: Mapping[str, Any]) -> SfmcConfigError:
    msg = (
        f"SFMC does not know the event definition '{key}' ({body.get('message', '')}); "
        "pick an existing event definition in the pathway settings."
    )
    return SfmcConfigError(msg, operation="send journey entry events", status=400)


def _is_unknown_event(body: Mapping[str, Any]) -> bool:
    return "event definition" in str(body.get("message", "")).casefold() and str(
        body.get("errorcode")
    ) in ("30000", "30003")


def _event_error_type(body: Mapping[str, Any]) -> str:
    code = str(body.get("errorcode") or "")
    return {
        "10001": "InvalidValue",
        "10002": "NullValue",
        "10005": "InvalidValue",
        "30000": "EventRefused",
    }.get(code, "UnexpectedError")


def fire_entry_event(
    client: SfmcClient, event_definition_key: str, contact_key: str, data: Mapping[str, object]
) -> RowOutcome:
    """Fire one API entry event (`POST /interaction/v1/events`).

    Raises:
        SfmcConfigError: the event definition key is unknown.
    """
    try:
        status, body = _call(
            client,
            "POST",
            "/interaction/v1/events",
            json={
                "ContactKey": contact_key,
                "EventDefinitionKey": event_definition_key,
                "Data": dict(data),
            },
            operation="fire a journey entry event",
            scope="journeys_read",
            return_on=frozenset({400}),
        )
    except SfmcRetriableError as exc:
        return RowOutcome(
            ok=False, error_type="UnexpectedError", error_details=exc.message, retryable=True
        )
    if status == 400:
        if _is_unknown_event(body):
            raise _unknown_event(event_definition_key, body)
        return RowOutcome(
            ok=False,
            error_type=_event_error_type(body),
            error_details=str(body.get("message") or "SFMC refused the event."),
        )
    return RowOutcome(ok=True)


def fire_entry_events(
    client: SfmcClient,
    event_definition_key: str,
    members: Sequence[tuple[str, Mapping[str, object]]],
    *,
    use_batch: bool = True,
) -> list[RowOutcome]:
    """Send members into a journey; outcomes in input order.

    Uses the batch endpoint (`POST /interaction/v1/async/events`, 100 members per request) and
    reads the errored members of each request from its status; falls back to one call per member
    when the tenant has no batch endpoint (404).

    Raises:
        SfmcConfigError: the event definition key is unknown.
        SfmcFatalError: SFMC refused a whole batch.
    """
    if not members:
        return []
    if not use_batch:
        return [fire_entry_event(client, event_definition_key, k, d) for k, d in members]
    outcomes: list[RowOutcome] = []
    for start in range(0, len(members), EVENT_BATCH_MAX):
        batch = _fire_batch(client, event_definition_key, members[start : start + EVENT_BATCH_MAX])
        if batch is None:  # no batch endpoint on this tenant: one call per member
            rest = members[start:]
            outcomes.extend(fire_entry_event(client, event_definition_key, k, d) for k, d in rest)
            break
        outcomes.extend(batch)
    return outcomes


def _fire_batch(
    client: SfmcClient, event_definition_key: str, chunk: Sequence[tuple[str, Mapping[str, object]]]
) -> list[RowOutcome] | None:
    try:
        status, body = _call(
            client,
            "POST",
            "/interaction/v1/async/events",
            json={
                "eventDefinitionKey": event_definition_key,
                "members": [{"contactKey": k, "data": dict(d)} for k, d in chunk],
            },
            operation="send journey entry events",
            scope="journeys_read",
            return_on=frozenset({400, 404}),
        )
    except SfmcRetriableError as exc:
        failed = RowOutcome(
            ok=False, error_type="UnexpectedError", error_details=exc.message, retryable=True
        )
        return [failed] * len(chunk)
    if status == 404:
        return None
    if status == 400:
        if _is_unknown_event(body):
            raise _unknown_event(event_definition_key, body)
        msg = f"SFMC refused the batch of entry events: {body.get('message', '')}"
        raise SfmcFatalError(msg, operation="send journey entry events", status=400)
    answered = body.get("members") or []
    outcomes: list[RowOutcome] = []
    by_instance: dict[str, int] = {}
    for i in range(len(chunk)):
        member = answered[i] if i < len(answered) else {}
        if member.get("errorcode"):
            outcomes.append(
                RowOutcome(
                    ok=False,
                    error_type=_event_error_type(member),
                    error_details=str(member.get("message") or "The member was not queued."),
                )
            )
            continue
        outcomes.append(RowOutcome(ok=True))
        if member.get("eventInstanceId"):
            by_instance[str(member["eventInstanceId"])] = i
    request_id = body.get("requestId")
    if request_id and by_instance:
        # Members are queued first and checked against the event's DE while processed.
        for item in _errored_members(client, str(request_id)):
            index = by_instance.get(str(item.get("eventInstanceId")))
            if index is not None:
                outcomes[index] = RowOutcome(
                    ok=False,
                    error_type=_event_error_type(item),
                    error_details=str(item.get("message") or "SFMC could not process the event."),
                )
    return outcomes


def _errored_members(client: SfmcClient, request_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        _, body = _call(
            client,
            "GET",
            "/interaction/v1/async/events/status",
            params={"requestId": request_id, "type": "errored", "$page": page, "$pageSize": 50},
            operation="read the status of journey entry events",
            scope="journeys_read",
        )
        batch = body.get("items") or []
        items.extend(batch)
        if not batch or page * 50 >= int(body.get("count") or 0):
            return items
        page += 1


# ----------------------------------------------------------------------------- the runners
#
# `push_destination(...)` takes the same arguments as `sfmc.push.push_rows` plus the pathway's
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
        SfmcAuthError: with the scopes to add to the Installed Package.
    """
    from sfmc.errors import SfmcAuthError

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
    read_chunks: Callable[[int], Iterable[Sequence[Mapping[str, Any]]]],
    *,
    mapping: Sequence[FieldMap],
    client: SfmcClient,
    options: PushOptions | None = None,
    rows_total: int = 0,
    ledger_lookup: Callable[[Sequence[str]], Mapping[str, str]] | None = None,
    ledger_keys: Callable[[], Iterable[str]] | None = None,
    resume_row: int = 0,
    resume_counters: Counters | None = None,
    on_progress: Callable[[Progress], None] = _noop,
    on_commit: Callable[[Commit], None] = _noop,
    should_cancel: Callable[[], bool] = lambda: False,
) -> PushResult:
    """Run one pathway of a non-DE destination kind (see the module docstring).

    Args:
        settings: destination settings (`DestinationSettings.from_pathway`).
        read_chunks: as for `push_rows`: `read_chunks(after_row)` yields lists of source rows.
        mapping: source column -> destination field. The primary-key mapping is the contact key.
            Contacts: destination fields are `"<Set>.<Attribute>"`. Journey events: fields of the
            event's Data Extension. Membership flag: fields of the shared DE (key at least).
        client: a thread-safe SFMC client.
        options: `PushOptions` (dry_run, incremental; batch sizes are per kind).
        rows_total: audience size for progress.
        ledger_lookup: key strings -> hash accepted before (incremental; "new member" test).
        ledger_keys: every key string in the pathway's ledger (membership flag: who left).
        resume_row: checkpoint to resume after.
        resume_counters: tallies saved with that checkpoint.
        on_progress: progress callback.
        on_commit: persist each acknowledged prefix (rejected rows, ledger changes).
        should_cancel: polled between batches.

    Returns:
        A `PushResult` like `push_rows`.

    Raises:
        SfmcConfigError: the destination is not usable as set (missing flag field name, unknown
            event definition, mapped field missing from the event DE...), with what to fix.
        SfmcAuthError: a needed scope is missing.
    """
    options = options or PushOptions()
    check_scopes(client, settings.kind)
    keyed = [m for m in mapping if m.is_primary_key]
    if len(keyed) != 1:
        msg = (
            "Mark exactly one mapped column as the contact key (the column that identifies a "
            f"supporter, e.g. a CRM id); {len(keyed)} are marked."
        )
        raise SfmcConfigError(msg, operation="check the mapping")
    if settings.kind == MEMBERSHIP_FLAG:
        return _push_membership(
            settings,
            read_chunks,
            mapping=mapping,
            client=client,
            options=options,
            rows_total=rows_total,
            ledger_lookup=ledger_lookup,
            ledger_keys=ledger_keys,
            resume_row=resume_row,
            resume_counters=resume_counters,
            on_progress=on_progress,
            on_commit=on_commit,
            should_cancel=should_cancel,
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
        raise SfmcConfigError(msg)
    return _push_records(
        plan,
        read_chunks,
        mapping=mapping,
        client=client,
        options=options,
        rows_total=rows_total,
        ledger_lookup=ledger_lookup,
        resume_row=resume_row,
        resume_counters=resume_counters,
        on_progress=on_progress,
        on_commit=on_commit,
        should_cancel=should_cancel,
        only_new=settings.kind == JOURNEY_EVENT and settings.send_to != "all",
    )


@dataclass(frozen=True)
class _RecordPlan:
    """How one record-at-a-time destination validates and sends members."""

    fields: tuple[DeField, ...]  # mapped destination fields, for preflight
    key_field: str  # destination field holding the contact key
    batch_rows: int
    send: Callable[[Sequence[tuple[str, Mapping[str, object]]]], list[RowOutcome]]
    payload_fields: tuple[str, ...]  # destination fields sent (besides the key)


def _contacts_plan(client: SfmcClient, mapping: Sequence[FieldMap]) -> _RecordPlan:
    sets = list_attribute_set_definitions(client)
    attrs = {a.qualified_name.casefold(): a for s in sets for a in s.attributes}
    fields: list[DeField] = []
    key_dest = next(m.destination_field for m in mapping if m.is_primary_key)
    for m in mapping:
        if m.is_primary_key and "." not in m.destination_field:
            # The contact key column need not be an attribute: it is the contactKey itself.
            fields.append(
                DeField(m.destination_field, "Text", CONTACT_KEY_MAX, is_primary_key=True)
            )
            continue
        attr = attrs.get(m.destination_field.casefold())
        if attr is None:
            known = ", ".join(a.qualified_name for a in writable_attributes(sets))
            msg = (
                f"'{m.destination_field}' is not an attribute of this account (map to "
                f"'<Attribute Set>.<Attribute>'). Available: {known}."
            )
            raise SfmcConfigError(msg, operation="check the contacts mapping")
        if attr.is_read_only:
            msg = f"'{attr.qualified_name}' is read-only in SFMC; remove it from the mapping."
            raise SfmcConfigError(msg, operation="check the contacts mapping")
        fields.append(replace(attr.to_de_field(), is_primary_key=m.is_primary_key))
    payload = tuple(
        m.destination_field for m in mapping if not m.is_primary_key or "." in m.destination_field
    )
    canonical = {a.qualified_name.casefold(): a.qualified_name for a in attrs.values()}

    def send(batch: Sequence[tuple[str, Mapping[str, object]]]) -> list[RowOutcome]:
        fixed = [(k, {canonical.get(n.casefold(), n): v for n, v in d.items()}) for k, d in batch]
        return upsert_contacts(client, fixed)

    return _RecordPlan(tuple(fields), key_dest, 50, send, payload)


def _journey_plan(
    client: SfmcClient, settings: DestinationSettings, mapping: Sequence[FieldMap]
) -> _RecordPlan:
    if not settings.event_definition_key:
        msg = "Pick the Journey event definition to send members to (pathway option event_definition_key)."
        raise SfmcConfigError(msg, operation="check the journey settings")
    definition = get_event_definition(client, settings.event_definition_key)
    if definition is None:
        msg = (
            f"The event definition '{settings.event_definition_key}' does not exist in this "
            "account (deleted or renamed in Journey Builder?). Pick one of the account's event "
            "definitions in the pathway settings."
        )
        raise SfmcConfigError(msg, operation="find the journey event definition")
    de = None
    if definition.data_extension_name:
        de = client.find_data_extension(name=definition.data_extension_name)
    if de is None:
        msg = (
            f"The Data Extension of event '{definition.name}' "
            f"('{definition.data_extension_name}') was not found; fix the event in Journey Builder."
        )
        raise SfmcConfigError(msg, operation="read the event's Data Extension")
    by_name = {f.name.casefold(): f for f in de.fields}
    fields: list[DeField] = []
    for m in mapping:
        de_field = by_name.get(m.destination_field.casefold())
        if de_field is None:
            msg = (
                f"'{m.destination_field}' is not a field of the event's Data Extension "
                f"'{de.name}' (fields: {', '.join(f.name for f in de.fields)}); SFMC would refuse "
                "every event. Fix the mapping."
            )
            raise SfmcConfigError(msg, operation="check the journey mapping")
        fields.append(replace(de_field, is_primary_key=m.is_primary_key))
    mapped = {f.name.casefold() for f in fields}
    unmapped_required = [
        f.name
        for f in de.fields
        if (f.is_required or f.is_primary_key)
        and f.default_value is None
        and f.name.casefold() not in mapped
    ]
    if unmapped_required:
        msg = (
            f"The event's Data Extension requires {', '.join(unmapped_required)}; map a column "
            "to each of them."
        )
        raise SfmcConfigError(msg, operation="check the journey mapping")
    key = definition.key

    def send(batch: Sequence[tuple[str, Mapping[str, object]]]) -> list[RowOutcome]:
        return fire_entry_events(client, key, batch, use_batch=settings.use_batch)

    names = tuple(f.name for f in fields)
    return _RecordPlan(
        tuple(fields),
        fields[[m.is_primary_key for m in mapping].index(True)].name,
        EVENT_BATCH_MAX,
        send,
        names,
    )


def _push_records(  # noqa: C901 - one loop, like push_rows
    plan: _RecordPlan,
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
    typed = [
        replace(m, destination_field=f.name, field_type=f.field_type)
        for m, f in zip(mapping, plan.fields, strict=True)
    ]
    converter = RowConverter(typed)
    preflight = Preflight(plan.fields, [plan.key_field])
    field_names = converter.field_names
    counters = replace(resume_counters) if resume_counters else Counters()
    start_calls = getattr(client, "api_calls", 0)
    base_calls = counters.api_calls
    started = time.monotonic()
    done_at_start = counters.rows_succeeded + counters.rows_failed + counters.rows_skipped
    sample: list[Rejection] = []
    dry: dict[str, Any] = {"create": 0, "update": 0, "skip": 0, "reject": 0, "rejects": []}

    def progress(phase: str) -> None:
        counters.api_calls = base_calls + getattr(client, "api_calls", 0) - start_calls
        done = counters.rows_succeeded + counters.rows_failed + counters.rows_skipped
        rate = (done - done_at_start) / max(time.monotonic() - started, 1e-6)
        eta = (max(rows_total - done, 0) / rate) if rate > 0 else None
        on_progress(Progress(rows_total, done, replace(counters), rate, eta, 0, phase))

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
                    rejected.append(Rejection(row_no, _original(original), shown, outcome))
        counters.rows_failed += len(rejected)
        counters.rows_skipped += skipped
        commit.rejected = list(rejected)
        sample.extend(rejected[: max(0, 20 - len(sample))])
        pending.clear()
        rejected.clear()
        skipped = 0
        counters.api_calls = base_calls + getattr(client, "api_calls", 0) - start_calls
        commit.counters = replace(counters)
        if not options.dry_run:
            on_commit(commit)
        progress("sending")

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
                rejected.append(
                    Rejection(last_row, _original(row), str(contact_key or ""), outcome)
                )
                dry["reject"] += 1
                if len(dry["rejects"]) < 20:
                    dry["rejects"].append(
                        {
                            "row": last_row,
                            "key": str(contact_key or ""),
                            "field": outcome.field,
                            "error_type": outcome.error_type,
                            "error_details": outcome.error_details,
                        }
                    )
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
    counters.api_calls = base_calls + getattr(client, "api_calls", 0) - start_calls
    if options.dry_run:
        counters.rows_failed, counters.rows_skipped = dry["reject"], dry["skip"]
        message = (
            f"Dry run: {dry['create']:,} to create, {dry['update']:,} to update, "
            f"{dry['skip']:,} to skip, {dry['reject']:,} to reject. Nothing was sent."
        )
        return PushResult("succeeded", replace(counters), plan=dry, message=message)
    return PushResult(state, replace(counters), rejected_sample=sample)


def _push_membership(
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
                ledger_deletes=[k for k, _ in commit.ledger_upserts],
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


def ledger_keys(engine: Engine, pathway_id: int) -> list[str]:
    """Every key in a pathway's ledger (the members SFMC accepted on earlier runs)."""
    from sqlmodel import Session, select

    from store.models import RowLedger

    with Session(engine) as session:
        return list(
            session.exec(select(RowLedger.row_key).where(RowLedger.pathway_id == pathway_id)).all()
        )


# ------------------------------------------------------------------ DE push key options

GENERATED_KEY_COLUMN = "_pathways_uuid"


def with_generated_keys(
    read_chunks: Callable[[int], Iterable[Sequence[Mapping[str, Any]]]],
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
