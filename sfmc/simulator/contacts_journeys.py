"""Contacts API and Journey Builder entry events for the SFMC simulator.

Follows `reference/sfmc-contacts-journeys.md` (shared folder): attribute set definitions, contact
upserts with attribute sets, event definitions, single (`/interaction/v1/events`) and batch
(`/interaction/v1/async/events`) entry events with their status, scopes, SFMC's error envelopes,
fault knobs and an inspection API (`/_sim/contacts`, `/_sim/events`, `/_sim/eventdefinitions`).

The module is self-contained: `ContactsJourneys.dispatch(...)` takes a parsed request and returns a
`SimResponse`. The simulator's app registers `ROUTES` through its extension point and passes the
granted scopes of the bearer token; rows that entry events write land in the simulator's Data
Extension store through the small `EventDeStore` protocol.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Protocol

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule

from sfmc import fieldrules
from sfmc.simulator.state import SimDE, Tenant
from sfmc.types import DeField

if TYPE_CHECKING:
    from werkzeug.wrappers import Response

    from sfmc.simulator.app import Call, Router

CONTACT_KEY_MAX = 254
EVENT_BATCH_MAX = 100
EVENT_DEFINITIONS_PAGE_MAX = 50
API_EVENT_APP_ID = "7db1f972-f8b7-49b6-91b5-fa218e13953d"
_DOC_URL = "https://developer.salesforce.com/docs"
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_BOOL_TEXT = {"true", "false", "1", "0", "yes", "no", "y", "n"}

READ_CONTACTS = "list_and_subscribers_read"
WRITE_CONTACTS = "list_and_subscribers_write"
READ_JOURNEYS = "journeys_read"


# --------------------------------------------------------------------------------------- data


@dataclass
class Attribute:
    """One attribute of an attribute set definition (display name is what requests use)."""

    name: str
    data_type: str = (
        "Text"  # Text | EmailAddress | Boolean | Date | Number | LongNumber | Decimal | Phone
    )
    length: int | None = None
    is_primary_key: bool = False
    is_nullable: bool = True
    is_read_only: bool = False
    key: str = ""
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def to_json(self, set_name: str, display_order: int) -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": self.id,
            "key": self.key or self.name.replace(" ", ""),
            "name": {"value": self.name},
            "storageName": "_" + (self.key or self.name.replace(" ", "")),
            "dataType": self.data_type,
            "isPrimaryKey": self.is_primary_key,
            "isNullable": self.is_nullable,
            "isReadOnly": self.is_read_only,
            "isUpdateable": not self.is_read_only,
            "isSystemDefined": False,
            "isIdentityValue": False,
            "isHidden": False,
            "displayOrder": display_order,
            "fullyQualifiedName": f"{set_name}.{self.name}",
            "parentType": "Set",
            "objectState": "Created",
        }
        if self.length is not None:
            item["length"] = self.length
        return item


@dataclass
class AttributeSet:
    """An attribute set definition (system sets and custom DE-backed sets)."""

    name: str
    key: str
    attributes: list[Attribute]
    is_system_defined: bool = True
    storage_logical_type: str = "EnterpriseAttributes"
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def attribute(self, name: str) -> Attribute | None:
        wanted = name.casefold()
        return next((a for a in self.attributes if a.name.casefold() == wanted), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key": self.key,
            "name": {"value": self.name},
            "fullyQualifiedName": self.name,
            "storageLogicalType": self.storage_logical_type,
            "isRoot": False,
            "isSendable": False,
            "isShared": False,
            "isEvent": False,
            "relationships": [],
            "attributes": [a.to_json(self.name, i + 1) for i, a in enumerate(self.attributes)],
            "canAddValues": not self.is_system_defined,
            "isSystemDefined": self.is_system_defined,
            "canRemove": not self.is_system_defined,
            "canModify": not self.is_system_defined,
            "isReadOnly": False,
            "links": {"self": {"href": f"/v1/attributeSetDefinitions/{self.id}"}},
            "objectState": "Created",
        }


@dataclass
class EventDefinition:
    """A Journey Builder API event definition and the Data Extension its events write to."""

    name: str
    event_definition_key: str
    data_extension_key: str
    data_extension_name: str
    data_extension_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    type: str = "APIEvent"
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    published_interaction_count: int = 1

    def to_json(self) -> dict[str, Any]:
        zero = "00000000-0000-0000-0000-000000000000"
        return {
            "id": self.id,
            "type": self.type,
            "name": self.name,
            "description": "",
            "mode": "Production",
            "eventDefinitionKey": self.event_definition_key,
            "dataExtensionId": self.data_extension_id,
            "dataExtensionName": self.data_extension_name,
            "sourceApplicationExtensionId": API_EVENT_APP_ID,
            "iconUrl": "/images/icon_journeyBuilder-event-api-blue.svg",
            "arguments": {
                "serializedObjectType": 11,
                "eventDefinitionKey": self.event_definition_key,
                "eventDefinitionId": self.id,
                "dataExtensionId": zero,
            },
            "configurationArguments": {},
            "metaData": {"scheduleState": "No Schedule"},
            "interactionCount": self.published_interaction_count,
            "publishedInteractionCount": self.published_interaction_count,
            "isVisibleInPicker": True,
            "isPlatformObject": False,
            "category": "Event",
            "automationId": zero,
            "disableDEDataLogging": False,
            "createdDate": "2024-01-15T09:30:00",
            "modifiedDate": "2024-01-15T09:30:00",
        }


@dataclass
class Contact:
    contact_key: str
    contact_id: int
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    created: str = ""
    modified: str = ""


@dataclass
class FiredEvent:
    event_instance_id: str
    event_definition_key: str
    contact_key: str
    data: dict[str, Any]
    source: str  # "single" | "async"
    request_id: str | None = None
    status: str = "processed"  # processed | errored | queued
    errorcode: str | None = None
    message: str | None = None
    modified: str = ""


@dataclass
class Faults:
    """Run-time fault knobs for these routes (`POST /_sim/contacts_journeys/faults`).

    Attributes:
        server_errors: the next N requests to Contacts/Journey routes answer 500.
        throttle: the next N requests answer 429 / 50100 with `Retry-After`.
        inactive_contacts: contact keys whose entry events fail ("contact is not active").
        rejected_contacts: contact keys that the Contacts API refuses (InvalidValue).
        strict_contacts: enforce the documented rule that a new contact needs "Email Addresses".
        async_unavailable: the batch events route answers 404 (an older tenant).
    """

    server_errors: int = 0
    throttle: int = 0
    retry_after: int = 5
    inactive_contacts: set[str] = field(default_factory=set)
    rejected_contacts: set[str] = field(default_factory=set)
    strict_contacts: bool = False
    async_unavailable: bool = False


class EventDeStore(Protocol):
    """What entry events need from the simulator's Data Extension store."""

    def event_de_fields(self, customer_key: str) -> Sequence[DeField] | None:
        """Fields of the DE, or None when it does not exist."""

    def event_de_insert(self, customer_key: str, row: Mapping[str, str | None]) -> None:
        """Append one row (already validated and canonicalised)."""

    def event_de_create(self, name: str, customer_key: str, fields: Sequence[DeField]) -> None:
        """Create the DE if it does not exist."""


