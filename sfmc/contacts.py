"""SFMC Contacts: attribute set definitions, contact upserts, and the contact-key rules.

Facts: `reference/sfmc-contacts-journeys.md`. Every call goes through the client's choke point
(`SfmcTransport._rest` / `_rest_pages`). Refusals of single contacts come back as `RowOutcome`s.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sfmc.errors import SfmcRetriableError
from sfmc.outcomes import unexpected
from sfmc.types import DeField, RowOutcome

if TYPE_CHECKING:
    from sfmc.client import SfmcClient

CONTACT_KEY_MAX = 254
ATTRIBUTE_SETS_PAGE = 200
_KEY_BREAKERS = re.compile(r"[:\x00-\x1f\x7f]")

# Contacts attribute data types -> DE field types, for preflight with the field-type rules.
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


def _name_of(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("value", ""))
    return str(value or "")


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
    for item in client._rest_pages(
        "/contacts/v1/attributeSetDefinitions",
        page_size=ATTRIBUTE_SETS_PAGE,
        operation="list attribute set definitions",
        scope="list_and_subscribers_read",
    ):
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
    return result


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
        if value is None or value == "":
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
        status, body = client._rest(
            "POST",
            "/contacts/v1/contacts",
            json=contact_payload(contact_key, values),
            operation="upsert contact",
            scope="list_and_subscribers_write",
            return_on=frozenset({400}),
        )
    except SfmcRetriableError as exc:
        return unexpected(exc.message)
    # A partial failure can come back 200 with hasErrors (the good attribute sets were saved):
    # the contact is reported refused with SFMC's messages, never counted as written.
    failed = body.get("hasErrors") is True or str(body.get("operationStatus") or "OK") != "OK"
    if status == 400 or failed:
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
