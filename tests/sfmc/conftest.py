import pytest
import responses

from sfmc.client import SfmcClient
from sfmc.config import SfmcCredentials
from tests.sfmc import fixtures as fx


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def make_client(sleeps):
    def make(**kwargs):
        creds = kwargs.pop("credentials", None) or SfmcCredentials(fx.AUTH, "cid", fx.SECRET)
        kwargs.setdefault("sleep", sleeps.append)
        return SfmcClient(credentials=creds, **kwargs)

    return make


@pytest.fixture
def client(make_client):
    return make_client()


def soap_body_has(*parts):
    """A responses matcher: the SOAP request body contains every part."""

    def match(request):
        body = request.body.decode() if isinstance(request.body, bytes) else (request.body or "")
        missing = [p for p in parts if p not in body]
        return (not missing, f"SOAP body lacks {missing}")

    return match


def add_token(rsps, **kwargs):
    rsps.add(responses.POST, fx.TOKEN_URL, json=fx.token(**kwargs))


def expect_create(rsps, *parts, object_id="guid-9"):
    """A token, then a SOAP Create whose body contains every part, answered "created"."""
    add_token(rsps)
    created = f"<NewID>0</NewID><NewObjectID>{object_id}</NewObjectID>"
    rsps.add(
        responses.POST,
        fx.SOAP_URL,
        body=fx.action_response("Create", [("OK", "Data Extension created.", created)]),
        match=[
            soap_body_has(*parts),
            responses.matchers.header_matcher({"SOAPAction": "Create"}),
        ],
    )