class LocalDeStore:
    """In-memory stand-in used when no Data Extension store is attached (unit use)."""

    def __init__(self) -> None:
        self.fields: dict[str, tuple[DeField, ...]] = {}
        self.rows: dict[str, list[dict[str, str | None]]] = {}

    def event_de_fields(self, customer_key: str) -> Sequence[DeField] | None:
        return self.fields.get(customer_key.casefold())

    def event_de_insert(self, customer_key: str, row: Mapping[str, str | None]) -> None:
        self.rows.setdefault(customer_key.casefold(), []).append(dict(row))

    def event_de_create(self, name: str, customer_key: str, fields: Sequence[DeField]) -> None:
        self.fields.setdefault(customer_key.casefold(), tuple(fields))


class TenantDeStore:
    """`EventDeStore` over the simulator's tenant: event rows land in real simulated DEs."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    def event_de_fields(self, customer_key: str) -> Sequence[DeField] | None:
        with self.tenant.lock:
            de = self.tenant.get_de(customer_key)
            return None if de is None else tuple(de.fields)

    def event_de_insert(self, customer_key: str, row: Mapping[str, str | None]) -> None:
        with self.tenant.lock:
            de = self.tenant.get_de(customer_key)
            if de is not None:
                # Entry-event DEs usually have no primary key (every event is a new row).
                de.save_row(row, mode="upsert" if de.pk_indexes else "insert")

    def event_de_create(self, name: str, customer_key: str, fields: Sequence[DeField]) -> None:
        with self.tenant.lock:
            if self.tenant.get_de(customer_key) is None:
                self.tenant.add_de(
                    SimDE(customer_key, name, self.tenant.root_folder_id, list(fields))
                )


@dataclass(frozen=True)
class SimResponse:
    status: int
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()


# ------------------------------------------------------------------------------ value checks


def check_typed_value(
    data_type: str, value: object, *, length: int | None = None
) -> tuple[str | None, str | None]:
    """Validate one value against a Contacts/DE data type.

    Returns:
        (canonical string, None) when the value is acceptable, else (None, reason).
    """
    if value is None or value == "":
        return None, None
    text = str(value).strip() if not isinstance(value, bool) else ("True" if value else "False")
    kind = data_type.casefold()
    if kind in ("text", "phone", "locale"):
        if length is not None and len(text) > length:
            return None, f"exceeds the maximum length of {length} characters"
        return text, None
    if kind in ("emailaddress", "email"):
        if len(text) > (length or 254) or not _EMAIL_RE.match(text):
            return None, "is not a valid email address"
        return text, None
    if kind == "boolean":
        if text.casefold() not in _BOOL_TEXT:
            return None, "is not a valid boolean"
        return ("True" if text.casefold() in ("true", "1", "yes", "y") else "False"), None
    if kind in ("number", "longnumber", "byte"):
        if isinstance(value, bool) or not re.fullmatch(r"[+-]?\d+", text):
            return None, "is not a valid number"
        return str(int(text)), None
    if kind == "decimal":
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None, "is not a valid decimal"
        if not number.is_finite():
            return None, "is not a valid decimal"
        return str(number), None
    if kind == "date":
        for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d", "%m/%d/%Y", "%m/%d/%Y %I:%M:%S %p"):
            try:
                parsed = datetime.strptime(text[:19] if "T" in text else text, fmt)
            except ValueError:
                continue
            return parsed.strftime("%-m/%-d/%Y %-I:%M:%S %p"), None
        return None, "is not a valid date"
    return text, None


def contact_key_problem(key: object) -> tuple[str, str] | None:
    """SFMC's contact key rules: (resultCode, message) when `key` is not acceptable."""
    if key is None or (isinstance(key, str) and not key.strip()):
        return "ContactKeyRequired", "A contactKey or contactID is required."
    text = str(key)
    if len(text) > CONTACT_KEY_MAX:
        return (
            "ContactKeyInvalid",
            f"Contact key is {len(text)} characters long; the limit is {CONTACT_KEY_MAX}.",
        )
    if ":" in text:
        return "ContactKeyInvalid", "Contact key must not contain a colon (:)."
    return None


