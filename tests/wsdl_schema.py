"""Load SFMC's partner API schema from `../shared/sfmc/etframework.wsdl` for fidelity tests.

Usage (client and simulator tests alike)::

    from tests.wsdl_schema import assert_valid_body, wsdl_schema

    schema = wsdl_schema()          # skips the test when the WSDL is absent (fails under CI=true)
    assert_valid_body(xml_bytes)    # a full SOAP envelope or a bare body element

The WSDL's `<types>` holds one XML Schema whose first child imports `ETFrameworkFault.xsd` from
Salesforce's servers (unreachable here); that import is dropped before building the lxml schema.
Validation targets the element inside `soap:Body`, never the envelope (see shared/sfmc/README.md).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

WSDL_PATH = Path(__file__).resolve().parents[1] / ".." / "shared" / "sfmc" / "etframework.wsdl"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSD = "http://www.w3.org/2001/XMLSchema"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"


@functools.cache
def _load_schema():
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    wsdl = etree.parse(str(WSDL_PATH), parser)
    schema_el = wsdl.find(f"{{{WSDL_NS}}}types/{{{XSD}}}schema")
    for imp in schema_el.findall(f"{{{XSD}}}import"):
        schema_el.remove(imp)
    return etree.XMLSchema(etree.fromstring(etree.tostring(schema_el)))


def wsdl_schema():
    """The partner API `lxml.etree.XMLSchema`.

    Without the WSDL the calling test is skipped on a developer's machine, but fails under
    `CI=true`: a CI run must never pass fidelity tests that did not validate anything.
    """
    if not WSDL_PATH.is_file():
        msg = f"SFMC WSDL not found at {WSDL_PATH} (it lives outside the repo in ../shared)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return _load_schema()


def body_element(xml: bytes | str):
    """The first element inside `soap:Body` of an envelope, or the element itself if bare."""
    from lxml import etree

    data = xml.encode() if isinstance(xml, str) else xml
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    if root.tag == f"{{{SOAP_ENV}}}Envelope":
        body = root.find(f"{{{SOAP_ENV}}}Body")
        assert body is not None, "SOAP envelope without a Body"
        children = [c for c in body if isinstance(c.tag, str)]
        assert children, "SOAP Body is empty"
        return children[0]
    return root


def validation_errors(xml: bytes | str) -> list[str]:
    """Schema errors of the body element (empty when valid); skips if the WSDL is absent."""
    schema = wsdl_schema()
    element = body_element(xml)
    if schema.validate(element):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]


def assert_valid_body(xml: bytes | str) -> None:
    """Assert that the element inside soap:Body is valid against the partner API schema."""
    errors = validation_errors(xml)
    text = xml.decode(errors="replace") if isinstance(xml, bytes) else xml
    assert not errors, (
        "SOAP body is not valid against etframework.wsdl:\n"
        + "\n".join(errors[:10])
        + "\n--- body ---\n"
        + text[:3000]
    )
