"""SOAP 1.1 envelopes for the simulator: safe parsing (defusedxml), strict readers, writers.

Responses are built as text with every value escaped; their body elements validate against
SFMC's `etframework.wsdl` schema (checked by tests/simulator/test_soap_fidelity.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from defusedxml import ElementTree as SafeET
from werkzeug.wrappers import Response

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
PARTNER = "http://exacttarget.com/wsdl/partnerAPI"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
XSI_TYPE = f"{{{XSI}}}type"

# APIObject's own elements, in schema order; every object type starts with them.
API_OBJECT = (
    "Client", "PartnerKey", "PartnerProperties", "CreatedDate", "ModifiedDate", "ID",
    "ObjectID", "CustomerKey", "Owner", "CorrelationID", "ObjectState",
)  # fmt: skip


class SoapFault(Exception):
    """A request problem answered with an HTTP 500 soap:Fault."""

    def __init__(self, message: str, code: str = "soap:Client") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def ns(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def xsi_type(el: Element) -> str | None:
    value = el.get(XSI_TYPE)
    return None if value is None else value.rsplit(":", 1)[-1]


def text(el: Element | None, *, strip: bool = True) -> str:
    if el is None or el.text is None:
        return ""
    return el.text.strip() if strip else el.text


def parse_envelope(data: bytes) -> tuple[Element, str | None]:
    """(the element inside soap:Body, the fueloauth token or None)."""
    try:
        root = SafeET.fromstring(data)
    except Exception as exc:  # defusedxml raises several types for hostile or broken XML
        msg = f"The request is not well-formed XML: {exc}"
        raise SoapFault(msg) from exc
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        msg = f"Expected a SOAP 1.1 Envelope ({SOAP_ENV}), got {root.tag}."
        raise SoapFault(msg)
    token = None
    header = root.find(f"{{{SOAP_ENV}}}Header")
    if header is not None:
        for el in header.iter():
            if local(el.tag) == "fueloauth" and ns(el.tag) in ("", "http://exacttarget.com"):
                token = text(el) or None
    body = root.find(f"{{{SOAP_ENV}}}Body")
    children = [] if body is None else list(body)
    if len(children) != 1:
        msg = "The soap:Body must contain exactly one request element."
        raise SoapFault(msg)
    request = children[0]
    if ns(request.tag) != PARTNER:
        msg = f"The request element {local(request.tag)} must be in namespace {PARTNER}."
        raise SoapFault(msg)
    return request, token


def read(
    el: Element,
    allowed: Sequence[str],
    *,
    where: str,
    repeat: Iterable[str] = (),
    required: Iterable[str] = (),
) -> dict[str, list[Element]]:
    """Read `el`'s children strictly: known names only, schema order, required ones present.

    SFMC's .NET service silently skips out-of-order elements (losing data); the simulator
    refuses them instead so that client bugs show up in tests.
    """
    order = {name: i for i, name in enumerate(allowed)}
    repeatable = set(repeat)
    found: dict[str, list[Element]] = {}
    last = -1
    for child in el:
        name = local(child.tag)
        if ns(child.tag) != PARTNER:
            msg = f"{where}: element {name} must be in namespace {PARTNER}."
            raise SoapFault(msg)
        if name not in order:
            msg = f"{where}: unknown element {name}; allowed here: {', '.join(allowed)}."
            raise SoapFault(msg)
        if order[name] < last:
            msg = f"{where}: element {name} is out of order; the schema order is {', '.join(allowed)}."
            raise SoapFault(msg)
        if name in found and name not in repeatable:
            msg = f"{where}: element {name} may appear only once."
            raise SoapFault(msg)
        last = order[name]
        found.setdefault(name, []).append(child)
    for name in required:
        if name not in found:
            msg = f"{where}: required element {name} is missing."
            raise SoapFault(msg)
    return found


def first_text(found: dict[str, list[Element]], name: str, *, strip: bool = True) -> str | None:
    items = found.get(name)
    return None if not items else text(items[0], strip=strip)


def parse_bool(value: str | None, where: str) -> bool | None:
    if value is None or value == "":
        return None
    low = value.lower()
    if low in ("true", "1"):
        return True
    if low in ("false", "0"):
        return False
    msg = f"{where}: {value!r} is not an xsd:boolean (use true or false)."
    raise SoapFault(msg)


def parse_int(value: str | None, where: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError as exc:
        msg = f"{where}: {value!r} is not an integer."
        raise SoapFault(msg) from exc


# ----- writing
def esc(value: object) -> str:
    return escape(str(value))


def tag(name: str, value: object | None) -> str:
    """`<name>value</name>`, or "" when value is None (optional elements are left out)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{name}>{esc(value)}</{name}>"


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def envelope(action: str, body: str, *, status: int = 200) -> Response:
    """A response envelope with minimal WS-Addressing and WS-Security timestamp headers."""
    now = datetime.now(UTC)
    xml = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}" xmlns:xsi="{XSI}" '
        f'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:wsa="{WSA}" '
        f'xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}">'
        f"<soap:Header><wsa:Action>{esc(action)}</wsa:Action>"
        f"<wsa:MessageID>urn:uuid:{uuid.uuid4()}</wsa:MessageID>"
        f"<wsa:RelatesTo>urn:uuid:{uuid.uuid4()}</wsa:RelatesTo>"
        f"<wsa:To>{WSA}/role/anonymous</wsa:To>"
        f'<wsse:Security><wsu:Timestamp wsu:Id="Timestamp-{uuid.uuid4()}">'
        f"<wsu:Created>{_stamp(now)}</wsu:Created>"
        f"<wsu:Expires>{_stamp(now + timedelta(minutes=5))}</wsu:Expires>"
        "</wsu:Timestamp></wsse:Security></soap:Header>"
        f"<soap:Body>{body}</soap:Body></soap:Envelope>"
    )
    return Response(xml.encode("utf-8"), status=status, content_type="text/xml; charset=utf-8")


def fault(code: str, message: str, base_url: str, *, detail_code: int | None = None) -> Response:
    """An HTTP 500 soap:Fault (`detail_code` adds SFMC's apifault detail, e.g. 17 Rate Limited)."""
    code_ns = f' xmlns:q0="{WSSE}"' if code.startswith("q0:") else ""
    detail = ""
    if detail_code is not None:
        detail = (
            '<detail><apifault xmlns="urn:fault.partner.exacttarget.com">'
            f"<Code>{detail_code}</Code><Message>{esc(message)}</Message></apifault></detail>"
        )
    body = (
        f"<soap:Fault><faultcode{code_ns}>{esc(code)}</faultcode>"
        f"<faultstring>{esc(message)}</faultstring>"
        f"<faultactor>{esc(base_url)}/Service.asmx</faultactor>{detail}</soap:Fault>"
    )
    return envelope(f"{WSA}/fault", body, status=500)


def security_fault(message: str, base_url: str) -> Response:
    """Token Expired / Login Failed / missing header: faultcode q0:Security."""
    return fault("q0:Security", message, base_url)
