"""SOAP `POST /Service.asmx`: dispatch by SOAPAction, and Retrieve with paging and filters.

Supported: Retrieve DataFolder / DataExtension / DataExtensionField / DataExtensionObject[key]
(2,500-row pages, ContinueRequest), and in `soap_ops`: Create / Update / Delete of DataExtension,
DataFolder, DataExtensionObject and Perform ClearData. Anything else is a fault or an
"Error: ..." OverallStatus, as SFMC answers it; nothing is guessed.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element

from werkzeug.wrappers import Response

import simulator.soap_objects as so
import simulator.soap_ops as ops
from simulator.business_units import de_mid, folder_mid, request_mid, visible_de
from simulator.routing import Call
from simulator.soapxml import (
    SoapFault,
    envelope,
    fault,
    first_text,
    local,
    parse_envelope,
    read,
    xsi_type,
)

if TYPE_CHECKING:
    from simulator.routing import Router
    from simulator.state import Tenant

PAGE_SIZE = 2_500
ACTIONS = {
    "Retrieve": ("RetrieveRequestMsg", "data_extensions_read"),
    "Create": ("CreateRequest", "data_extensions_write"),
    "Update": ("UpdateRequest", "data_extensions_write"),
    "Delete": ("DeleteRequest", "data_extensions_write"),
    "Perform": ("PerformRequestMsg", "data_extensions_write"),
}
# Object types that need a scope beyond the action's: folders are Saved Content in SFMC's
# permission model (what sfmc/scopes.py's checklist assumes for the Category dropdown).
OBJECT_SCOPES = {("Retrieve", "DataFolder"): "saved_content_read"}
RETRIEVE_REQUEST = ("ClientIDs", "ObjectType", "Properties", "Filter", "RespondTo",
    "PartnerProperties", "ContinueRequest", "QueryAllAccounts", "RetrieveAllSinceLastBatch",
    "RepeatLastResult", "Retrieves", "Options")  # fmt: skip
RETRIEVE_OPTIONS = ("Client", "SendResponseTo", "SaveOptions", "Priority", "ConversationID",
    "SequenceCode", "CallsInConversation", "ScheduledTime", "RequestType", "QueuePriority",
    "BatchSize", "IncludeObjects", "OnlyIncludeBase")  # fmt: skip
SIMPLE_FILTER = ("Property", "SimpleOperator", "Value", "DateValue")
COMPLEX_FILTER = ("LeftOperand", "LogicalOperator", "RightOperand", "AdditionalOperands")
OPERATORS = {"equals", "notEquals", "greaterThan", "lessThan", "isNull", "isNotNull",
             "greaterThanOrEqual", "lessThanOrEqual", "between", "IN", "like", "existsInString",
             "existsInStringAsAWord", "notExistsInString", "beginsWith", "endsWith", "contains",
             "notContains"}  # fmt: skip
Predicate = Callable[[Callable[[str], str | None]], bool]


def endpoint(call: Call) -> Response:
    """The whole of `/Service.asmx`."""
    base = call.sim.base_url
    action = call.request.headers.get("SOAPAction", "").strip().strip('"')
    action = action.rsplit("/", 1)[-1]
    try:
        request, token = parse_envelope(call.request.get_data())
        if action not in ACTIONS:
            msg = f"Server did not recognize the value of HTTP Header SOAPAction: {action}."
            raise SoapFault(msg)
        element, scope = ACTIONS[action]
        if local(request.tag) != element:
            msg = f"SOAPAction {action} expects a {element} body, got {local(request.tag)}."
            raise SoapFault(msg)
        denied = call.soap_gate(token, scope) or call.soap_scope(
            OBJECT_SCOPES.get((action, _retrieve_object_type(request)))
        )
        if denied is not None:
            return denied
        call.sim.stats.hit(f"soap:{action}", api=False)
        assert call.token is not None
        mid = request_mid(request, call.token.mid)
        if action == "Retrieve":
            return envelope("RetrieveResponse", retrieve(call.tenant, request, mid))
        return envelope(f"{action}Response", ops.handle(call.tenant, action, request, mid))
    except SoapFault as exc:
        return fault(exc.code, exc.message, base)


def _retrieve_object_type(msg: Element) -> str | None:
    """The ObjectType of a RetrieveRequestMsg (None for other bodies or when absent)."""
    for request in msg:
        if local(request.tag) == "RetrieveRequest":
            for child in request:
                if local(child.tag) == "ObjectType":
                    return (child.text or "").strip()
    return None


def _response(status: str, request_id: str, results: str = "") -> str:
    return (
        '<RetrieveResponseMsg xmlns="http://exacttarget.com/wsdl/partnerAPI">'
        f"<OverallStatus>{so.esc(status)}</OverallStatus><RequestID>{request_id}</RequestID>"
        f"{results}</RetrieveResponseMsg>"
    )


def retrieve(tenant: Tenant, msg: Element, mid: int) -> str:
    """Answer a RetrieveRequestMsg acting in business unit `mid` (see `simulator.business_units`)."""
    found = read(
        msg, ("RetrieveRequest",), where="RetrieveRequestMsg", required=("RetrieveRequest",)
    )
    req = read(found["RetrieveRequest"][0], RETRIEVE_REQUEST, where="RetrieveRequest",
               repeat=("ClientIDs", "Properties", "RespondTo", "PartnerProperties"))  # fmt: skip
    request_id = str(uuid.uuid4())
    page = PAGE_SIZE
    if "Options" in req:
        opts = read(req["Options"][0], RETRIEVE_OPTIONS, where="RetrieveRequest/Options",
                    repeat=("SendResponseTo",))  # fmt: skip
        size = so.parse_int(first_text(opts, "BatchSize"), "Options/BatchSize")
        page = min(PAGE_SIZE, size) if size and size > 0 else PAGE_SIZE
    continue_id = first_text(req, "ContinueRequest")
    with tenant.lock:
        tenant.settle()
        if continue_id:
            remaining = tenant.continuations.pop(continue_id, None)
            if remaining is None:
                return _response(f"Error: ContinueRequest {continue_id} is unknown or expired.",
                                 request_id)  # fmt: skip
            return _page(tenant, remaining, request_id)
        object_type = first_text(req, "ObjectType")
        if not object_type:
            msg_0 = "RetrieveRequest: required element ObjectType is missing."
            raise SoapFault(msg_0)
        props = [so.text(p) for p in req.get("Properties", [])]
        if not props:
            return _response("Error: At least one Property must be requested.", request_id)
        try:
            predicate = _filter(req["Filter"][0]) if "Filter" in req else None
            records = _records(tenant, object_type, props, mid)
        except _RetrieveError as exc:
            return _response(f"Error: {exc}", request_id)

        def selected() -> Iterator[str]:
            for get, render in records:
                if predicate is None or predicate(get):
                    yield render()

        return _page(tenant, (selected(), page), request_id)


def _page(tenant: Tenant, state: tuple[Iterator[str], int], request_id: str) -> str:
    results, size = state
    chunk = list(itertools.islice(results, size))
    more = next(results, None)
    if more is None:
        return _response("OK", request_id, "".join(chunk))
    tenant.continuations[request_id] = (itertools.chain([more], results), size)
    while len(tenant.continuations) > 100:  # forget abandoned retrieves
        tenant.continuations.pop(next(iter(tenant.continuations)))
    return _response("MoreDataAvailable", request_id, "".join(chunk))


class _RetrieveError(Exception):
    pass


def _check_props(props: list[str], allowed: tuple[str, ...], object_type: str) -> set[str]:
    bad = [p for p in props if p not in allowed]
    if bad:
        msg = f"The Request Property(s) {', '.join(bad)} do not match with the fields of {object_type} retrieve"
        raise _RetrieveError(msg)
    return set(props)


def _records(tenant: Tenant, object_type: str, props: list[str], mid: int):
    """(getter, renderer) pairs; renderers are lazy so paging a huge DE stays cheap.

    Folders and DEs carry their owner's MID in Client.ID; a shared DE's rows need `mid` to be
    the parent's.
    """
    if object_type == "DataFolder":
        wanted = _check_props(props, so.FOLDER_PROPS, object_type)
        recs = [
            so.folder_record(f, tenant.folders.get(f.parent_id), folder_mid(tenant, f.id))
            for f in tenant.folders.values()
        ]
        return [(r.get, lambda r=r: so.render_folder(r, wanted)) for r in recs]
    if object_type == "DataExtension":
        wanted = _check_props(props, so.DE_PROPS, object_type)
        recs = [so.de_record(d, de_mid(tenant, d)) for d in tenant.des.values()]
        return [(r.get, lambda r=r: so.render_de(r, wanted)) for r in recs]
    if object_type == "DataExtensionField":
        wanted = _check_props(props, so.FIELD_PROPS, object_type)
        recs = [
            so.field_record(d, i, de_mid(tenant, d))
            for d in tenant.des.values()
            for i in range(len(d.fields))
        ]
        return [(r.get, lambda r=r: so.render_field(r, wanted)) for r in recs]
    match = re.fullmatch(r"DataExtensionObject\[(.+)\]", object_type)
    if match:
        de = tenant.get_de(match.group(1)) or tenant.get_de_by_name(match.group(1))
        de = visible_de(tenant, de, mid)  # a shared DE is not found from the child unit
        if de is None:
            msg = f"Data extension {match.group(1)} does not exist."
            raise _RetrieveError(msg)
        idx = [de.index_of(p) for p in props]
        bad = [p for p, i in zip(props, idx, strict=True) if i is None]
        if bad:
            msg = f"The Request Property(s) {', '.join(bad)} do not match with the fields of DataExtensionObject retrieve"
            raise _RetrieveError(msg)
        names = [de.fields[i].name for i in idx if i is not None]

        def pairs(row: tuple) -> Iterator:
            get = lambda name: row[de.index_of(name)] if de.index_of(name) is not None else None  # noqa: E731
            return (
                get,
                lambda: so.render_row((n, row[i]) for n, i in zip(names, idx, strict=True)),
            )

        return (pairs(row) for row in list(de.rows.values()))
    msg = f"Unable to find a handler for object type: {object_type}. Object types are case-sensitive, check spelling."
    raise _RetrieveError(msg)


def _num(a: str | None, b: str) -> tuple[object, object]:
    try:
        return float(a or ""), float(b)
    except ValueError:
        return (a or "").casefold(), b.casefold()


def _like(pattern: str) -> re.Pattern[str]:
    rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile(f"^{rx}$", re.I | re.S)


def _filter(el: Element) -> Predicate:
    kind = xsi_type(el)
    if kind == "SimpleFilterPart":
        found = read(el, SIMPLE_FILTER, where="Filter", repeat=("Value", "DateValue"),
                     required=("Property", "SimpleOperator"))  # fmt: skip
        prop, op = first_text(found, "Property") or "", first_text(found, "SimpleOperator") or ""
        if op not in OPERATORS:
            msg = f"Filter: SimpleOperator {op!r} is not supported; use one of {sorted(OPERATORS)}."
            raise SoapFault(msg)
        values = [
            so.text(v, strip=False) for v in found.get("Value", []) + found.get("DateValue", [])
        ]
        return _simple(prop, op, values)
    if kind == "ComplexFilterPart":
        found = read(
            el, COMPLEX_FILTER, where="Filter", required=("LeftOperand", "LogicalOperator")
        )
        parts = [_filter(found["LeftOperand"][0])]
        parts += [_filter(x) for x in found.get("RightOperand", [])]
        if "AdditionalOperands" in found:
            extra = read(found["AdditionalOperands"][0], ("Operand",), where="AdditionalOperands",
                         repeat=("Operand",))  # fmt: skip
            parts += [_filter(x) for x in extra.get("Operand", [])]
        logic = first_text(found, "LogicalOperator")
        if logic not in ("AND", "OR"):
            msg = f"Filter: LogicalOperator {logic!r} must be AND or OR."
            raise SoapFault(msg)
        combine = all if logic == "AND" else any
        return lambda get: combine(p(get) for p in parts)
    msg = "Filter needs xsi:type SimpleFilterPart or ComplexFilterPart."
    raise SoapFault(msg)


def _simple(prop: str, op: str, values: list[str]) -> Predicate:
    if op not in ("isNull", "isNotNull") and not values:
        msg = f"Filter on {prop}: operator {op} needs a Value."
        raise SoapFault(msg)
    first = values[0] if values else ""
    low = {v.casefold() for v in values}

    def test(get: Callable[[str], str | None]) -> bool:
        got = get(prop)
        if op == "isNull":
            return got in (None, "")
        if op == "isNotNull":
            return got not in (None, "")
        text_ = (got or "").casefold()
        if op == "equals":
            a, b = _num(got, first)
            return a == b
        if op == "notEquals":
            a, b = _num(got, first)
            return a != b
        if op in ("greaterThan", "lessThan", "greaterThanOrEqual", "lessThanOrEqual"):
            a, b = _num(got, first)
            try:
                return {"greaterThan": a > b, "lessThan": a < b, "greaterThanOrEqual": a >= b,  # type: ignore[operator]
                        "lessThanOrEqual": a <= b}[op]  # type: ignore[operator]  # fmt: skip
            except TypeError:
                return False
        if op == "between":
            lo, hi = _num(got, first), _num(got, values[-1])
            try:
                return lo[1] <= lo[0] <= hi[1]  # type: ignore[operator]
            except TypeError:
                return False
        if op == "IN":
            return text_ in low
        if op == "like":
            return bool(_like(first).match(got or ""))
        if op == "beginsWith":
            return text_.startswith(first.casefold())
        if op == "endsWith":
            return text_.endswith(first.casefold())
        if op in ("contains", "existsInString", "existsInStringAsAWord"):
            return first.casefold() in text_
        return first.casefold() not in text_  # notContains, notExistsInString

    return test


def register(router: Router) -> None:
    """Add `/Service.asmx` (matched case-insensitively, see `Simulator._normalise_path`)."""
    router.add("/Service.asmx", endpoint, methods=("POST",), kind="soap", endpoint="POST soap")
