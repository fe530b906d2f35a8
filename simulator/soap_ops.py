"""SOAP Create / Update / Delete / Perform for DataExtension, DataFolder, DataExtensionObject."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from xml.etree.ElementTree import Element

import simulator.soap_objects as so
from simulator.business_units import folder_usable, visible_de
from simulator.fieldrules import Violation
from simulator.fields import SimField
from simulator.schema_rules import check_field_change, check_schema
from simulator.send_rules import (
    SendSetup,
    check_send_change,
    check_send_setup,
    retention_of,
    send_setup_of,
)
from simulator.soapxml import SoapFault, esc, first_text, read, tag, xsi_type
from simulator.state import RowError, SimDE, Tenant

OPTIONS = ("Client", "SendResponseTo", "SaveOptions", "Priority", "ConversationID", "SequenceCode",
           "CallsInConversation", "ScheduledTime", "RequestType", "QueuePriority")  # fmt: skip
OPTIONS_BY_ACTION = {
    "Create": (*OPTIONS, "Container"),
    "Update": (*OPTIONS, "Container", "Action"),
    "Delete": OPTIONS,
    "Perform": (*OPTIONS, "Explanation", "ProgramActivityInstanceID"),
}
RESPONSE = {"Create": "CreateResponse", "Update": "UpdateResponse", "Delete": "DeleteResponse"}
MAX_KEY = 36  # [I] CustomerKey limit for DEs (≤36 recommended by SFMC)


@dataclass
class Outcome:
    ok: bool
    message: str
    code: int | None = None
    new_id: int | None = None
    new_object_id: str | None = None
    object_xml: str = ""
    result_type: str | None = (
        None  # xsi:type of the Results element, e.g. DataExtensionUpdateResult
    )
    error_message: str | None = None
    value_errors: list[Violation] | None = None


def _err(code: int, message: str) -> Outcome:
    return Outcome(False, message, code)


def _save_action(options: dict[str, list[Element]]) -> str | None:
    if "SaveOptions" not in options:
        return None
    inner = read(options["SaveOptions"][0], ("SaveOption",), where="Options/SaveOptions",
                 repeat=("SaveOption",))  # fmt: skip
    for opt in inner.get("SaveOption", []):
        found = read(opt, ("PropertyName", "SaveAction"), where="SaveOption",
                     required=("PropertyName", "SaveAction"))  # fmt: skip
        return first_text(found, "SaveAction")
    return None


def handle(tenant: Tenant, action: str, msg: Element, mid: int) -> str:
    """Run one Create/Update/Delete/Perform request acting in business unit `mid`.

    Returns the response body element. Shared folders and DEs of the parent unit look absent
    to a request acting in the child unit (`simulator.business_units`).
    """
    if action == "Perform":
        return _perform(tenant, msg, mid)
    found = read(msg, ("Options", "Objects"), where=f"{action}Request", repeat=("Objects",),
                 required=("Options", "Objects"))  # fmt: skip
    options = read(found["Options"][0], OPTIONS_BY_ACTION[action], where=f"{action}Request/Options",
                   repeat=("SendResponseTo",))  # fmt: skip
    save_action = _save_action(options)
    outcomes: list[Outcome] = []
    with tenant.lock:
        tenant.settle()
        for i, obj in enumerate(found["Objects"]):
            kind, where = xsi_type(obj), f"Objects[{i}]"
            if kind == "DataExtension":
                outcomes.append(_de_op(tenant, action, obj, where, mid))
            elif kind == "DataFolder":
                outcomes.append(_folder_op(tenant, action, obj, where, mid))
            elif kind == "DataExtensionObject":
                outcomes.append(_row_op(tenant, action, obj, where, save_action, mid))
            else:
                msg_ = f"{where}: {action} of xsi:type {kind!r} is not supported by the simulator."
                raise SoapFault(msg_)
    return _results(action, outcomes)


def _overall(outcomes: list[Outcome]) -> str:
    if all(o.ok for o in outcomes):
        return "OK"
    return "Error" if not any(o.ok for o in outcomes) else "Has Errors"


def _results(action: str, outcomes: list[Outcome]) -> str:
    parts = []
    for i, o in enumerate(outcomes):
        rtype = f' xsi:type="{o.result_type}"' if o.result_type else ""
        xml = (f"<Results{rtype}>{tag('StatusCode', 'OK' if o.ok else 'Error')}"
               f"{tag('StatusMessage', o.message)}{tag('OrdinalID', i)}{tag('ErrorCode', o.code)}")  # fmt: skip
        if action == "Create":
            xml += tag("NewID", o.new_id or 0) + tag("NewObjectID", o.new_object_id)
        obj = o.object_xml or "<Object/>" if action != "Create" else o.object_xml
        xml += obj
        if o.result_type and o.result_type.startswith("DataExtension"):
            xml += tag("ErrorMessage", o.error_message)
            if o.value_errors and action != "Delete":
                xml += "<ValueErrors>" + "".join(
                    f"<ValueError>{tag('Name', v.field)}{tag('ErrorCode', v.code)}"
                    f"{tag('ErrorMessage', v.message)}</ValueError>" for v in o.value_errors
                ) + "</ValueErrors>"  # fmt: skip
        parts.append(xml + "</Results>")
    overall = _overall(outcomes)
    return (f'<{RESPONSE[action]} xmlns="http://exacttarget.com/wsdl/partnerAPI">{"".join(parts)}'
            f"<RequestID>{uuid.uuid4()}</RequestID><OverallStatus>{overall}</OverallStatus>"
            f"</{RESPONSE[action]}>")  # fmt: skip


def _de_object(de: SimDE) -> str:
    return (f'<Object xsi:type="DataExtension">{tag("ObjectID", de.object_id)}'
            f"{tag('CustomerKey', de.customer_key)}{tag('Name', de.name)}</Object>")  # fmt: skip


def _find_de(tenant: Tenant, p: so.ParsedDE, mid: int) -> SimDE | None:
    if p.customer_key:
        de = tenant.get_de(p.customer_key)
    elif p.object_id:
        de = tenant.get_de_by_id(p.object_id)
    else:
        de = tenant.get_de_by_name(p.name) if p.name else None
    return visible_de(tenant, de, mid)


def _de_op(tenant: Tenant, action: str, obj: Element, where: str, mid: int) -> Outcome:
    p = so.parse_de(obj, where)
    if action == "Create":
        made = _create_de(tenant, p, mid)
        echo = f'<Object xsi:type="DataExtension">{tag("CustomerKey", p.customer_key)}{tag("Name", p.name)}</Object>'  # fmt: skip
        return (
            made if made.ok else replace(made, object_xml=echo)
        )  # SFMC echoes the object [C: SDK]
    if not (p.customer_key or p.object_id or p.name):
        return _err(310001, "No ObjectID, CustomerKey or Name was supplied for the data extension.")
    de = _find_de(tenant, p, mid)
    if de is None:
        code = 310002 if action == "Delete" else 310004
        return _err(
            code, f"Data extension {p.customer_key or p.object_id or p.name} does not exist."
        )
    if action == "Delete":
        tenant.remove_de(de.customer_key)
        return Outcome(True, "Data Extension deleted.", object_xml=_de_object(de))
    return _update_de(tenant, de, p, mid)


def _create_de(tenant: Tenant, p: so.ParsedDE, mid: int) -> Outcome:
    if p.object_id:
        return _err(310005, "Do not send an ObjectID when creating a data extension.")
    if not p.name:
        return _err(310001, "The data extension needs a Name.")
    key = p.customer_key or str(uuid.uuid4()).upper()
    if len(key) > MAX_KEY:
        return _err(310007, f"CustomerKey {key!r} is longer than {MAX_KEY} characters.")
    if tenant.get_de(key) is not None:
        return _err(310007, f"DataExtension with CustomerKey {key} already exists.")
    if tenant.get_de_by_name(p.name) is not None:
        return _err(310007, f"Updating an existing Data Extension definition is not allowed when "
                            f"doing an add-only operation. A data extension named {p.name} already exists.")  # fmt: skip
    category = p.category_id if p.category_id is not None else tenant.root_folder_id
    folder = tenant.folders.get(category)
    if folder is None or folder.content_type not in so.FOLDER_CONTENT_TYPES:
        return _err(310007, f"CategoryID {category} is not a Data Extension folder.")
    if not folder_usable(tenant, category, mid):
        return _err(
            310007, f"CategoryID {category} is not a Data Extension folder of this account."
        )
    fields = [f for f, _ in p.fields]
    problems = check_schema(fields)
    sending, send_problems = send_setup_of(
        p.is_sendable, p.is_testable, p.sendable_field, p.subscriber_field
    )
    problems += send_problems
    if sending is not None and not problems:
        problems += check_send_setup(fields, sending)
    retention, retention_problems = retention_of(p.retention)
    problems += retention_problems
    if problems:
        return _err(310007, " ".join(problems))
    de = tenant.add_de(SimDE(key, p.name, category, fields, description=p.description or "",
                             sending=sending, retention=retention))  # fmt: skip
    return Outcome(True, "Data Extension created.", new_id=0, new_object_id=de.object_id,
                   object_xml=_de_object(de))  # fmt: skip


def _update_de(tenant: Tenant, de: SimDE, p: so.ParsedDE, mid: int) -> Outcome:
    changes: list[tuple[int | None, SimField]] = []
    for new, object_id in p.fields:
        if object_id:
            idx = next((i for i, fid in enumerate(de.field_ids) if fid == object_id), None)
            if idx is None:
                return _err(
                    310007, f"Field ObjectID {object_id} does not belong to {de.customer_key}."
                )
            problem = check_field_change(de.fields[idx], new, de_has_rows=bool(de.rows))
            clash = de.index_of(new.name)
            if problem is None and clash not in (None, idx):
                problem = f"A field named {new.name} already exists."
        else:
            idx = None
            problem = (
                f"A field named {new.name} already exists in the data extension; send its "
                "ObjectID to modify it."
                if de.index_of(new.name) is not None  # fmt: skip
                else check_field_change(None, new, de_has_rows=bool(de.rows))
            )
        if problem is None:
            rules = check_schema(
                [*de.fields, new]
                if idx is None
                else [new if i == idx else f for i, f in enumerate(de.fields)]
            )
            problem = " ".join(rules) or None
        if problem:
            return _err(310007, problem)
        changes.append((idx, new))
    final = list(de.fields)
    for idx, new in changes:
        if idx is None:
            final.append(new)
        else:
            final[idx] = new
    settings = _settings_change(de, p, final)
    if isinstance(settings, Outcome):
        return settings
    if p.category_id is not None:
        folder = tenant.folders.get(p.category_id)
        if (
            folder is None
            or folder.content_type not in so.FOLDER_CONTENT_TYPES
            or not folder_usable(tenant, p.category_id, mid)
        ):
            return _err(310007, f"CategoryID {p.category_id} is not a Data Extension folder.")
        de.category_id = p.category_id
    if p.name and p.name != de.name:
        other = tenant.get_de_by_name(p.name)
        if other is not None and other is not de:
            return _err(310007, f"A data extension named {p.name} already exists.")
        de.name = p.name
    if p.description is not None:
        de.description = p.description
    for idx, new in changes:
        if idx is None:
            de.add_field(new)
        else:
            de.replace_field(idx, new)
    de.sending, de.retention = settings
    return Outcome(True, "Data Extension updated.", object_xml=_de_object(de))


def _settings_change(de: SimDE, p: so.ParsedDE, fields: list[SimField]) -> tuple | Outcome:
    """The DE's (sending, retention) after an Update, or the error SFMC answers with.

    "Used for Sending" can be turned on when the relationship field fits, and a sendable DE can
    become testable or not; a sendable DE keeps its relationship and stays sendable [I].
    Retention can change except whether it is row-based (DOC: RowBasedRetention not updatable).
    """
    sending = de.sending
    if p.is_sendable is False and sending is not None:
        return _err(310007, "A sendable data extension cannot be made non-sendable.")
    if p.is_sendable:
        wanted, problems = send_setup_of(True, p.is_testable, p.sendable_field, p.subscriber_field)
        change = check_send_change(sending, wanted) if wanted else None
        problems += [change] if change else []
        if wanted is not None and not problems:
            problems += check_send_setup(fields, wanted)
        if problems:
            return _err(310007, " ".join(problems))
        sending = wanted
    elif p.is_testable is not None:
        if sending is None and p.is_testable:
            return _err(
                310007, "IsTestable needs IsSendable: only a sendable data extension is testable."
            )
        if sending is not None:
            sending = SendSetup(sending.field, sending.attribute, p.is_testable)
    retention, problems = retention_of(p.retention)
    if retention is None and not problems:
        return sending, de.retention
    current_rows = bool(de.retention and de.retention.row_based)
    if retention is not None and de.retention is not None and retention.row_based != current_rows:
        problems.append("RowBasedRetention cannot be changed on an existing data extension.")
    if problems:
        return _err(310007, " ".join(problems))
    return sending, retention


def _folder_op(tenant: Tenant, action: str, obj: Element, where: str, mid: int) -> Outcome:
    f = so.parse_folder(obj, where)
    if action == "Create":
        if f["id"]:
            return _err(396001, "Do not send an ID when creating a folder.")
        if not f["name"]:
            return _err(396003, "The folder needs a Name.")
        if not f["content_type"]:
            return _err(396004, "The folder needs a ContentType (dataextension).")
        if f["content_type"] not in so.FOLDER_CONTENT_TYPES:
            return _err(
                396005,
                f"ContentType {f['content_type']!r} is not valid for Data Extension folders.",
            )
        parent = tenant.folders.get(f["parent_id"]) if f["parent_id"] else None  # type: ignore[arg-type]
        if parent is None or not parent.allow_children or not folder_usable(tenant, parent.id, mid):
            return _err(396007, f"ParentFolder ID {f['parent_id']} is not a valid parent folder.")
        if f["customer_key"] and any(x.customer_key.casefold() == str(f["customer_key"]).casefold()
                                     for x in tenant.folders.values()):  # fmt: skip
            return _err(396002, f"A folder with CustomerKey {f['customer_key']} already exists.")
        if any(x.parent_id == parent.id and x.name.casefold() == str(f["name"]).casefold()
               for x in tenant.folders.values()):  # fmt: skip
            return _err(396012, f"A folder named {f['name']} already exists in that parent folder.")
        new = tenant.add_folder(str(f["name"]), parent.id, customer_key=f["customer_key"],  # type: ignore[arg-type]
                                content_type=str(f["content_type"]), description=str(f["description"]))  # fmt: skip
        return Outcome(
            True, "Folder created successfully.", new_id=new.id, new_object_id=new.object_id
        )
    folder = tenant.folders.get(f["id"]) if f["id"] else None  # type: ignore[arg-type]
    if folder is not None and not folder_usable(tenant, folder.id, mid):
        folder = None
    if folder is None:
        return _err(
            396006 if action == "Update" else 396008, f"Folder ID {f['id']} does not exist."
        )
    obj_xml = f'<Object xsi:type="DataFolder">{tag("ID", folder.id)}</Object>'
    if action == "Delete":
        busy = any(x.parent_id == folder.id for x in tenant.folders.values()) or any(
            d.category_id == folder.id for d in tenant.des.values())  # fmt: skip
        if busy or folder.parent_id == 0:
            return _err(
                396010,
                "The folder is not empty (or is a root folder); move or delete its content first.",
            )
        del tenant.folders[folder.id]
        return Outcome(True, "Folder deleted successfully.", object_xml=obj_xml)
    if f["name"]:
        folder.name = str(f["name"])
    if f["description"]:
        folder.description = str(f["description"])
    if f["parent_id"]:
        if f["parent_id"] not in tenant.folders or f["parent_id"] == folder.id:
            return _err(396007, f"ParentFolder ID {f['parent_id']} is not a valid parent folder.")
        folder.parent_id = f["parent_id"]  # type: ignore[assignment]
    return Outcome(True, "Folder updated successfully.", object_xml=obj_xml)


def _row_op(
    tenant: Tenant, action: str, obj: Element, where: str, save_action: str | None, mid: int
) -> Outcome:
    key, name, props, keys = so.parse_deo(obj, where)
    rtype = f"DataExtension{action}Result"
    de = tenant.get_de(key) if key else (tenant.get_de_by_name(name) if name else None)
    de = visible_de(tenant, de, mid)
    if de is None:
        out = _err(310002, f"Data extension {key or name} does not exist.")
        return replace(out, result_type=rtype, error_message=out.message)
    deo = f'<Object xsi:type="DataExtensionObject">{tag("CustomerKey", de.customer_key)}</Object>'
    if action == "Delete":
        problem = de.delete_row(keys or props)
        verb = "Deleted"
    else:
        mode = {"Create": "insert", "Update": "update"}[action]
        if action == "Update" and save_action == "UpdateAdd":
            mode = "upsert"
        problem = de.save_row({**props, **keys}, mode=mode)
        verb = "Created" if action == "Create" else "Updated"
    if problem is None:
        return Outcome(True, f"{verb} DataExtensionObject", result_type=rtype, object_xml=deo)
    return _row_error(problem, rtype, deo)


def _row_error(problem: RowError, rtype: str, deo: str) -> Outcome:
    if problem.violations:
        first = problem.violations[0]
        message = first.message
        return Outcome(False, message, first.code, result_type=rtype, object_xml=deo,
                       error_message=message, value_errors=problem.violations)  # fmt: skip
    if problem.kind == "duplicate":
        message = "Violation of PRIMARY KEY constraint: a row with this primary key already exists."
        return Outcome(
            False, message, 70009, result_type=rtype, object_xml=deo, error_message=message
        )
    code = 70011 if problem.kind == "not_found" else 310007
    return Outcome(False, problem.message, code, result_type=rtype, object_xml=deo,
                   error_message=problem.message)  # fmt: skip


def _perform(tenant: Tenant, msg: Element, mid: int) -> str:
    found = read(msg, ("Options", "Action", "Definitions"), where="PerformRequestMsg",
                 required=("Action", "Definitions"))  # fmt: skip
    if "Options" in found:
        read(found["Options"][0], OPTIONS_BY_ACTION["Perform"], where="PerformRequestMsg/Options")
    action = first_text(found, "Action")
    defs = read(found["Definitions"][0], ("Definition",), where="Definitions", repeat=("Definition",),
                required=("Definition",))  # fmt: skip
    if action != "ClearData":
        msg_ = f"Perform Action {action!r} is not supported by the simulator (only ClearData)."
        raise SoapFault(msg_)
    results = []
    with tenant.lock:
        tenant.settle()
        for i, d in enumerate(defs["Definition"]):
            if xsi_type(d) != "DataExtension":
                msg_ = f"Definitions/Definition[{i}]: ClearData needs xsi:type DataExtension."
                raise SoapFault(msg_)
            p = so.parse_de(d, f"Definition[{i}]")
            de = _find_de(tenant, p, mid)
            if de is None:
                ok, text_, code = (
                    False,
                    f"Data extension {p.customer_key or p.name} does not exist.",
                    310002,
                )
            else:
                de.rows.clear()
                ok, text_, code = True, "Data Extension cleared.", None
            obj = f'<Object xsi:type="DataExtension">{tag("CustomerKey", p.customer_key or "")}</Object>'
            status = "OK" if ok else "Error"
            results.append(
                f"<Result>{tag('StatusCode', status)}{tag('StatusMessage', text_)}{tag('OrdinalID', i)}"
                f"{tag('ErrorCode', code)}{obj}<Task>{tag('StatusCode', status)}"
                f"{tag('StatusMessage', text_)}{tag('ID', uuid.uuid4())}</Task></Result>"
            )  # fmt: skip
    overall = "OK" if all("<StatusCode>OK" in r for r in results) else "Error"
    return ('<PerformResponseMsg xmlns="http://exacttarget.com/wsdl/partnerAPI">'
            f"<Results>{''.join(results)}</Results><OverallStatus>{overall}</OverallStatus>"
            f"<OverallStatusMessage>{esc(overall)}</OverallStatusMessage>"
            f"<RequestID>{uuid.uuid4()}</RequestID></PerformResponseMsg>")  # fmt: skip
