"""XML is parsed with defusedxml: billion laughs and external entities are refused on both ends."""

from __future__ import annotations

import http.server
import threading
import time

import pytest
import requests
import responses
from defusedxml import DefusedXmlException

from sfmc import soap
from sfmc.client import SfmcClient
from sfmc.config import SfmcCredentials
from sfmc.errors import SfmcError
from simulator import SimulatorConfig, start_simulator

ENVELOPE = (
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
    '<soap:Header><fueloauth xmlns="http://exacttarget.com">{token}</fueloauth></soap:Header>'
    '<soap:Body><RetrieveRequestMsg xmlns="http://exacttarget.com/wsdl/partnerAPI">'
    "<RetrieveRequest><ObjectType>DataExtension</ObjectType><Properties>{prop}</Properties>"
    "</RetrieveRequest></RetrieveRequestMsg></soap:Body></soap:Envelope>"
)
LAUGHS = "".join(
    f'<!ENTITY lol{i} "{"&lol" + str(i - 1) + ";" if i else "lol"}{("&lol" + str(i - 1) + ";") * 9 if i else ""}">'
    for i in range(10)
)
HOSTILE = {
    "billion laughs": f'<?xml version="1.0"?><!DOCTYPE x [{LAUGHS}]>'
    + ENVELOPE.format(token="t", prop="&lol9;"),
    "external entity": '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    + ENVELOPE.format(token="&xxe;", prop="Name"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_client_soap_parser_refuses(case):
    with pytest.raises(DefusedXmlException):
        soap.parse_response(HOSTILE[case])
    assert soap.parse_fault(HOSTILE[case]) is None  # never expanded, never trusted


@pytest.mark.parametrize("case", list(HOSTILE))
@responses.activate
def test_client_turns_a_hostile_soap_answer_into_a_plain_error(case):
    responses.post(
        "https://mc1.auth.marketingcloudapis.com/v2/token",
        json={
            "access_token": "tok",
            "expires_in": 1079,
            "rest_instance_url": "https://mc1.rest.marketingcloudapis.com/",
            "soap_instance_url": "https://mc1.soap.marketingcloudapis.com/",
        },
    )
    responses.post("https://mc1.soap.marketingcloudapis.com/Service.asmx", body=HOSTILE[case])
    client = SfmcClient(credentials=SfmcCredentials("mc1", "id", "secret"), max_retries=0)
    started = time.monotonic()
    with pytest.raises(SfmcError, match="could not be read"):
        client.list_data_extensions()
    assert time.monotonic() - started < 5
    assert len(responses.calls) == 2


@pytest.mark.parametrize("case", list(HOSTILE))
def test_simulator_soap_parser_refuses(case):
    config = SimulatorConfig(latency_ms=0, soap_latency_ms=0, rate_limit=0)
    with start_simulator(config) as sim:
        started = time.monotonic()
        resp = requests.post(
            f"{sim.base_url}/Service.asmx",
            data=HOSTILE[case].encode(),
            headers={"Content-Type": "text/xml", "SOAPAction": "Retrieve"},
            timeout=10,
        )
        assert time.monotonic() - started < 5
    assert resp.status_code == 500
    assert "soap:Fault" in resp.text or "faultstring" in resp.text
    assert "root:" not in resp.text  # /etc/passwd was not read
    assert "lollollol" not in resp.text


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        _Recorder.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'<!ENTITY leak "leaked">')

    def log_message(self, *_args: object) -> None:
        return


def test_external_dtd_is_never_fetched():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/evil.dtd"
        doc = f'<?xml version="1.0"?><!DOCTYPE x SYSTEM "{url}">' + ENVELOPE.format(
            token="t", prop="Name"
        )
        try:
            soap.parse_response(doc)
        except (DefusedXmlException, ValueError):
            pass  # refusing is fine too; fetching is not
        config = SimulatorConfig(latency_ms=0, soap_latency_ms=0, rate_limit=0)
        with start_simulator(config) as sim:
            resp = requests.post(f"{sim.base_url}/Service.asmx", data=doc.encode(),
                                 headers={"Content-Type": "text/xml", "SOAPAction": "Retrieve"},
                                 timeout=10)  # fmt: skip
        assert "leaked" not in resp.text
        assert _Recorder.hits == []
    finally:
        server.shutdown()
        server.server_close()