# ------------------------------------------------------------------------------------ state


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0-00:00")


def _guid() -> str:
    return str(uuid.uuid4())


def _error(status: int, message: str, errorcode: int, **extra: Any) -> SimResponse:
    body = {"message": message, "errorcode": errorcode, "documentation": ""} | extra
    return SimResponse(status, body)


def _contacts_envelope(**fields: Any) -> dict[str, Any]:
    return {
        "requestServiceMessageID": _guid(),
        "responseDateTime": _now(),
        "resultMessages": [],
        "serviceMessageID": _guid(),
    } | fields


ROUTES = Map(
    [
        Rule("/contacts/v1/attributeSetDefinitions", methods=["GET"], endpoint="list_sets"),
        Rule("/contacts/v1/attributeSetDefinitions/<ref>", methods=["GET"], endpoint="get_set"),
        Rule("/contacts/v1/contacts", methods=["POST", "PATCH"], endpoint="upsert_contact"),
        Rule("/interaction/v1/eventDefinitions", methods=["GET"], endpoint="list_event_defs"),
        Rule("/interaction/v1/eventDefinitions/<ref>", methods=["GET"], endpoint="get_event_def"),
        Rule("/interaction/v1/events", methods=["POST"], endpoint="fire_event"),
        Rule("/interaction/v1/async/events", methods=["POST"], endpoint="fire_async"),
        Rule("/interaction/v1/async/events/status", methods=["GET"], endpoint="async_status"),
        # Inspection API, outside SFMC's paths; no token needed.
        Rule("/_sim/contacts", methods=["GET"], endpoint="sim_contacts"),
        Rule("/_sim/attributesets", methods=["GET", "POST"], endpoint="sim_sets"),
        Rule("/_sim/events", methods=["GET"], endpoint="sim_events"),
        Rule("/_sim/eventdefinitions", methods=["GET", "POST"], endpoint="sim_event_defs"),
        Rule("/_sim/eventdefinitions/<key>", methods=["DELETE"], endpoint="sim_delete_event_def"),
        Rule("/_sim/contacts_journeys/faults", methods=["POST"], endpoint="sim_faults"),
        Rule("/_sim/contacts_journeys/reset", methods=["POST"], endpoint="sim_reset"),
    ]
)

# Scope each SFMC route needs (reference §4). Async events: not in the 2022 table, use journeys_read.
ROUTE_SCOPES: dict[str, str] = {
    "list_sets": READ_CONTACTS,
    "get_set": READ_CONTACTS,
    "upsert_contact": WRITE_CONTACTS,
    "list_event_defs": READ_JOURNEYS,
    "get_event_def": READ_JOURNEYS,
    "fire_event": READ_JOURNEYS,
    "fire_async": READ_JOURNEYS,
    "async_status": READ_JOURNEYS,
}


def is_inspection(endpoint: str) -> bool:
    """Whether an endpoint belongs to the inspection API (no bearer token)."""
    return endpoint.startswith("sim_")


