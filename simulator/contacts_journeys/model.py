"""Contacts/Journey simulator: constants, records, responses and SFMC's message envelopes."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

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
    payload: Any = None  # a queued batch member's `data`, until it is processed
    due: float = 0.0  # when a queued batch member is processed (ContactsJourneys.clock)


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


@dataclass(frozen=True)
class SimResponse:
    status: int
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()


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
