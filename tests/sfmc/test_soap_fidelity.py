"""Every SOAP body the client can send validates against ../shared/sfmc/etframework.wsdl."""

import pytest
import responses

from sfmc import soap
from sfmc.types import EMAIL_ADDRESS, DataExtension, DeField, Retention, Sending
from tests.sfmc import fixtures as fx
from tests.sfmc.conftest import add_token
from tests.wsdl_schema import assert_valid_body, validation_errors

FIELDS = (
    DeField("Email", "EmailAddress", 254, is_primary_key=True, is_required=True),
    DeField("Name <&>", "Text", 100, default_value="n/a"),
    DeField("Score", "Decimal", precision=18, scale=2),
    DeField("Joined", "Date", default_value="Now()"),
    DeField("Opted", "Boolean"),
    DeField("Age", "Number"),
)
BODIES = {
    "retrieve folders": soap.retrieve(
        "DataFolder",
        soap.FOLDER_PROPERTIES,
        soap.or_filter(
            ("ContentType", "equals", "dataextension"),
            ("ContentType", "equals", "shared_dataextension"),
        ),
    ),
    "retrieve DEs": soap.retrieve("DataExtension", soap.DE_PROPERTIES),
    "find DE": soap.retrieve(
        "DataExtension", soap.DE_PROPERTIES, soap.simple_filter("Name", "equals", "A & 'B'")
    ),
    "describe fields": soap.retrieve(
        "DataExtensionField",
        soap.FIELD_PROPERTIES,
        soap.simple_filter("DataExtension.CustomerKey", "equals", "k"),
    ),
    "read rows": soap.retrieve("DataExtensionObject[k]", ["Email", "Name"]),
    "continue": soap.continue_retrieve("DataExtensionObject[k]", "req-1"),
    "create DE": soap.create_data_extension(
        name="A & B", customer_key="k", fields=FIELDS, category_id=12
    ),
    "create sendable DE with retention": soap.create_data_extension(
        name="S",
        customer_key="k",
        fields=FIELDS,
        category_id=12,
        sending=Sending("Email", EMAIL_ADDRESS, testable=True),
        retention=Retention(6, "Months", reset_on_import=True),
    ),
    "make DE sendable": soap.update_sending("k", Sending("Email", EMAIL_ADDRESS)),
    "create DE without folder": soap.create_data_extension(
        name="A", customer_key="k", fields=FIELDS[:1], category_id=None
    ),
    "add fields": soap.update_fields(
        "k", [(FIELDS[1], None), (DeField("Name", "Text", 200), "obj-1")]
    ),
    "delete DE": soap.delete_data_extension("k"),
    "delete rows": soap.delete_rows(
        "k", [{"Email": "a@x.org"}, {"Email": "b@x.org", "Region": True}]
    ),
    "clear data": soap.clear_data("k"),
}


@pytest.mark.parametrize("name", sorted(BODIES))
def test_body_is_valid_against_the_wsdl(name):
    assert_valid_body(soap.envelope("token<&>", BODIES[name]))


def test_out_of_order_elements_are_caught():
    """The schema uses sequences: CategoryID before Fields (as in some docs) must be rejected."""
    bad = BODIES["create DE"].replace("<CategoryID>12</CategoryID>", "")
    bad = bad.replace("<Fields>", "<CategoryID>12</CategoryID><Fields>", 1)
    assert validation_errors(soap.envelope("t", bad))


def _answer(request):
    action = request.headers["SOAPAction"]
    if action == "Retrieve":
        results = fx.de_result("k", "A", 3) + fx.field_result(
            "Email", "EmailAddress", 254, pk=True, required=True
        )
        return 200, {}, fx.retrieve_response(results)
    if action == "Perform":
        return 200, {}, fx.perform_response()
    return 200, {}, fx.action_response(action, [("OK", "done", "")])


def test_every_body_the_client_sends_is_valid(client):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        add_token(rsps)
        rsps.add_callback(responses.POST, fx.SOAP_URL, callback=_answer)
        client.list_folders()
        client.list_data_extensions()
        client.find_data_extension(name="A")
        client.create_data_extension(DataExtension("A", "k", category_id=3, fields=FIELDS))
        client.add_fields("k", [DeField("Tier", "Text", 20)])
        list(client.iter_rows("k", ["Email"]))
        client.delete_rows("k", [{"Email": "a@x.org"}])
        client.clear_data("k")
        client.delete_data_extension("k")
        client.test_connection()
        bodies = [c.request.body for c in rsps.calls if c.request.url == fx.SOAP_URL]
    assert len(bodies) >= 12
    for body in bodies:
        assert_valid_body(body)
