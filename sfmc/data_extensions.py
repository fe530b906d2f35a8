"""Data Extensions: list, find (with fields), create, add fields, make sendable, delete.

Functions take the client (any `SfmcTransport`) first; `SfmcClient` exposes each as a method.
Schema rules are checked locally first (`sfmc.schema`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from sfmc import soap
from sfmc.errors import SfmcConfigError
from sfmc.responses import json_object
from sfmc.schema import check_new_data_extension, plan_field_changes, sendable_change_problems
from sfmc.transport import READ, WRITE, rest_path
from sfmc.types import EMAIL_ADDRESS, SUBSCRIBER_KEY, DataExtension, DeField, Sending

if TYPE_CHECKING:
    from sfmc.transport import SfmcTransport


def list_data_extensions(client: SfmcTransport) -> list[DataExtension]:
    """Every Data Extension in the business unit, without fields."""
    results = client._retrieve(
        "DataExtension", soap.DE_PROPERTIES, operation="list Data Extensions"
    )
    return [_de_from_result(r) for r in results]


def find_data_extension(
    client: SfmcTransport, *, customer_key: str | None = None, name: str | None = None
) -> DataExtension | None:
    """Find a DE by customer key or name, with its fields; None when absent."""
    if (customer_key is None) == (name is None):
        msg = "Give exactly one of customer_key or name to find a Data Extension."
        raise SfmcConfigError(msg, operation="find a Data Extension")
    prop, value = ("CustomerKey", customer_key) if customer_key is not None else ("Name", name)
    flt = soap.simple_filter(prop, "equals", value)
    found = next(
        iter(
            client._retrieve(
                "DataExtension", soap.DE_PROPERTIES, flt, operation="find a Data Extension"
            )
        ),
        None,
    )
    if found is None:
        return None
    de = _de_from_result(found)
    return DataExtension(**{**de.__dict__, "fields": tuple(_fields(client, de.customer_key))})


def find_data_extension_concurrently(
    client: SfmcTransport, customer_key: str
) -> DataExtension | None:
    """Like `find_data_extension` by key, but the DE and its fields are retrieved at once.

    The two SOAP retrieves are independent when the key is known (fields are filtered by
    `DataExtension.CustomerKey`), so the field retrieve runs on a second thread instead of
    waiting for the DE lookup: one SOAP round trip instead of two before every sync. The
    client is thread-safe (one token fetch, shared). The result is the same as
    `find_data_extension(client, customer_key=...)`; None when the DE is absent.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="de-fields") as pool:
        fields = pool.submit(_fields, client, customer_key)
        flt = soap.simple_filter("CustomerKey", "equals", customer_key)
        found = next(
            iter(
                client._retrieve(
                    "DataExtension", soap.DE_PROPERTIES, flt, operation="find a Data Extension"
                )
            ),
            None,
        )
        described = fields.result()
    if found is None:
        return None
    de = _de_from_result(found)
    return DataExtension(**{**de.__dict__, "fields": tuple(described)})


def _field_results(
    client: SfmcTransport, customer_key: str, properties: Sequence[str]
) -> Iterator[soap.SoapResult]:
    flt = soap.simple_filter("DataExtension.CustomerKey", "equals", customer_key)
    return client._retrieve("DataExtensionField", properties, flt, operation="describe fields")


def _fields(client: SfmcTransport, customer_key: str) -> list[DeField]:
    results = _field_results(client, customer_key, soap.FIELD_PROPERTIES)
    return [f for _, f in sorted((_field_from_result(r) for r in results), key=lambda p: p[0])]


def create_data_extension(client: SfmcTransport, de: DataExtension) -> DataExtension:
    """Create a DE (sendable when `de.sending` says so) after checking SFMC's rules locally.

    Raises:
        SfmcConfigError: a schema, send relationship or retention rule is broken (kind
            "schema"; the message says which and how to fix it).
        SfmcFatalError: SFMC refused it (for example, the name or key already exists).
    """
    check_new_data_extension(de)
    body = soap.create_data_extension(
        name=de.name,
        customer_key=de.customer_key,
        fields=de.fields,
        category_id=de.category_id,
        sending=de.sending,
        retention=de.retention,
    )
    result = client._soap_single("Create", body, operation=f"create Data Extension {de.name}")
    object_id = result.values.get("NewObjectID")
    return DataExtension(
        **{**de.__dict__, "object_id": str(object_id) if object_id else de.object_id}
    )


