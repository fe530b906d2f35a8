"""Reading and writing the SOAP objects the simulator supports, in WSDL schema order."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from simulator.fields import FIELD_TYPES, SimField, decimal_shape, max_length
from simulator.send_rules import RETRIEVED_NAME, attribute_name
from simulator.soapxml import (
    API_OBJECT,
    SoapFault,
    esc,
    first_text,
    parse_bool,
    parse_int,
    read,
    tag,
    text,
    xsi_type,
)
from simulator.state import MID, SimDE, SimFolder

DATA_EXTENSION = (*API_OBJECT, "Name", "Description", "IsSendable", "IsTestable",
    "SendableDataExtensionField", "SendableSubscriberField", "Template",
    "DataRetentionPeriodLength", "DataRetentionPeriodUnitOfMeasure", "RowBasedRetention",
    "ResetRetentionPeriodOnImport", "DeleteAtEndOfRetentionPeriod", "RetainUntil", "Fields",
    "DataRetentionPeriod", "CategoryID", "Status")  # fmt: skip
PROPERTY_DEFINITION = ("Name", "DataType", "ValueType", "PropertyType", "IsCreatable",
    "IsUpdatable", "IsRetrievable", "IsQueryable", "IsFilterable", "IsPartnerProperty",
    "IsAccountProperty", "PartnerMap", "AttributeMaps", "Markups", "Precision", "Scale", "Label",
    "Description", "DefaultValue", "MinLength", "MaxLength", "MinValue", "MaxValue", "IsRequired",
    "IsViewable", "IsEditable", "IsNillable", "IsRestrictedPicklist", "PicklistItems",
    "IsSendTime", "DisplayOrder", "References", "RelationshipName", "Status",
    "IsContextSpecific")  # fmt: skip
DATA_EXTENSION_FIELD = (*API_OBJECT, *PROPERTY_DEFINITION, "Ordinal", "IsPrimaryKey", "FieldType",
                        "DataExtension", "StorageType")  # fmt: skip
DATA_FOLDER = (*API_OBJECT, "ParentFolder", "Name", "Description", "ContentType", "IsActive",
               "IsEditable", "AllowChildren")  # fmt: skip
DATA_EXTENSION_OBJECT = (*API_OBJECT, "Type", "Properties", "Name", "Keys")
ATTRIBUTE = ("Name", "Value", "Compression")
FOLDER_CONTENT_TYPES = ("dataextension", "shared_dataextension")

# Retrievable properties per object type -> how to read them from the simulator's objects.
FOLDER_PROPS = ("ID", "ObjectID", "CustomerKey", "Name", "Description", "ContentType", "IsActive",
    "IsEditable", "AllowChildren", "ParentFolder.ID", "ParentFolder.Name",
    "ParentFolder.CustomerKey", "ParentFolder.ObjectID", "Client.ID")  # fmt: skip
SEND_PROPS = ("SendableDataExtensionField.Name", "SendableSubscriberField.Name")
RETENTION_PROPS = ("DataRetentionPeriodLength", "RowBasedRetention",
                   "ResetRetentionPeriodOnImport", "DeleteAtEndOfRetentionPeriod")  # fmt: skip
DE_PROPS = ("ObjectID", "CustomerKey", "Name", "Description", "CategoryID", "IsSendable",
            "IsTestable", *SEND_PROPS, *RETENTION_PROPS, "DataRetentionPeriod", "CreatedDate",
            "ModifiedDate", "Client.ID", "Status")  # fmt: skip
FIELD_PROPS = ("ObjectID", "CustomerKey", "Name", "FieldType", "MaxLength", "Scale", "Precision",
    "IsPrimaryKey", "IsRequired", "Ordinal", "DefaultValue", "DataExtension.CustomerKey",
    "Client.ID")  # fmt: skip


def bool_text(value: bool) -> str:
    return "true" if value else "false"


def folder_record(f: SimFolder, parent: SimFolder | None, mid: int = MID) -> dict[str, str]:
    return {
        "ID": str(f.id), "ObjectID": f.object_id, "CustomerKey": f.customer_key, "Name": f.name,
        "Description": f.description, "ContentType": f.content_type, "IsActive": "true",
        "IsEditable": bool_text(f.is_editable), "AllowChildren": bool_text(f.allow_children),
        "ParentFolder.ID": str(f.parent_id), "ParentFolder.Name": parent.name if parent else "",
        "ParentFolder.CustomerKey": parent.customer_key if parent else "",
        "ParentFolder.ObjectID": parent.object_id if parent else "", "Client.ID": str(mid),
    }  # fmt: skip


def de_record(de: SimDE, mid: int = MID) -> dict[str, str]:
    stamp = de.created.isoformat(timespec="seconds")
    send, kept = de.sending, de.retention
    rec = {
        "ObjectID": de.object_id, "CustomerKey": de.customer_key, "Name": de.name,
        "Description": de.description, "CategoryID": str(de.category_id),
        "IsSendable": bool_text(send is not None),
        "IsTestable": bool_text(bool(send and send.testable)), "CreatedDate": stamp,
        "ModifiedDate": stamp, "Client.ID": str(mid), "Status": "Active",
        "RowBasedRetention": bool_text(bool(kept and kept.row_based)),
        "ResetRetentionPeriodOnImport": bool_text(bool(kept and kept.reset_on_import)),
        "DeleteAtEndOfRetentionPeriod": bool_text(bool(kept and kept.delete_de)),
    }  # fmt: skip
    if send is not None:  # a retrieve names the attribute in its system form [C: MCDEV]
        rec["SendableDataExtensionField.Name"] = send.field
        rec["SendableSubscriberField.Name"] = RETRIEVED_NAME.get(send.attribute, send.attribute)
    if kept is not None:
        rec["DataRetentionPeriodLength"] = str(kept.length)
        rec["DataRetentionPeriod"] = kept.unit
    return rec


def field_record(de: SimDE, i: int, mid: int = MID) -> dict[str, str]:
    f = de.fields[i]
    rec = {
        "ObjectID": de.field_ids[i], "CustomerKey": f"[{de.customer_key}].[{f.name}]",
        "Name": f.name, "FieldType": f.field_type, "IsPrimaryKey": bool_text(f.is_primary_key),
        "IsRequired": bool_text(f.is_required), "Ordinal": str(i),
        "DataExtension.CustomerKey": de.customer_key, "Client.ID": str(mid),
    }  # fmt: skip
    if f.field_type == "Decimal":
        precision, scale = decimal_shape(f)
        rec["MaxLength"] = rec["Precision"] = str(precision)
        rec["Scale"] = str(scale)
    elif f.field_type in ("Text", "EmailAddress", "Phone", "Locale"):
        rec["MaxLength"] = str(max_length(f))
    if f.default_value not in (None, ""):
        rec["DefaultValue"] = f.default_value or ""
    return rec


def _client(rec: dict[str, str], props: set[str]) -> str:
    return f"<Client><ID>{esc(rec['Client.ID'])}</ID></Client>" if "Client.ID" in props else ""


def _pick(rec: dict[str, str], props: set[str], names: Iterable[str]) -> str:
    return "".join(tag(n, rec.get(n)) for n in names if n in props)


def render_folder(rec: dict[str, str], props: set[str]) -> str:
    parent = {p.split(".", 1)[1] for p in props if p.startswith("ParentFolder.")}
    parent_xml = ""
    if parent:
        sub = {k.split(".", 1)[1]: v for k, v in rec.items() if k.startswith("ParentFolder.")}
        parent_xml = "<ParentFolder>" + _pick(sub, parent, ("ID", "ObjectID", "CustomerKey")) + (
            tag("Name", sub["Name"]) if "Name" in parent else "") + "</ParentFolder>"  # fmt: skip
    return (
        '<Results xsi:type="DataFolder">' + _client(rec, props)
        + _pick(rec, props, ("ID", "ObjectID", "CustomerKey")) + parent_xml
        + _pick(rec, props, ("Name", "Description", "ContentType", "IsActive", "IsEditable",
                             "AllowChildren"))
        + "</Results>"
    )  # fmt: skip


def _relationship(rec: dict[str, str], props: set[str]) -> str:
    """The send relationship of a sendable DE, as retrieved.

    `SendableSubscriberField` is an Attribute: the schema requires its Name and Value both.
    """
    xml = ""
    if "SendableDataExtensionField.Name" in props and "SendableDataExtensionField.Name" in rec:
        name = tag("Name", rec["SendableDataExtensionField.Name"])
        xml += f"<SendableDataExtensionField>{name}</SendableDataExtensionField>"
    if "SendableSubscriberField.Name" in props and "SendableSubscriberField.Name" in rec:
        name = tag("Name", rec["SendableSubscriberField.Name"])
        xml += f"<SendableSubscriberField>{name}<Value></Value></SendableSubscriberField>"
    return xml


def render_de(rec: dict[str, str], props: set[str]) -> str:
    return (
        '<Results xsi:type="DataExtension">' + _client(rec, props)
        + _pick(rec, props, ("CreatedDate", "ModifiedDate", "ObjectID", "CustomerKey", "Name",
                             "Description", "IsSendable", "IsTestable"))
        + _relationship(rec, props) + _pick(rec, props, RETENTION_PROPS)
        + _pick(rec, props, ("DataRetentionPeriod", "CategoryID", "Status"))
        + "</Results>"
    )  # fmt: skip


def render_field(rec: dict[str, str], props: set[str]) -> str:
    de_xml = ""
    if "DataExtension.CustomerKey" in props:
        de_xml = (
            f"<DataExtension>{tag('CustomerKey', rec['DataExtension.CustomerKey'])}</DataExtension>"
        )
    return (
        '<Results xsi:type="DataExtensionField">' + _client(rec, props)
        + _pick(rec, props, ("ObjectID", "CustomerKey", "Name", "Precision", "Scale",
                             "DefaultValue", "MaxLength", "IsRequired", "Ordinal",
                             "IsPrimaryKey", "FieldType"))
        + de_xml + "</Results>"
    )  # fmt: skip


def render_row(pairs: Iterable[tuple[str, str | None]]) -> str:
    props = "".join(
        f"<Property><Name>{esc(n)}</Name><Value>{esc(v or '')}</Value></Property>" for n, v in pairs
    )
    return f'<Results xsi:type="DataExtensionObject"><Properties>{props}</Properties></Results>'


# ----- parsing request objects
@dataclass
class ParsedDE:
    customer_key: str | None
    object_id: str | None
    name: str | None
    description: str | None
    category_id: int | None
    is_sendable: bool | None
    is_testable: bool | None
    sendable_field: str | None
    subscriber_field: str | None
    fields: list[tuple[SimField, str | None]]  # (field, ObjectID of an existing field or None)
    has_fields: bool
    # DataRetentionPeriodLength, DataRetentionPeriod and the flags, as sent (None = not sent)
    retention: dict[str, object]


def parse_field(el: Element, where: str) -> tuple[SimField, str | None]:
    found = read(el, DATA_EXTENSION_FIELD, where=where)
    name = first_text(found, "Name")
    if not name:
        msg = f"{where}: required element Name is missing."
        raise SoapFault(msg)
    ftype = first_text(found, "FieldType") or "Text"
    if ftype not in FIELD_TYPES:
        msg = f"{where}: FieldType {ftype!r} is not one of {', '.join(FIELD_TYPES)}."
        raise SoapFault(msg)
    pk = bool(parse_bool(first_text(found, "IsPrimaryKey"), where))
    required = parse_bool(first_text(found, "IsRequired"), where)
    max_len = parse_int(first_text(found, "MaxLength"), where)
    precision = parse_int(first_text(found, "Precision"), where)
    if ftype == "Decimal" and precision is None:
        precision, max_len = max_len, None  # SFMC also accepts precision as MaxLength
    field = SimField(
        name=name, field_type=ftype, max_length=max_len if ftype != "Decimal" else None,
        precision=precision if ftype == "Decimal" else None,
        scale=parse_int(first_text(found, "Scale"), where) if ftype == "Decimal" else None,
        is_primary_key=pk, is_required=bool(required),
        default_value=first_text(found, "DefaultValue", strip=False) or None,
    )  # fmt: skip
    return field, first_text(found, "ObjectID") or None


def parse_de(el: Element, where: str) -> ParsedDE:
    found = read(el, DATA_EXTENSION, where=where)
    fields: list[tuple[SimField, str | None]] = []
    for holder in found.get("Fields", []):
        inner = read(holder, ("Field",), where=f"{where}/Fields", repeat=("Field",))
        for i, fel in enumerate(inner.get("Field", [])):
            fields.append(parse_field(fel, f"{where}/Fields/Field[{i}]"))
    sendable = subscriber = None
    if "SendableDataExtensionField" in found:
        sub = read(found["SendableDataExtensionField"][0], DATA_EXTENSION_FIELD,
                   where=f"{where}/SendableDataExtensionField")  # fmt: skip
        sendable = first_text(sub, "Name")
    if "SendableSubscriberField" in found:
        sub = read(found["SendableSubscriberField"][0], ATTRIBUTE,
                   where=f"{where}/SendableSubscriberField", required=("Name",))  # fmt: skip
        subscriber = attribute_name(first_text(sub, "Name"))
    return ParsedDE(
        customer_key=first_text(found, "CustomerKey") or None,
        object_id=first_text(found, "ObjectID") or None,
        name=first_text(found, "Name") or None,
        description=first_text(found, "Description"),
        category_id=parse_int(first_text(found, "CategoryID"), where),
        is_sendable=parse_bool(first_text(found, "IsSendable"), where),
        is_testable=parse_bool(first_text(found, "IsTestable"), where),
        sendable_field=sendable,
        subscriber_field=subscriber,
        fields=fields,
        has_fields="Fields" in found,
        retention=_retention(found, where),
    )


def _retention(found: dict[str, list[Element]], where: str) -> dict[str, object]:
    sent = {
        "length": parse_int(first_text(found, "DataRetentionPeriodLength"), where),
        "unit": first_text(found, "DataRetentionPeriod"),
    }
    for name in RETENTION_PROPS[1:]:
        sent[name] = parse_bool(first_text(found, name), where)
    return {k: v for k, v in sent.items() if v is not None}


def parse_folder(el: Element, where: str) -> dict[str, object]:
    found = read(el, DATA_FOLDER, where=where)
    parent_id = None
    if "ParentFolder" in found:
        sub = read(found["ParentFolder"][0], DATA_FOLDER, where=f"{where}/ParentFolder")
        parent_id = parse_int(first_text(sub, "ID"), where)
    return {
        "id": parse_int(first_text(found, "ID"), where),
        "customer_key": first_text(found, "CustomerKey") or None,
        "name": first_text(found, "Name"),
        "description": first_text(found, "Description") or "",
        "content_type": first_text(found, "ContentType"),
        "parent_id": parent_id,
        "allow_children": parse_bool(first_text(found, "AllowChildren"), where),
        "is_editable": parse_bool(first_text(found, "IsEditable"), where),
    }


def _pairs(holder: Element, child: str, where: str) -> dict[str, str | None]:
    inner = read(holder, (child,), where=where, repeat=(child,))
    out: dict[str, str | None] = {}
    for i, prop in enumerate(inner.get(child, [])):
        pwhere = f"{where}/{child}[{i}]"
        found = read(prop, ("Name", "Value"), where=pwhere, required=("Name",))
        name = first_text(found, "Name") or ""
        is_null = xsi_type(prop) == "NullAPIProperty"
        out[name] = None if is_null else text(found.get("Value", [None])[0], strip=False)
    return out


def parse_deo(
    el: Element, where: str
) -> tuple[str | None, str | None, dict[str, str | None], dict[str, str | None]]:
    """(CustomerKey, Name, properties, keys) of a DataExtensionObject."""
    found = read(el, DATA_EXTENSION_OBJECT, where=where)
    props = (
        _pairs(found["Properties"][0], "Property", f"{where}/Properties")
        if "Properties" in found
        else {}
    )
    keys = _pairs(found["Keys"][0], "Key", f"{where}/Keys") if "Keys" in found else {}
    return first_text(found, "CustomerKey") or None, first_text(found, "Name") or None, props, keys