class ContactsJourneys:
    """The Contacts + Journey Builder part of one simulated tenant (thread-safe)."""

    def __init__(self, *, de_store: EventDeStore | None = None, seed: str | None = None) -> None:
        self.de_store: EventDeStore = de_store or LocalDeStore()
        self._lock = threading.RLock()
        self._seed = seed
        self.reset()

    # ------------------------------------------------------------------ lifecycle and seed
    def reset(self) -> None:
        """Forget contacts, events and faults; re-create the system attribute sets (and seed)."""
        with self._lock:
            self.attribute_sets: list[AttributeSet] = list(system_attribute_sets())
            self.contacts: dict[str, Contact] = {}
            self.event_definitions: dict[str, EventDefinition] = {}
            self.events: list[FiredEvent] = []
            self.faults = Faults()
            self._contact_ids = itertools.count(48_120_331)
            if self._seed == "demo":
                self.seed_demo()

    def seed_demo(self) -> None:
        """A custom "Donor Profile" attribute set and two API event definitions with their DEs."""
        with self._lock:
            self.attribute_sets.append(
                AttributeSet(
                    name="Donor Profile",
                    key="DonorProfile",
                    is_system_defined=False,
                    storage_logical_type="DataExtension",
                    attributes=[
                        Attribute("Donor Segment", "Text", length=100),
                        Attribute("Lifetime Giving", "Decimal"),
                        Attribute("Last Gift Date", "Date"),
                        Attribute("Monthly Donor", "Boolean"),
                    ],
                )
            )
            for definition, fields in demo_event_definitions():
                self.add_event_definition(definition, fields)

    def add_event_definition(
        self, definition: EventDefinition, fields: Sequence[DeField] | None = None
    ) -> EventDefinition:
        """Register an event definition; creates its DE with `fields` when given."""
        with self._lock:
            if fields is not None:
                self.de_store.event_de_create(
                    definition.data_extension_name, definition.data_extension_key, fields
                )
            self.event_definitions[definition.event_definition_key.casefold()] = definition
            return definition

    # ------------------------------------------------------------------------ dispatch
    def dispatch(
        self,
        endpoint: str,
        method: str,
        args: Mapping[str, str],
        query: Mapping[str, str],
        body: bytes,
        scopes: Iterable[str] | None,
    ) -> SimResponse:
        """Answer one request routed to `endpoint` by `ROUTES`.

        `scopes` are the scopes of the bearer token (None = every scope); the caller has already
        checked that the token is valid. Inspection endpoints ignore it.
        """
        if not is_inspection(endpoint):
            needed = ROUTE_SCOPES[endpoint]
            if scopes is not None and needed not in set(scopes):
                return _error(403, "Insufficient privileges to complete this action.", 20002)
            injected = self._injected_fault(endpoint)
            if injected is not None:
                return injected
        handler: Callable[..., SimResponse] = getattr(self, "_h_" + endpoint)
        payload: Any = None
        if method in ("POST", "PATCH", "PUT") and body:
            try:
                payload = json.loads(body)
            except ValueError:
                return _error(400, "The request body is not valid JSON.", 10004)
        with self._lock:
            return handler(method=method, args=args, query=query, payload=payload)

    def handle_path(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        body: bytes,
        scopes: Iterable[str] | None,
    ) -> SimResponse | None:
        """Route `path` with `ROUTES` and dispatch; None when the path is not ours."""
        adapter = ROUTES.bind("localhost")
        try:
            endpoint, args = adapter.match(path, method=method)
        except MethodNotAllowed:
            return _error(405, f"Method {method} is not allowed on {path}.", 30001)
        except NotFound:
            return None
        return self.dispatch(str(endpoint), method, args, query, body, scopes)

    def _injected_fault(self, endpoint: str) -> SimResponse | None:
        with self._lock:
            if endpoint == "fire_async" and self.faults.async_unavailable:
                return _error(404, "Resource not found.", 30003)
            if self.faults.throttle > 0:
                self.faults.throttle -= 1
                after = self.faults.retry_after
                body = {
                    "message": "Too many requests.",
                    "errorcode": 50100,
                    "documentation": _DOC_URL,
                    "retryAfter": after,
                }
                return SimResponse(429, body, (("Retry-After", str(after)),))
            if self.faults.server_errors > 0:
                self.faults.server_errors -= 1
                return _error(500, "An unexpected error occurred.", 30000)
        return None

    # -------------------------------------------------------------------- attribute sets
    def _h_list_sets(self, *, query: Mapping[str, str], **_: Any) -> SimResponse:
        page, size = _paging(query, default_size=50, max_size=500)
        items = [s.to_json() for s in self.attribute_sets]
        body = _contacts_envelope(
            page=page,
            pageSize=size,
            count=len(items),
            items=items[(page - 1) * size : page * size],
            links={
                "self": {"href": "/v1/attributeSetDefinitions"},
                "schema": {"href": "/v1/schema"},
            },
        )
        return SimResponse(200, body)

    def _h_get_set(self, *, args: Mapping[str, str], **_: Any) -> SimResponse:
        ref = args["ref"]
        found = None
        for aset in self.attribute_sets:
            if ref == aset.id or ref.casefold() in (
                f"key:{aset.key}".casefold(),
                f"name:{aset.name}".casefold(),
            ):
                found = aset
        if found is None:
            return _error(404, f"Attribute set definition '{ref}' was not found.", 30003)
        return SimResponse(200, _contacts_envelope(item=found.to_json()))

    def find_set(self, name: str) -> AttributeSet | None:
        wanted = name.casefold()
        return next((s for s in self.attribute_sets if s.name.casefold() == wanted), None)

    # -------------------------------------------------------------------------- contacts
    def _h_upsert_contact(self, *, payload: Any, **_: Any) -> SimResponse:
        if not isinstance(payload, dict):
            return _error(400, "The request body must be a JSON object.", 10004)
        lowered = {str(k).casefold(): v for k, v in payload.items()}
        key = lowered.get("contactkey")
        contact_id = lowered.get("contactid")
        messages: list[dict[str, Any]] = []
        if key is None and contact_id is not None:
            key = next(
                (
                    c.contact_key
                    for c in self.contacts.values()
                    if str(c.contact_id) == str(contact_id)
                ),
                None,
            )
            if key is None:
                return self._contact_fail(
                    str(contact_id),
                    [_msg("ContactKeyInvalid", "Contact '{0}' was not found.", str(contact_id))],
                )
        problem = contact_key_problem(key)
        if problem is not None:
            code, text = problem
            return self._contact_fail(str(key or ""), [_msg(code, text)])
        key = str(key)
        if key in self.faults.rejected_contacts:
            return self._contact_fail(
                key, [_msg("InvalidValue", "Contact '{0}' cannot be updated.", key)]
            )
        sets = lowered.get("attributesets")
        if not isinstance(sets, list):
            return self._contact_fail(
                key, [_msg("RequiredAttributeMissing", "attributeSets is required.")]
            )
        updates: dict[str, dict[str, str | None]] = {}
        for entry in sets:
            set_name = str((entry or {}).get("name", "")) if isinstance(entry, dict) else ""
            aset = self.find_set(set_name)
            if aset is None:
                messages.append(
                    _msg("AttributeSetNotFound", "Attribute set '{0}' was not found.", set_name)
                )
                continue
            if aset.name in updates:
                messages.append(
                    _msg(
                        "DuplicateAttributeSet",
                        "Attribute set '{0}' appears more than once.",
                        aset.name,
                    )
                )
                continue
            values: dict[str, str | None] = {}
            for item in entry.get("items") or []:
                for pair in (item or {}).get("values") or []:
                    attr_name = str((pair or {}).get("name", ""))
                    attr = aset.attribute(attr_name)
                    if attr is None:
                        messages.append(
                            _msg(
                                "AttributeNotFound",
                                "Attribute '{0}' was not found in attribute set '{1}'.",
                                attr_name,
                                aset.name,
                            )
                        )
                        continue
                    if attr.is_read_only:
                        messages.append(
                            _msg(
                                "InvalidValue",
                                "Attribute '{0}' of '{1}' is read-only.",
                                attr.name,
                                aset.name,
                            )
                        )
                        continue
                    canonical, reason = check_typed_value(
                        attr.data_type, pair.get("value"), length=attr.length
                    )
                    if reason is not None:
                        messages.append(
                            _msg(
                                "InvalidValue",
                                "Value for attribute '{0}.{1}' " + reason + ".",
                                aset.name,
                                attr.name,
                            )
                        )
                        continue
                    values[attr.name] = canonical
            updates[aset.name] = values
        existing = self.contacts.get(key)
        if existing is None:
            for aset_name, values in updates.items():
                aset = self.find_set(aset_name)
                assert aset is not None
                missing = [
                    a.name
                    for a in aset.attributes
                    if not a.is_nullable and not a.is_read_only and values.get(a.name) in (None, "")
                ]
                if missing:
                    messages.append(
                        _msg(
                            "RequiredAttributeMissing",
                            "Attribute set '{0}' needs a value for {1}.",
                            aset.name,
                            ", ".join(missing),
                        )
                    )
            if self.faults.strict_contacts and "Email Addresses" not in updates:
                messages.append(
                    _msg(
                        "RequiredAttributeMissing",
                        "A new contact needs the '{0}' attribute set.",
                        "Email Addresses",
                    )
                )
        if messages:
            return self._contact_fail(key, messages)
        now = _now()
        is_new = existing is None
        if existing is None:
            existing = Contact(key, next(self._contact_ids), created=now)
            self.contacts[key] = existing
        existing.modified = now
        for aset_name, values in updates.items():
            existing.attributes.setdefault(aset_name, {}).update(values)
        body = _contacts_envelope(
            operationStatus="OK",
            rowsAffected=1,
            contactKey=key,
            contactID=existing.contact_id,
            contactTypeID=0,
            isNewContactKey=is_new,
            hasErrors=False,
        )
        return SimResponse(200, body)

    def _contact_fail(self, key: str, messages: list[dict[str, Any]]) -> SimResponse:
        body = _contacts_envelope(
            operationStatus="FAIL",
            rowsAffected=0,
            contactKey=key,
            isNewContactKey=False,
            hasErrors=True,
        )
        body["resultMessages"] = messages
        return SimResponse(400, body)

    # ------------------------------------------------------------------ event definitions
    def _h_list_event_defs(self, *, query: Mapping[str, str], **_: Any) -> SimResponse:
        page, size = _paging(query, default_size=50, max_size=EVENT_DEFINITIONS_PAGE_MAX)
        name = (query.get("name") or "").casefold()
        items = [
            d.to_json()
            for d in self.event_definitions.values()
            if not name or name in d.name.casefold()
        ]
        body = {
            "count": len(items),
            "page": page,
            "pageSize": size,
            "links": {},
            "items": items[(page - 1) * size : page * size],
        }
        return SimResponse(200, body)

    def _h_get_event_def(self, *, args: Mapping[str, str], **_: Any) -> SimResponse:
        ref = args["ref"]
        if ref.casefold().startswith("key:"):
            definition = self.event_definitions.get(ref[4:].casefold())
        else:
            definition = next((d for d in self.event_definitions.values() if d.id == ref), None)
        if definition is None:
            return _error(400, f"Event definition '{ref}' was not found.", 30000)
        return SimResponse(200, definition.to_json())

    # ------------------------------------------------------------------------------ events
    def _validate_event(
        self, definition: EventDefinition, contact_key: str, data: Any
    ) -> tuple[dict[str, str | None] | None, int, str]:
        """Check `Data` against the event's DE; returns (row, 0, "") or (None, errorcode, message)."""
        if contact_key in self.faults.inactive_contacts:
            return None, 30000, f"Contact '{contact_key}' is not active."
        if data is None:
            data = {}
        if not isinstance(data, dict):
            return None, 10001, "Data must be a JSON object."
        fields = self.de_store.event_de_fields(definition.data_extension_key)
        if fields is None:
            return (
                None,
                30000,
                f"The data extension '{definition.data_extension_name}' of event definition "
                f"'{definition.event_definition_key}' was not found.",
            )
        by_name = {f.name.casefold(): f for f in fields}
        row: dict[str, str | None] = {}
        for name, value in data.items():
            if str(name).casefold() == "eventinstanceid":
                continue  # reserved: ignored by SFMC
            de_field = by_name.get(str(name).casefold())
            if de_field is None:
                return (
                    None,
                    10005,
                    f"Data field '{name}' does not exist in data extension "
                    f"'{definition.data_extension_name}'.",
                )
            violation = fieldrules.check_value(de_field, value)
            if violation is not None:
                return None, 10005, violation.message
            row[de_field.name] = fieldrules.canonical(de_field, value)
        for de_field in fields:
            if de_field.name not in row:
                violation = fieldrules.check_value(de_field, None)
                if violation is not None:
                    return None, 10002, violation.message
        return row, 0, ""

    def _h_fire_event(self, *, payload: Any, **_: Any) -> SimResponse:
        if not isinstance(payload, dict):
            return _error(400, "The request body must be a JSON object.", 10004)
        lowered = {str(k).casefold(): v for k, v in payload.items()}
        contact_key = lowered.get("contactkey")
        def_key = lowered.get("eventdefinitionkey")
        if not def_key:
            return _error(400, "EventDefinitionKey is required.", 10002)
        if not contact_key:
            return _error(400, "ContactKey is required.", 10002)
        definition = self.event_definitions.get(str(def_key).casefold())
        if definition is None:
            return _error(400, f"Event definition key '{def_key}' was not found.", 30000)
        row, code, message = self._validate_event(definition, str(contact_key), lowered.get("data"))
        if row is None:
            return _error(400, message, code)
        self.de_store.event_de_insert(definition.data_extension_key, row)
        fired = FiredEvent(
            _guid(),
            definition.event_definition_key,
            str(contact_key),
            dict(lowered.get("data") or {}),
            "single",
            modified=_now(),
        )
        self.events.append(fired)
        return SimResponse(201, {"eventInstanceId": fired.event_instance_id})

    def _h_fire_async(self, *, payload: Any, **_: Any) -> SimResponse:
        if not isinstance(payload, dict):
            return _error(400, "The request body must be a JSON object.", 10004)
        lowered = {str(k).casefold(): v for k, v in payload.items()}
        def_key = lowered.get("eventdefinitionkey")
        members = lowered.get("members")
        if not def_key:
            return _error(400, "eventDefinitionKey is required.", 10002)
        if not isinstance(members, list) or not members:
            return _error(400, "members is required and must hold at least one member.", 10002)
        if len(members) > EVENT_BATCH_MAX:
            return _error(
                400,
                f"A request can hold at most {EVENT_BATCH_MAX} members; it held {len(members)}.",
                10005,
            )
        definition = self.event_definitions.get(str(def_key).casefold())
        if definition is None:
            return _error(400, f"Event definition key '{def_key}' was not found.", 30000)
        request_id = _guid()
        out: list[dict[str, Any]] = []
        not_queued = 0
        for member in members:
            member_l = (
                {str(k).casefold(): v for k, v in member.items()}
                if isinstance(member, dict)
                else {}
            )
            contact_key = member_l.get("contactkey")
            if not contact_key:
                not_queued += 1
                out.append(
                    {
                        "contactKey": contact_key or "",
                        "errorcode": "10002",
                        "message": "contactKey is required.",
                    }
                )
                continue
            fired = FiredEvent(
                _guid(),
                definition.event_definition_key,
                str(contact_key),
                dict(member_l.get("data") or {}) if isinstance(member_l.get("data"), dict) else {},
                "async",
                request_id=request_id,
                modified=_now(),
            )
            # Queued now, processed at once: DE validation failures surface in the status, as in
            # SFMC where the member is accepted first and errored during processing.
            row, code, message = self._validate_event(
                definition, str(contact_key), member_l.get("data")
            )
            if row is None:
                fired.status, fired.errorcode, fired.message = "errored", str(code), message
            else:
                self.de_store.event_de_insert(definition.data_extension_key, row)
            self.events.append(fired)
            out.append(
                {"contactKey": fired.contact_key, "eventInstanceId": fired.event_instance_id}
            )
        body = {
            "requestId": request_id,
            "count": len(members),
            "notQueuedCount": not_queued,
            "members": out,
        }
        return SimResponse(202, body)

    def _h_async_status(self, *, query: Mapping[str, str], **_: Any) -> SimResponse:
        filters = {
            "type": query.get("type"),
            "contactKey": query.get("contactKey"),
            "requestId": query.get("requestId"),
            "eventInstanceId": query.get("eventInstanceId"),
            "eventDefinitionKey": query.get("eventDefinitionKey"),
        }
        if not any(filters.values()):
            return _error(
                400,
                "Provide at least one of type, contactKey, requestId, eventInstanceId or "
                "eventDefinitionKey.",
                10002,
            )
        page, size = _paging(query, default_size=50, max_size=500)
        matched = [
            e
            for e in self.events
            if e.source == "async"
            and (not filters["type"] or e.status == filters["type"])
            and (not filters["contactKey"] or e.contact_key == filters["contactKey"])
            and (not filters["requestId"] or e.request_id == filters["requestId"])
            and (
                not filters["eventInstanceId"] or e.event_instance_id == filters["eventInstanceId"]
            )
            and (
                not filters["eventDefinitionKey"]
                or e.event_definition_key.casefold() == filters["eventDefinitionKey"].casefold()
            )
        ]
        items = [
            {
                "requestId": e.request_id,
                "eventInstanceId": e.event_instance_id,
                "contactKey": e.contact_key,
                "eventDefinitionKey": e.event_definition_key,
                "status": e.status,
                "modifiedDate": e.modified,
            }
            | ({"errorcode": e.errorcode, "message": e.message} if e.status == "errored" else {})
            for e in matched
        ]
        body = {
            "page": page,
            "pageSize": size,
            "count": len(items),
            "items": items[(page - 1) * size : page * size],
        }
        return SimResponse(200, body)

    # ------------------------------------------------------------------------- inspection
    def _h_sim_contacts(self, **_: Any) -> SimResponse:
        items = [
            {
                "contactKey": c.contact_key,
                "contactID": c.contact_id,
                "attributeSets": {k: dict(v) for k, v in c.attributes.items()},
            }
            for c in self.contacts.values()
        ]
        return SimResponse(200, {"count": len(items), "items": items})

    def _h_sim_sets(self, *, method: str, payload: Any, **_: Any) -> SimResponse:
        if method == "POST":
            if not isinstance(payload, dict) or not payload.get("name"):
                return SimResponse(400, {"message": "Send {name, key, attributes:[...]}."})
            attrs = [
                Attribute(
                    a["name"],
                    a.get("dataType", "Text"),
                    length=a.get("length"),
                    is_nullable=a.get("isNullable", True),
                    is_read_only=a.get("isReadOnly", False),
                )
                for a in payload.get("attributes", [])
            ]
            aset = AttributeSet(
                payload["name"],
                payload.get("key") or payload["name"].replace(" ", ""),
                attrs,
                is_system_defined=False,
                storage_logical_type="DataExtension",
            )
            self.attribute_sets.append(aset)
            return SimResponse(201, aset.to_json())
        return SimResponse(
            200,
            {
                "count": len(self.attribute_sets),
                "items": [s.to_json() for s in self.attribute_sets],
            },
        )

    def _h_sim_events(self, *, query: Mapping[str, str], **_: Any) -> SimResponse:
        key = (query.get("eventDefinitionKey") or "").casefold()
        items = [
            {
                "eventInstanceId": e.event_instance_id,
                "eventDefinitionKey": e.event_definition_key,
                "contactKey": e.contact_key,
                "data": e.data,
                "source": e.source,
                "requestId": e.request_id,
                "status": e.status,
                "errorcode": e.errorcode,
                "message": e.message,
            }
            for e in self.events
            if not key or e.event_definition_key.casefold() == key
        ]
        return SimResponse(200, {"count": len(items), "items": items})

    def _h_sim_event_defs(self, *, method: str, payload: Any, **_: Any) -> SimResponse:
        if method == "POST":
            if not isinstance(payload, dict) or not payload.get("eventDefinitionKey"):
                return SimResponse(
                    400,
                    {"message": "Send {name, eventDefinitionKey, dataExtensionKey, fields?}."},
                )
            fields = payload.get("fields")
            de_fields = (
                [
                    DeField(
                        f["name"],
                        f.get("type", "Text"),
                        max_length=f.get("maxLength"),
                        is_primary_key=f.get("isPrimaryKey", False),
                        is_required=f.get("isRequired", False),
                    )
                    for f in fields
                ]
                if fields is not None
                else None
            )
            de_key = payload.get("dataExtensionKey") or payload["eventDefinitionKey"][:36]
            definition = EventDefinition(
                payload.get("name") or payload["eventDefinitionKey"],
                payload["eventDefinitionKey"],
                de_key,
                payload.get("dataExtensionName") or de_key,
            )
            self.add_event_definition(definition, de_fields)
            return SimResponse(201, definition.to_json())
        items = [
            d.to_json() | {"dataExtensionKey": d.data_extension_key}
            for d in self.event_definitions.values()
        ]
        return SimResponse(200, {"count": len(items), "items": items})

    def _h_sim_delete_event_def(self, *, args: Mapping[str, str], **_: Any) -> SimResponse:
        removed = self.event_definitions.pop(args["key"].casefold(), None)
        return SimResponse(200 if removed else 404, {"deleted": bool(removed)})

    def _h_sim_faults(self, *, payload: Any, **_: Any) -> SimResponse:
        if not isinstance(payload, dict):
            return SimResponse(400, {"message": "Send a JSON object of fault knobs."})
        for name, value in payload.items():
            if not hasattr(self.faults, name):
                return SimResponse(400, {"message": f"Unknown fault knob {name!r}."})
            current = getattr(self.faults, name)
            setattr(self.faults, name, set(value) if isinstance(current, set) else value)
        return SimResponse(200, self.faults_json())

    def faults_json(self) -> dict[str, Any]:
        return {k: sorted(v) if isinstance(v, set) else v for k, v in asdict(self.faults).items()}

    def _h_sim_reset(self, **_: Any) -> SimResponse:
        self.reset()
        return SimResponse(200, {"reset": True})


