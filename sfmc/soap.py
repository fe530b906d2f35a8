"""SOAP envelopes (module-level templates), the one XML-escaping helper, and response parsing.

Element order follows `etframework.wsdl` sequences exactly (a .NET service may silently drop
elements that arrive out of order); the fidelity test validates every body built here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET

from sfmc.types import DeField, Retention, Sending

NS_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
NS_ET = "http://exacttarget.com/wsdl/partnerAPI"

ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soap:Envelope xmlns:soap="{NS_SOAP}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    '<soap:Header><fueloauth xmlns="http://exacttarget.com">{token}</fueloauth></soap:Header>'
    "<soap:Body>{body}</soap:Body></soap:Envelope>"
)
RETRIEVE = (
    f'<RetrieveRequestMsg xmlns="{NS_ET}"><RetrieveRequest>'
    "<ObjectType>{object_type}</ObjectType>{properties}{filter}"
    "</RetrieveRequest></RetrieveRequestMsg>"
)
# ObjectType is required by the schema, so a continuation repeats it.
CONTINUE = (
    f'<RetrieveRequestMsg xmlns="{NS_ET}"><RetrieveRequest>'
    "<ObjectType>{object_type}</ObjectType><ContinueRequest>{request_id}</ContinueRequest>"
    "</RetrieveRequest></RetrieveRequestMsg>"
)
PROPERTY = "<Properties>{name}</Properties>"
SIMPLE_FILTER = (
    '<{tag} xsi:type="SimpleFilterPart"><Property>{prop}</Property>'
    "<SimpleOperator>{operator}</SimpleOperator><Value>{value}</Value></{tag}>"
)
COMPLEX_FILTER = (
    '<Filter xsi:type="ComplexFilterPart">{left}<LogicalOperator>{operator}</LogicalOperator>'
    "{right}</Filter>"
)
CREATE = f'<CreateRequest xmlns="{NS_ET}"><Options/>{{objects}}</CreateRequest>'
UPDATE = f'<UpdateRequest xmlns="{NS_ET}"><Options/>{{objects}}</UpdateRequest>'
DELETE = f'<DeleteRequest xmlns="{NS_ET}"><Options/>{{objects}}</DeleteRequest>'
PERFORM = (
    f'<PerformRequestMsg xmlns="{NS_ET}"><Action>{{action}}</Action>'
    "<Definitions>{definitions}</Definitions></PerformRequestMsg>"
)
# DataExtension order: CustomerKey (APIObject), Name, Description, IsSendable, IsTestable,
# SendableDataExtensionField, SendableSubscriberField, the retention flags, Fields, then
# DataRetentionPeriod (after Fields in the WSDL) and CategoryID.
DATA_EXTENSION = (
    '<Objects xsi:type="DataExtension"><CustomerKey>{customer_key}</CustomerKey>'
    "<Name>{name}</Name>{description}{sending}{retention}"
    "<Fields>{fields}</Fields>{retention_unit}{category}</Objects>"
)
SENDING = "<IsSendable>{sendable}</IsSendable><IsTestable>{testable}</IsTestable>{relationship}"
# `SendableSubscriberField` is an Attribute: Name and Value are both required by the schema.
RELATIONSHIP = (
    "<SendableDataExtensionField><Name>{field}</Name></SendableDataExtensionField>"
    "<SendableSubscriberField><Name>{relates_to}</Name><Value></Value></SendableSubscriberField>"
)
RETENTION = (
    "<DataRetentionPeriodLength>{length}</DataRetentionPeriodLength>"
    "<RowBasedRetention>{row_based}</RowBasedRetention>"
    "<ResetRetentionPeriodOnImport>{reset}</ResetRetentionPeriodOnImport>"
    "<DeleteAtEndOfRetentionPeriod>{delete_de}</DeleteAtEndOfRetentionPeriod>"
)
RETENTION_UNIT = "<DataRetentionPeriod>{unit}</DataRetentionPeriod>"
DATA_EXTENSION_SENDING = (
    '<Objects xsi:type="DataExtension"><CustomerKey>{customer_key}</CustomerKey>{sending}</Objects>'
)
DATA_EXTENSION_FIELDS = (
    '<Objects xsi:type="DataExtension"><CustomerKey>{customer_key}</CustomerKey>'
    "<Fields>{fields}</Fields></Objects>"
)
DATA_EXTENSION_KEY = (
    '<Objects xsi:type="DataExtension"><CustomerKey>{customer_key}</CustomerKey></Objects>'
)
# PropertyDefinition order: ObjectID (APIObject), Name, Precision, Scale, DefaultValue, MaxLength,
# IsRequired; then DataExtensionField: Ordinal, IsPrimaryKey, FieldType.
FIELD = (
    "<Field>{object_id}<Name>{name}</Name>{precision}{scale}{default}{max_length}"
    "<IsRequired>{required}</IsRequired>{ordinal}<IsPrimaryKey>{primary}</IsPrimaryKey>"
    "<FieldType>{field_type}</FieldType></Field>"
)
ROW_KEYS = (
    '<Objects xsi:type="DataExtensionObject"><CustomerKey>{customer_key}</CustomerKey>'
    "<Keys>{keys}</Keys></Objects>"
)
KEY = "<Key><Name>{name}</Name><Value>{value}</Value></Key>"
CLEAR_DATA = (
    '<Definition xsi:type="DataExtension"><CustomerKey>{customer_key}</CustomerKey></Definition>'
)

FOLDER_PROPERTIES = ("ID", "Name", "ParentFolder.ID", "ContentType", "CustomerKey", "Client.ID")
_TOP_OBJECT = re.compile(r'<(?:Objects|Definition) xsi:type="[A-Za-z]+">')
DE_PROPERTIES = (
    "ObjectID",
    "CustomerKey",
    "Name",
    "CategoryID",
    "IsSendable",
    "IsTestable",
    "SendableDataExtensionField.Name",
    "SendableSubscriberField.Name",
)
FIELD_PROPERTIES = (
    "ObjectID",
    "Name",
    "FieldType",
    "MaxLength",
    "Scale",
    "IsPrimaryKey",
    "IsRequired",
    "Ordinal",
    "DefaultValue",
)


def esc(value: object) -> str:
    """The one XML-escaping helper: text content and attribute-safe."""
    return escape(str(value), {'"': "&quot;", "'": "&apos;"})


def _el(tag: str, value: object | None) -> str:
    return "" if value is None or value == "" else f"<{tag}>{esc(value)}</{tag}>"


def _bool(value: bool) -> str:
    return "true" if value else "false"


def envelope(token: str, body: str, client_mid: int | None = None) -> str:
    """Wrap a request body in the SOAP envelope with the `fueloauth` header.

    With `client_mid`, the request acts in that business unit: a child unit's package reaches
    the parent's shared folders and DEs only with the parent's `Client/ID` [C: reference §10],
    put where the WSDL puts it: first in RetrieveRequest (ClientIDs) and in each top object.
    """
    if client_mid is not None:
        mid = int(client_mid)
        body = body.replace(
            "<RetrieveRequest>", f"<RetrieveRequest><ClientIDs><ID>{mid}</ID></ClientIDs>"
        )
        body = _TOP_OBJECT.sub(rf"\g<0><Client><ID>{mid}</ID></Client>", body)
    return ENVELOPE.format(token=esc(token), body=body)


def simple_filter(prop: str, operator: str, value: object, *, tag: str = "Filter") -> str:
    return SIMPLE_FILTER.format(tag=tag, prop=esc(prop), operator=esc(operator), value=esc(value))


def in_filter(prop: str, values: Iterable[object]) -> str:
    """A `SimpleFilterPart` with operator IN: one `Value` element per value (the WSDL allows many)."""
    listed = "</Value><Value>".join(esc(v) for v in values)
    return SIMPLE_FILTER.format(tag="Filter", prop=esc(prop), operator="IN", value=listed)


def or_filter(left: tuple[str, str, object], right: tuple[str, str, object]) -> str:
    return COMPLEX_FILTER.format(
        left=simple_filter(*left, tag="LeftOperand"),
        operator="OR",
        right=simple_filter(*right, tag="RightOperand"),
    )


def retrieve(object_type: str, properties: Iterable[str], filter_xml: str = "") -> str:
    props = "".join(PROPERTY.format(name=esc(p)) for p in properties)
    return RETRIEVE.format(object_type=esc(object_type), properties=props, filter=filter_xml)


def continue_retrieve(object_type: str, request_id: str) -> str:
    return CONTINUE.format(object_type=esc(object_type), request_id=esc(request_id))


def field_xml(f: DeField, *, object_id: str | None = None, ordinal: int | None = None) -> str:
    is_decimal = f.field_type == "Decimal"
    return FIELD.format(
        object_id=_el("ObjectID", object_id),
        name=esc(f.name),
        precision=_el("Precision", f.precision if is_decimal else None),
        scale=_el("Scale", f.scale if is_decimal else None),
        default=_el("DefaultValue", f.default_value),
        max_length=_el("MaxLength", None if is_decimal else f.max_length),
        required=_bool(f.is_required or f.is_primary_key),
        ordinal=_el("Ordinal", ordinal),
        primary=_bool(f.is_primary_key),
        field_type=esc(f.field_type),
    )


def sending_xml(sending: Sending | None) -> str:
    """`IsSendable`, `IsTestable` and, for a sendable DE, its send relationship."""
    if sending is None:
        return SENDING.format(sendable="false", testable="false", relationship="")
    relationship = RELATIONSHIP.format(field=esc(sending.field), relates_to=esc(sending.relates_to))
    return SENDING.format(
        sendable="true", testable=_bool(sending.testable), relationship=relationship
    )


def _retention_xml(retention: Retention | None) -> tuple[str, str]:
    """The retention flags (before Fields) and `DataRetentionPeriod` (after Fields)."""
    if retention is None:
        return "", ""
    flags = RETENTION.format(
        length=int(retention.length),
        row_based=_bool(retention.row_based),
        reset=_bool(retention.reset_on_import),
        delete_de=_bool(retention.delete_de),
    )
    return flags, RETENTION_UNIT.format(unit=esc(retention.unit))


def create_data_extension(
    *,
    name: str,
    customer_key: str,
    fields: Sequence[DeField],
    category_id: int | None,
    description: str | None = None,
    sending: Sending | None = None,
    retention: Retention | None = None,
) -> str:
    """The Create of a DE: its fields, folder, send relationship and data retention."""
    flags, unit = _retention_xml(retention)
    obj = DATA_EXTENSION.format(
        customer_key=esc(customer_key),
        name=esc(name),
        description=_el("Description", description),
        sending=sending_xml(sending),
        retention=flags,
        fields="".join(field_xml(f, ordinal=i) for i, f in enumerate(fields)),
        retention_unit=unit,
        category=_el("CategoryID", category_id),
    )
    return CREATE.format(objects=obj)


def update_sending(customer_key: str, sending: Sending) -> str:
    """Make an existing DE sendable ("Used for Sending") with this send relationship."""
    obj = DATA_EXTENSION_SENDING.format(
        customer_key=esc(customer_key), sending=sending_xml(sending)
    )
    return UPDATE.format(objects=obj)


def update_fields(customer_key: str, fields: Sequence[tuple[DeField, str | None]]) -> str:
    """Add fields (object_id None) or modify existing ones (their ObjectID given)."""
    xml = "".join(field_xml(f, object_id=oid) for f, oid in fields)
    return UPDATE.format(
        objects=DATA_EXTENSION_FIELDS.format(customer_key=esc(customer_key), fields=xml)
    )


def delete_data_extension(customer_key: str) -> str:
    return DELETE.format(objects=DATA_EXTENSION_KEY.format(customer_key=esc(customer_key)))


def delete_rows(customer_key: str, keys: Sequence[Mapping[str, object]]) -> str:
    objects = "".join(
        ROW_KEYS.format(
            customer_key=esc(customer_key),
            keys="".join(KEY.format(name=esc(k), value=esc(_text(v))) for k, v in row.items()),
        )
        for row in keys
    )
    return DELETE.format(objects=objects)


def clear_data(customer_key: str) -> str:
    return PERFORM.format(
        action="ClearData", definitions=CLEAR_DATA.format(customer_key=esc(customer_key))
    )


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return "" if value is None else str(value)


# --- responses ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SoapFault:
    """A `soap:Fault` (HTTP 500)."""

    code: str
    message: str
    api_code: int | None = None


@dataclass(frozen=True)
class SoapResult:
    """One `Results` element of a Create/Update/Delete/Perform/Retrieve response."""

    status_code: str | None
    status_message: str | None
    error_code: int | None
    ordinal: int | None
    values: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return (self.status_code or "OK").upper() == "OK"


@dataclass(frozen=True)
class SoapResponse:
    """A parsed SOAP response body."""

    overall_status: str
    request_id: str | None
    results: list[SoapResult]
    status_message: str | None = None

    @property
    def more_data(self) -> bool:
        return self.overall_status == "MoreDataAvailable"

    @property
    def request_error(self) -> str | None:
        """The message of a request-level problem (`OverallStatus` "Error: ..."), if any."""
        status = self.overall_status
        if status.startswith("Error:"):
            return status[len("Error:") :].strip() or status
        if status == "Error" and not self.results:
            return self.status_message or "SFMC answered Error"
        return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(elem: Element, name: str) -> Element | None:
    for child in elem:
        if _local(child.tag) == name:
            return child
    return None


def _child_text(elem: Element, name: str) -> str | None:
    child = _child(elem, name)
    return None if child is None else (child.text or "")


def _int(text: str | None) -> int | None:
    try:
        return None if text is None or text == "" else int(text)
    except ValueError:
        return None


def to_dict(elem: Element) -> dict[str, object]:
    """Nested dict of an element; repeated children become lists, leaves become text."""
    out: dict[str, object] = {}
    for child in elem:
        name = _local(child.tag)
        value: object = to_dict(child) if len(child) else (child.text or "")
        if name in out:
            prev = out[name]
            out[name] = [*prev, value] if isinstance(prev, list) else [prev, value]
        else:
            out[name] = value
    return out


def parse_fault(text: str) -> SoapFault | None:
    """Return the fault in `text`, or None when it is not a SOAP fault."""
    try:
        root = SafeET.fromstring(text)
    except Exception:
        return None
    for elem in root.iter():
        if _local(elem.tag) == "Fault":
            code = (_child_text(elem, "faultcode") or "").strip()
            message = (_child_text(elem, "faultstring") or "").strip()
            api_code = None
            for sub in elem.iter():
                if _local(sub.tag) == "Code":
                    api_code = _int((sub.text or "").strip())
            return SoapFault(code=code, message=message, api_code=api_code)
    return None


def parse_response(text: str) -> SoapResponse:
    """Parse a SOAP response (never a fault) into status, request id and results.

    Raises:
        ValueError: the text is not a SOAP response.
    """
    root = SafeET.fromstring(text)
    body = next((e for e in root.iter() if _local(e.tag) == "Body"), None)
    if body is None or len(body) == 0:
        msg = "not a SOAP response (no Body)"
        raise ValueError(msg)
    msg_elem = body[0]
    results: list[SoapResult] = []
    containers = [msg_elem]
    perform_results = _child(msg_elem, "Results")
    # Perform nests Results/Result; Create/Update/Delete/Retrieve repeat Results directly.
    if _local(msg_elem.tag) == "PerformResponseMsg" and perform_results is not None:
        containers = [perform_results]
        tag = "Result"
    else:
        tag = "Results"
    for container in containers:
        for res in container:
            if _local(res.tag) != tag:
                continue
            results.append(
                SoapResult(
                    status_code=_child_text(res, "StatusCode"),
                    status_message=_child_text(res, "StatusMessage"),
                    error_code=_int(_child_text(res, "ErrorCode")),
                    ordinal=_int(_child_text(res, "OrdinalID")),
                    values=to_dict(res),
                )
            )
    return SoapResponse(
        overall_status=(_child_text(msg_elem, "OverallStatus") or "").strip(),
        request_id=_child_text(msg_elem, "RequestID"),
        results=results,
        status_message=_child_text(msg_elem, "OverallStatusMessage"),
    )


def row_properties(result: SoapResult) -> dict[str, str]:
    """The `{Name: Value}` pairs of a DataExtensionObject result."""
    props = result.values.get("Properties")
    items = props.get("Property", []) if isinstance(props, dict) else []
    if isinstance(items, dict):
        items = [items]
    return {
        str(p.get("Name")): str(p.get("Value") or "")
        for p in items
        if isinstance(p, dict) and p.get("Name") is not None
    }
