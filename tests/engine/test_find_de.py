"""The engine's DE lookup retrieves the DE and its fields at once (real simulator).

Timing is measured by `python -m bench resync`, not here; this pins that the result is the same.
"""

from __future__ import annotations

from sfmc.client import SfmcClient
from sfmc.config import SfmcCredentials
from sfmc.data_extensions import find_data_extension_concurrently
from sfmc.types import DataExtension, DeField
from simulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from tests.engine.conftest import ROOT_FOLDER


def _client(sim) -> SfmcClient:
    creds = SfmcCredentials(
        auth_base_uri=sim.auth_uri, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET
    )
    return SfmcClient(credentials=creds, allow_local=True)


def test_concurrent_find_equals_the_client_method(sim):
    client = _client(sim)
    de = DataExtension(
        name="Concurrent find",
        customer_key="concurrent-find",
        category_id=ROOT_FOLDER,
        fields=(
            DeField(
                name="Email",
                field_type="EmailAddress",
                max_length=254,
                is_primary_key=True,
                is_required=True,
            ),
            DeField(name="Name", field_type="Text", max_length=50),
            DeField(name="Score", field_type="Decimal", precision=10, scale=2),
        ),
    )
    client.create_data_extension(de)
    found = find_data_extension_concurrently(client, "concurrent-find")
    assert found == client.find_data_extension(customer_key="concurrent-find")
    assert [f.name for f in found.fields] == ["Email", "Name", "Score"]
    assert find_data_extension_concurrently(client, "no-such-de") is None
