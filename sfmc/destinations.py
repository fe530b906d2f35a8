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
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sfmc import fieldrules
from sfmc.errors import SfmcError, SfmcFatalError, SfmcRetriableError
from sfmc.types import DeField, RowOutcome

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
) -> Any:
    """One REST call through the client's choke point; returns the parsed JSON body (or None)."""
    return client._request(method, path, json=json, params=params, operation=operation)


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
        body = _call(
            client,
            "GET",
            "/contacts/v1/attributeSetDefinitions",
            params={"$page": page, "$pageSize": ATTRIBUTE_SETS_PAGE},
            operation="list attribute set definitions",
        )
        items = (body or {}).get("items") or []
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
        count = int((body or {}).get("count") or 0)
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
        _call(
            client,
            "POST",
            "/contacts/v1/contacts",
            json=contact_payload(contact_key, values),
            operation="upsert contact",
        )
    except SfmcRetriableError as exc:
        return RowOutcome(
            ok=False, error_type="UnexpectedError", error_details=exc.message, retryable=True
        )
    except SfmcFatalError as exc:
        if exc.status != 400:
            raise
        return _contact_refusal(exc)
    return RowOutcome(ok=True)


def _contact_refusal(exc: SfmcError) -> RowOutcome:
    body = _error_body(exc)
    messages = body.get("resultMessages") or []
    if messages:
        first = messages[0]
        params = first.get("formatStringParams") or []
        return RowOutcome(
            ok=False,
            error_type=str(first.get("resultCode") or "InvalidValue"),
            error_details="; ".join(str(m.get("message", "")) for m in messages),
            field=".".join(reversed(params[:2])) if len(params) >= 2 else None,
        )
    return RowOutcome(
        ok=False, error_type="InvalidValue", error_details=str(body.get("message") or exc.message)
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
        body = _call(
            client,
            "GET",
            "/interaction/v1/eventDefinitions",
            params=params,
            operation="list journey event definitions",
        )
        items = (body or {}).get("items") or []
        result.extend(_event_definition(i) for i in items)
        count = int((body or {}).get("count") or 0)
        if not items or page * EVENT_DEFINITIONS_PAGE >= count:
            break
        page += 1
    return sorted(result, key=lambda d: (d.type != "APIEvent", d.name.casefold()))


def get_event_definition(client: SfmcClient, key: str) -> EventDefinition | None:
    """One event definition by key, or None when SFMC does not know the key."""
    try:
        body = _call(
            client,
            "GET",
            f"/interaction/v1/eventDefinitions/key:{key}",
            operation="read the journey event definition",
        )
    except SfmcFatalError as exc:
        # SFMC answers an unknown key with 400 (reference §3.3), sometimes 404.
        if exc.status in (400, 404):
            return None
        raise
    return _event_definition(body or {})


def _error_body(exc: SfmcError) -> dict[str, Any]:
    import json

    raw = getattr(exc, "response_json", None)
    if isinstance(raw, dict):
        return raw
    try:
        parsed = json.loads(exc.body or "")
    except ValueError:
        return {"message": exc.message}
    return parsed if isinstance(parsed, dict) else {"message": exc.message}


def fire_entry_event(
    client: SfmcClient, event_definition_key: str, contact_key: str, data: Mapping[str, object]
) -> RowOutcome:
    """Fire one API entry event (`POST /interaction/v1/events`)."""
    try:
        _call(
            client,
            "POST",
            "/interaction/v1/events",
            json={
                "ContactKey": contact_key,
                "EventDefinitionKey": event_definition_key,
                "Data": dict(data),
            },
            operation="fire a journey entry event",
        )
    except SfmcRetriableError as exc:
        return RowOutcome(
            ok=False, error_type="UnexpectedError", error_details=exc.message, retryable=True
        )
    except SfmcFatalError as exc:
        if exc.status != 400:
            raise
        body = _error_body(exc)
        message = str(body.get("message") or exc.message)
        if "event definition key" in message.casefold():
            raise
        return RowOutcome(ok=False, error_type=_event_error_type(body), error_details=message)
    return RowOutcome(ok=True)


def _event_error_type(body: Mapping[str, Any]) -> str:
    code = str(body.get("errorcode") or "")
    return {
        "10002": "NullValue",
        "10005": "InvalidValue",
        "10001": "InvalidValue",
        "30000": "EventRefused",
    }.get(code, "UnexpectedError")


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
        SfmcFatalError: the event definition key is unknown, or the request is refused as a whole.
    """
    if not members:
        return []
    if not use_batch:
        return [fire_entry_event(client, event_definition_key, k, d) for k, d in members]
    outcomes: list[RowOutcome] = []
    for start in range(0, len(members), EVENT_BATCH_MAX):
        chunk = members[start : start + EVENT_BATCH_MAX]
        try:
            outcomes.extend(_fire_batch(client, event_definition_key, chunk))
        except SfmcFatalError as exc:
            if exc.status != 404:
                raise
            rest = members[start:]
            outcomes.extend(fire_entry_event(client, event_definition_key, k, d) for k, d in rest)
            break
    return outcomes


def _fire_batch(
    client: SfmcClient, event_definition_key: str, chunk: Sequence[tuple[str, Mapping[str, object]]]
) -> list[RowOutcome]:
    body = _call(
        client,
        "POST",
        "/interaction/v1/async/events",
        json={
            "eventDefinitionKey": event_definition_key,
            "members": [{"contactKey": k, "data": dict(d)} for k, d in chunk],
        },
        operation="send journey entry events",
    )
    body = body or {}
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
        else:
            outcomes.append(RowOutcome(ok=True))
            if member.get("eventInstanceId"):
                by_instance[str(member["eventInstanceId"])] = i
    request_id = body.get("requestId")
    if request_id and by_instance:
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
        body = _call(
            client,
            "GET",
            "/interaction/v1/async/events/status",
            params={"requestId": request_id, "type": "errored", "$page": page, "$pageSize": 50},
            operation="read the status of journey entry events",
        )
        batch = (body or {}).get("items") or []
        items.extend(batch)
        if not batch or page * 50 >= int((body or {}).get("count") or 0):
            return items
        page += 1
