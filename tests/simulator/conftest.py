from __future__ import annotations

import pytest
import requests

from simulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SimulatorConfig, start_simulator
from tests.fixtures import ManualClock

PARTNER = "http://exacttarget.com/wsdl/partnerAPI"
FAST = {"latency_ms": 0, "soap_latency_ms": 0, "rowset_ms_per_row": 0, "async_rows_per_s": 1e9,
        "async_not_found_ms": 0, "rate_limit": 0}  # fmt: skip


class Sim:
    """A running simulator plus request helpers for tests."""

    def __init__(self, running, client=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)):
        self.running = running
        self.url = running.base_url
        self.http = requests.Session()
        self.client = client
        self._token = None

    def token(self, **extra):
        body = {"grant_type": "client_credentials", "client_id": self.client[0],
                "client_secret": self.client[1], **extra}  # fmt: skip
        resp = self.http.post(self.url + "/v2/token", json=body)
        assert resp.status_code == 200, resp.text
        return resp.json()["access_token"]

    @property
    def bearer(self):
        if self._token is None:
            self._token = self.token()
        return self._token

    def rest(self, method, path, token=None, **kw):
        headers = {"Authorization": f"Bearer {token or self.bearer}"}
        return self.http.request(method, self.url + path, headers=headers, timeout=10, **kw)

    def envelope(self, body, token=None):
        tok = self.bearer if token is None else token
        header = f'<fueloauth xmlns="http://exacttarget.com">{tok}</fueloauth>' if tok else ""
        return (
            '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            f"<soap:Header>{header}</soap:Header><soap:Body>{body}</soap:Body></soap:Envelope>"
        )

    def soap(self, action, body, token=None, path="/Service.asmx"):
        envelope = self.envelope(body, token)
        self.sent.append(envelope)
        return self.http.post(self.url + path, data=envelope.encode(),
                              headers={"SOAPAction": action, "Content-Type": "text/xml"},
                              timeout=10)  # fmt: skip

    sent: list[str]

    def rows(self, key):
        return self.http.get(f"{self.url}/_sim/dataextensions/{key}/rows").json()

    def faults(self, **knobs):
        resp = self.http.post(self.url + "/_sim/faults", json=knobs)
        assert resp.status_code == 200, resp.text
        return resp.json()


def retrieve(object_type, props, filter_xml="", extra=""):
    p = "".join(f"<Properties>{x}</Properties>" for x in props)
    return (f'<RetrieveRequestMsg xmlns="{PARTNER}"><RetrieveRequest><ObjectType>{object_type}'
            f"</ObjectType>{p}{filter_xml}{extra}</RetrieveRequest></RetrieveRequestMsg>")  # fmt: skip


def simple_filter(prop, op, value):
    return (f'<Filter xsi:type="SimpleFilterPart"><Property>{prop}</Property>'
            f"<SimpleOperator>{op}</SimpleOperator><Value>{value}</Value></Filter>")  # fmt: skip


def field_xml(name, ftype="Text", max_length=None, pk=False, required=False, extra=""):
    ml = f"<MaxLength>{max_length}</MaxLength>" if max_length else ""
    req = "true" if required or pk else "false"
    return (f"<Field><Name>{name}</Name>{ml}<IsRequired>{req}</IsRequired>"
            f"<IsPrimaryKey>{'true' if pk else 'false'}</IsPrimaryKey><FieldType>{ftype}</FieldType>"
            f"{extra}</Field>")  # fmt: skip


def create_de(key, name, fields, category=None):
    cat = f"<CategoryID>{category}</CategoryID>" if category else ""
    return (f'<CreateRequest xmlns="{PARTNER}"><Options/><Objects xsi:type="DataExtension">'
            f"<CustomerKey>{key}</CustomerKey><Name>{name}</Name><Fields>{''.join(fields)}</Fields>"
            f"{cat}</Objects></CreateRequest>")  # fmt: skip


def _start(**overrides):
    cfg = {**FAST, **overrides}
    return start_simulator(SimulatorConfig(**cfg))


@pytest.fixture
def make_sim():
    started = []

    def factory(client=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET), **overrides):
        running = _start(**overrides)
        started.append(running)
        sim = Sim(running, client)
        sim.sent = []
        return sim

    yield factory
    for running in started:
        running.stop()


@pytest.fixture
def sim(make_sim):
    return make_sim(seed="demo")


@pytest.fixture
def clock():
    return ManualClock()