# ---------------------------------------------------------------------------------- helpers


def _msg(code: str, template: str, *params: str) -> dict[str, Any]:
    return {
        "resultType": "Error",
        "resultClass": "Validation",
        "resultCode": code,
        "message": template.format(*params),
        "messageFormatString": template,
        "formatStringParams": list(params),
    }


def _paging(query: Mapping[str, str], *, default_size: int, max_size: int) -> tuple[int, int]:
    try:
        page = max(1, int(query.get("$page") or 1))
        size = int(query.get("$pageSize") or default_size)
    except ValueError:
        return 1, default_size
    return page, max(1, min(size, max_size))


def system_attribute_sets() -> list[AttributeSet]:
    """The system sets every tenant has (a trimmed "Email Addresses" and "Email Demographics")."""
    return [
        AttributeSet(
            name="Email Addresses",
            key="EmailAddresses",
            attributes=[
                Attribute("Email Address", "EmailAddress", length=254, is_nullable=False),
                Attribute("HTML Enabled", "Boolean", is_nullable=False),
            ],
        ),
        AttributeSet(
            name="Email Demographics",
            key="EmailDemographics",
            attributes=[
                Attribute("Contacts ID", "LongNumber", is_primary_key=True, is_read_only=True),
                Attribute("First Name", "Text", length=100),
                Attribute("Last Name", "Text", length=100),
                Attribute("Locale", "Text", length=10),
            ],
        ),
    ]