def add_fields(
    client: SfmcTransport, customer_key: str, fields: Sequence[DeField]
) -> DataExtension:
    """Add new fields (or lengthen Text fields) on an existing DE; identical fields are skipped.

    Raises:
        SfmcConfigError: the DE does not exist or a change breaks SFMC's rules.
    """
    current = find_data_extension(client, customer_key=customer_key)
    if current is None:
        msg = f"Data Extension '{customer_key}' does not exist: create it first."
        raise SfmcConfigError(msg, operation="add fields", kind="not_found")
    object_ids = _field_object_ids(client, customer_key) if fields else {}
    changes = plan_field_changes(
        current, fields, has_rows=lambda: _has_rows(client, customer_key), object_ids=object_ids
    )
    if changes:
        client._soap_single(
            "Update",
            soap.update_fields(customer_key, changes),
            operation=f"add fields to {customer_key}",
            scope=WRITE,
        )
    return find_data_extension(client, customer_key=customer_key) or current


def make_sendable(client: SfmcTransport, de: DataExtension, sending: Sending) -> DataExtension:
    """Turn an existing DE sendable on `sending` ("Used for Sending"), or testable.

    `de` is the DE as SFMC describes it (with its fields): the change is checked against what
    SFMC has, not against what the pathway maps, before the Update is sent.

    Raises:
        SfmcConfigError: kind "sendable_refused": SFMC would refuse the change (the field is
            missing, not required or of another type, or the DE is already sendable on another
            relationship); the message says what to do instead.
    """
    problems = sendable_change_problems(de, sending)
    if problems:
        raise SfmcConfigError(
            " ".join(problems),
            operation=f"make {de.customer_key} sendable",
            kind="sendable_refused",
        )
    client._soap_single(
        "Update",
        soap.update_sending(de.customer_key, sending),
        operation=f"make {de.customer_key} sendable",
        scope=WRITE,
    )
    return DataExtension(**{**de.__dict__, "sending": sending})


def _field_object_ids(client: SfmcTransport, customer_key: str) -> dict[str, str]:
    results = _field_results(client, customer_key, ("ObjectID", "Name"))
    return {
        str(r.values.get("Name", "")).lower(): str(r.values.get("ObjectID", "")) for r in results
    }


def _has_rows(client: SfmcTransport, customer_key: str) -> bool:
    resp = client._send(
        "GET",
        rest_path("data/v1/customobjectdata/key/{key}/rowset", key=customer_key),
        params={"$page": 1, "$pageSize": 1},
        operation=f"count rows of {customer_key}",
        scope=READ,
    )
    data = json_object(resp)
    return bool(data.get("items")) or int(data.get("count") or 0) > 0


def delete_data_extension(client: SfmcTransport, customer_key: str) -> None:
    """Delete a whole DE (rows and all)."""
    client._soap_single(
        "Delete",
        soap.delete_data_extension(customer_key),
        operation=f"delete Data Extension {customer_key}",
        scope=WRITE,
    )


def _de_from_result(r: soap.SoapResult) -> DataExtension:
    v = r.values
    return DataExtension(
        name=str(v.get("Name", "")),
        customer_key=str(v.get("CustomerKey", "")),
        object_id=str(v["ObjectID"]) if v.get("ObjectID") else None,
        category_id=soap._int(str(v.get("CategoryID", ""))),
        sending=_sending_from(v),
    )


# A retrieve names the subscriber attribute in its system form ("_SubscriberKey", sfmc-api.md
# §4.1); a Create or Update must send the attribute name ("Subscriber Key").
_RELATIONS = {"subscriberkey": SUBSCRIBER_KEY, "emailaddress": EMAIL_ADDRESS}


def _sending_from(values: dict[str, object]) -> Sending | None:
    if str(values.get("IsSendable", "")).lower() != "true":
        return None
    field = values.get("SendableDataExtensionField")
    subscriber = values.get("SendableSubscriberField")
    name = str(field.get("Name") or "") if isinstance(field, dict) else ""
    attribute = str(subscriber.get("Name") or "") if isinstance(subscriber, dict) else ""
    folded = attribute.replace("_", "").replace(" ", "").casefold()
    return Sending(
        field=name,
        relates_to=_RELATIONS.get(folded, attribute),
        testable=str(values.get("IsTestable", "")).lower() == "true",
    )


def _field_from_result(r: soap.SoapResult) -> tuple[int, DeField]:
    v = r.values
    field_type = str(v.get("FieldType") or "Text")
    max_length = soap._int(str(v.get("MaxLength", "")))
    scale = soap._int(str(v.get("Scale", "")))
    is_decimal = field_type == "Decimal"
    field = DeField(
        name=str(v.get("Name", "")),
        field_type=field_type,
        max_length=None if is_decimal else max_length,
        precision=max_length if is_decimal else None,
        scale=scale if is_decimal else None,
        is_primary_key=str(v.get("IsPrimaryKey", "")).lower() == "true",
        is_required=str(v.get("IsRequired", "")).lower() == "true",
        default_value=str(v["DefaultValue"]) if v.get("DefaultValue") else None,
    )
    return soap._int(str(v.get("Ordinal", ""))) or 0, field
