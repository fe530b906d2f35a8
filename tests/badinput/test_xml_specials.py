"""SOAP/XML special characters in DE names, field names and values round-trip unchanged."""

from __future__ import annotations

import pytest
import requests

from sfmc.client import SfmcClient
from sfmc.config import SfmcCredentials
from sfmc.types import DataExtension, DeField
from simulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET

SPECIALS = {
    "less-than": "<",
    "ampersand": "&",
    "cdata end": "]]>",
    "all together": "<&]]>\"'&amp;<![CDATA[",
}


@pytest.mark.parametrize("case", list(SPECIALS))
def test_special_characters_round_trip_through_soap_and_rest(sim, case):
    text = SPECIALS[case]
    client = SfmcClient(
        credentials=SfmcCredentials(sim.auth_uri, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
        allow_local=True,
    )
    name, key, note = f"Donors {text} 2024", f"k{text}1", f"Note {text}"
    fields = (
        DeField("Email", "EmailAddress", 254, is_primary_key=True, is_required=True),
        DeField(note, "Text", 200),
    )
    root = client.list_folders().folders[0].id
    client.create_data_extension(
        DataExtension(name=name, customer_key=key, category_id=root, fields=fields)
    )
    found = client.find_data_extension(name=name)  # SOAP filter on the name
    assert found is not None
    assert (found.name, found.customer_key) == (name, key)
    assert [f.name for f in found.fields] == ["Email", note]

    value = f"a {text} b"
    email = "x+tag@example.org"
    request_id = client.submit_rows(key, [{"Email": email, note: value}], mode="upsert")
    assert client.wait_for_rows(request_id, 1)[0].ok
    assert list(client.iter_rows(key, ["Email", note])) == [{"Email": email, note: value}]
    stored = requests.get(
        f"{sim.base_url}/_sim/dataextensions/{requests.utils.quote(key, safe='')}/rows", timeout=10
    ).json()["items"]
    assert stored == [{"Email": email, note: value}]

    assert [o.ok for o in client.delete_rows(key, [{"Email": email}])] == [True]
    assert list(client.iter_rows(key, ["Email"])) == []