def demo_event_definitions() -> list[tuple[EventDefinition, list[DeField]]]:
    """Two API event definitions (welcome, lapsed reactivation) with their entry DEs."""
    welcome = EventDefinition(
        name="Pathways - Welcome Series",
        event_definition_key="APIEvent-3f2a9c1e-77d0-4b5e-9c1a-0d9e2b7c4a11",
        data_extension_key="pathways_welcome_entry",
        data_extension_name="Pathways Welcome Entry",
    )
    lapsed = EventDefinition(
        name="Pathways - Lapsed Donor Reactivation",
        event_definition_key="APIEvent-8b41d2f0-1c3e-4a5b-9d6f-7e8a9b0c1d22",
        data_extension_key="pathways_lapsed_entry",
        data_extension_name="Pathways Lapsed Entry",
    )
    welcome_fields = [
        DeField("ContactKey", "Text", max_length=254, is_required=True),
        DeField("EmailAddress", "EmailAddress", max_length=254),
        DeField("FirstName", "Text", max_length=100),
        DeField("AudienceName", "Text", max_length=100),
    ]
    lapsed_fields = [
        DeField("ContactKey", "Text", max_length=254, is_required=True),
        DeField("EmailAddress", "EmailAddress", max_length=254),
        DeField("LastGiftDate", "Date"),
        DeField("LifetimeGiving", "Decimal", precision=18, scale=2),
    ]
    return [(welcome, welcome_fields), (lapsed, lapsed_fields)]


