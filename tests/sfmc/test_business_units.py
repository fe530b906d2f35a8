"""Shared Data Extension folders (issue 15): from a child business unit, SOAP must send the
parent's Client/ID, placed where the WSDL allows it, and only for folders that are shared."""

import pytest
import responses

from sfmc import soap
from sfmc.config import SfmcCredentials
from sfmc.folders import shared_owner
from sfmc.types import DataExtension, DeField
from tests.sfmc import fixtures as fx
from tests.sfmc.conftest import add_token
from tests.sfmc.test_soap_fidelity import BODIES
from tests.wsdl_schema import assert_valid_body

PARENT = 100012300
CHILD = 100012345
KEY = DeField("Email", "EmailAddress", 254, is_primary_key=True, is_required=True)


@pytest.mark.parametrize("name", [*sorted(BODIES), "rows by key"])
def test_every_body_with_the_parents_client_id_is_valid_against_the_wsdl(name):
    body = BODIES.get(name) or soap.retrieve(
        "DataExtensionObject[k]", ["Email"], soap.in_filter("Email", ["a@x.org", "b&c@x.org"])
    )
    sent = soap.envelope("t", body, PARENT)
    assert_valid_body(sent)
    assert f"<ID>{PARENT}</ID>" in sent


def _folder(fid, name, parent, content_type, mid):
    client = f"<Client><ID>{mid}</ID></Client>"
    return fx.folder(fid, name, parent, content_type).replace("<ID>", client + "<ID>", 1)


def _listing():
    return fx.retrieve_response(
        _folder(1, "Data Extensions", 0, "dataextension", CHILD)
        + _folder(7, "Shared Data Extensions", 0, "shared_dataextension", PARENT)
        + _folder(8, "Donors", 7, "shared_dataextension", PARENT)
    )


def test_listing_names_each_folders_owner_and_shared_folders_lead_to_the_parent(client):
    with responses.RequestsMock() as rsps:
        add_token(rsps)
        rsps.add(responses.POST, fx.SOAP_URL, body=_listing())
        listing = client.list_folders()
    assert shared_owner(listing, 8) == PARENT
    assert shared_owner(listing, 1) is None
    assert shared_owner(listing, None) is None


@pytest.mark.parametrize(("folder", "client_id"), [(8, PARENT), (1, None)])
def test_a_de_in_a_shared_folder_is_created_with_the_parents_client_id(
    make_client, folder, client_id
):
    client = make_client(credentials=fx_credentials(folder))
    client.act_for_folder(folder)
    with responses.RequestsMock() as rsps:
        add_token(rsps)
        rsps.add(responses.POST, fx.SOAP_URL, body=_listing())
        created = f"<NewID>0</NewID><NewObjectID>guid-{folder}</NewObjectID>"
        rsps.add(
            responses.POST,
            fx.SOAP_URL,
            body=fx.action_response("Create", [("OK", "Data Extension created.", created)]),
        )
        client.create_data_extension(DataExtension("D", "k", category_id=folder, fields=(KEY,)))
        body = rsps.calls[-1].request.body.decode()
    assert_valid_body(body)
    assert (f"<Client><ID>{PARENT}</ID></Client>" in body) is (client_id is not None)


def fx_credentials(folder):
    # One client id per case: the owner lookup is kept per connection and folder.
    return SfmcCredentials(fx.AUTH, f"bu-{folder}", fx.SECRET, account_id=str(CHILD))