# ------------------------------------------------------------------- simulator extension hook

EXTENSION_KEY = "contacts_journeys"


def state_of(tenant: Tenant) -> ContactsJourneys:
    """The Contacts/Journey state of a simulated tenant (installed by `register`)."""
    return tenant.extensions[EXTENSION_KEY]


def register(router: Router) -> None:
    """Add the Contacts and Journey routes to a simulator (its extension point calls this).

    SFMC routes get the simulator's whole pipeline (token, scope -> 403/20002, latency, rate
    limit, fault injection); inspection routes (`/_sim/...`) skip it.
    """
    sim = router.sim

    def install(tenant: Tenant) -> None:
        tenant.extensions[EXTENSION_KEY] = ContactsJourneys(
            de_store=TenantDeStore(tenant), seed=sim.config.seed
        )

    install(sim.state)
    router.on_reset(install)
    for rule in ROUTES.iter_rules():
        endpoint = str(rule.endpoint)
        methods = tuple(sorted(m for m in (rule.methods or ()) if m not in ("HEAD", "OPTIONS")))
        router.add(
            rule.rule,
            _handler(endpoint),
            methods=methods,
            kind="sim" if is_inspection(endpoint) else "rest",
            scope=ROUTE_SCOPES.get(endpoint),
            scope_status=403,
            endpoint=f"{'/'.join(methods)} {rule.rule}",
        )


def _handler(endpoint: str) -> Callable[[Call], Response]:
    def handle(call: Call) -> Response:
        cj = state_of(call.tenant)
        request = call.request
        answer = cj.dispatch(
            endpoint,
            request.method,
            call.args,
            dict(request.args.items()),
            request.get_data(),
            None,  # the pipeline has already checked the token's scope
        )
        from sfmc.simulator.app import json_response

        return json_response(answer.body, answer.status, dict(answer.headers))

    return handle
