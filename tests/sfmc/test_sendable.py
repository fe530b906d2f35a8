"""Sendable Data Extensions, test sends and data retention in the client (issue 19).

The Create and the "Used for Sending" Update carry `IsSendable`, `IsTestable`, the send
relationship and the retention elements in WSDL order; SFMC's rules are checked before any call.
"""

import pytest
import responses
from responses import matchers

from sfmc import soap
from sfmc.errors import SfmcConfigError
from sfmc.schema import retention_problems, sending_problems
from sfmc.types import (
    EMAIL_ADDRESS,
    SUBSCRIBER_KEY,
    DataExtension,
    DeField,
    Retention,
    Sending,
)
from tests.sfmc import fixtures as fx
from tests.sfmc.conftest import add_token, expect_create, soap_body_has
from tests.wsdl_schema import assert_valid_body, validation_errors

KEY = DeField("Id", "Text", 50, is_primary_key=True, is_required=True)
EMAIL = DeField("Email", "EmailAddress", 254, is_required=True)
LOOSE_EMAIL = DeField("Email", "EmailAddress", 254)
FIELDS = (KEY, EMAIL, DeField("Name", "Text", 100))
ON_EMAIL = Sending("Email", EMAIL_ADDRESS, testable=True)
KEPT = Retention(6, "Months", reset_on_import=True)


def _create(**kwargs):
    return soap.create_data_extension(
        name="Sendable", customer_key="k", fields=FIELDS, category_id=12, **kwargs
    )


BODIES = {
    "sendable on email, testable, retention": _create(sending=ON_EMAIL, retention=KEPT),
    "sendable on subscriber key": _create(sending=Sending("Id", SUBSCRIBER_KEY)),
    "row-based retention only": _create(retention=Retention(30, "Days", row_based=True)),
    "delete the DE at the end": _create(retention=Retention(1, "Years", delete_de=True)),
    "used for sending update": soap.update_sending("k", ON_EMAIL),
}


@pytest.mark.parametrize("name", sorted(BODIES))
def test_bodies_are_valid_against_the_wsdl(name):
    assert_valid_body(soap.envelope("t", BODIES[name]))


def test_create_body_names_every_sending_and_retention_element():
    body = BODIES["sendable on email, testable, retention"]
    for part in (
        "<IsSendable>true</IsSendable><IsTestable>true</IsTestable>",
        "<SendableDataExtensionField><Name>Email</Name></SendableDataExtensionField>",
        "<SendableSubscriberField><Name>Email Address</Name><Value></Value>",
        "<DataRetentionPeriodLength>6</DataRetentionPeriodLength>",
        "<RowBasedRetention>false</RowBasedRetention>",
        "<ResetRetentionPeriodOnImport>true</ResetRetentionPeriodOnImport>",
        "<DeleteAtEndOfRetentionPeriod>false</DeleteAtEndOfRetentionPeriod>",
        "</Fields><DataRetentionPeriod>Months</DataRetentionPeriod><CategoryID>12</CategoryID>",
    ):
        assert part in body


def test_retention_period_before_fields_is_caught_by_the_schema():
    """DataRetentionPeriod comes after Fields in the WSDL; before them the body is invalid."""
    body = BODIES["sendable on email, testable, retention"]
    moved = body.replace("<DataRetentionPeriod>Months</DataRetentionPeriod>", "").replace(
        "<Fields>", "<DataRetentionPeriod>Months</DataRetentionPeriod><Fields>", 1
    )
    assert validation_errors(soap.envelope("t", moved))


def test_not_sendable_body_is_unchanged():
    body = _create()
    assert "<IsSendable>false</IsSendable><IsTestable>false</IsTestable><Fields>" in body
    assert "Sendable" not in body.replace("<Name>Sendable</Name>", "").replace("IsSendable", "")
    assert "Retention" not in body


@pytest.mark.parametrize(
    ("fields", "sending", "fix"),
    [
        (FIELDS, Sending("Nope", EMAIL_ADDRESS), "not one of its fields"),
        (FIELDS, Sending("Name", EMAIL_ADDRESS), "needs a field of type EmailAddress"),
        (FIELDS, Sending("Email", SUBSCRIBER_KEY), "needs a field of type Text"),
        ((KEY, LOOSE_EMAIL), Sending("Email", EMAIL_ADDRESS), "must be required"),
        (FIELDS, Sending("Email", "Subscriber ID"), "Subscriber Key or Email Address"),
    ],
)
def test_wrong_relationship_is_refused_before_any_call(client, fields, sending, fix):
    assert any(fix in p for p in sending_problems(fields, sending))
    de = DataExtension("A", "k", category_id=1, fields=fields, sending=sending)
    with pytest.raises(SfmcConfigError, match=fix) as caught:
        client.create_data_extension(de)
    assert caught.value.kind == "schema"
    assert client.api_calls == 0


@pytest.mark.parametrize(
    ("retention", "fix"),
    [
        (Retention(0, "Days"), "1-999"),
        (Retention(5, "Fortnights"), "Days, Weeks, Months, Years"),
        (Retention(5, "Days", row_based=True, delete_de=True), "choose one of them"),
        (Retention(5, "Days", row_based=True, reset_on_import=True), "turn one of them off"),
    ],
)
def test_retention_rules_are_checked_before_any_call(client, retention, fix):
    assert any(fix in p for p in retention_problems(retention))
    with pytest.raises(SfmcConfigError, match=fix):
        client.create_data_extension(DataExtension("A", "k", fields=FIELDS, retention=retention))
    assert client.api_calls == 0


def test_create_sendable_sends_the_relationship(rsps, client):
    expect_create(
        rsps,
        "<IsSendable>true</IsSendable>",
        "<SendableDataExtensionField><Name>Email</Name>",
        "<SendableSubscriberField><Name>Email Address</Name>",
        "<DataRetentionPeriod>Months</DataRetentionPeriod>",
    )
    de = DataExtension("A", "k", category_id=3, fields=FIELDS, sending=ON_EMAIL, retention=KEPT)
    made = client.create_data_extension(de)
    assert (made.object_id, made.sending, made.retention) == ("guid-9", ON_EMAIL, KEPT)


def _sendable_result(field, attribute, testable="false"):
    return fx.de_result("k", "A", 3).replace(
        "<CategoryID>",
        f"<IsSendable>true</IsSendable><IsTestable>{testable}</IsTestable>"
        f"<SendableDataExtensionField><Name>{field}</Name></SendableDataExtensionField>"
        f"<SendableSubscriberField><Name>{attribute}</Name><Value></Value>"
        "</SendableSubscriberField><CategoryID>",
    )


def test_find_reads_the_send_relationship_in_its_retrieved_form(rsps, client):
    """SFMC answers "_SubscriberKey"; the client speaks of "Subscriber Key" (what it sends)."""
    add_token(rsps)
    rsps.add(
        responses.POST,
        fx.SOAP_URL,
        body=fx.retrieve_response(_sendable_result("Id", "_SubscriberKey", "true")),
        match=[soap_body_has("<Properties>SendableSubscriberField.Name</Properties>")],
    )
    rsps.add(responses.POST, fx.SOAP_URL, body=fx.retrieve_response(""))
    de = client.find_data_extension(customer_key="k")
    assert de.sending == Sending("Id", SUBSCRIBER_KEY, testable=True)
    assert de.is_sendable


def test_find_of_a_plain_de_is_not_sendable(rsps, client):
    add_token(rsps)
    rsps.add(responses.POST, fx.SOAP_URL, body=fx.retrieve_response(fx.de_result("k", "A", 3)))
    rsps.add(responses.POST, fx.SOAP_URL, body=fx.retrieve_response(""))
    de = client.find_data_extension(customer_key="k")
    assert de.sending is None
    assert not de.is_sendable


def test_make_sendable_sends_the_used_for_sending_update(rsps, client):
    add_token(rsps)
    rsps.add(
        responses.POST,
        fx.SOAP_URL,
        body=fx.action_response("Update", [("OK", "Data Extension updated.", "")]),
        match=[
            soap_body_has(
                "<UpdateRequest",
                "<CustomerKey>k</CustomerKey><IsSendable>true</IsSendable>",
                "<SendableSubscriberField><Name>Email Address</Name>",
            ),
            matchers.header_matcher({"SOAPAction": "Update"}),
        ],
    )
    made = client.make_sendable(DataExtension("A", "k", fields=FIELDS), ON_EMAIL)
    assert made.sending == ON_EMAIL


@pytest.mark.parametrize(
    ("de", "fix"),
    [
        (DataExtension("A", "k", fields=(KEY, LOOSE_EMAIL)), "must be required"),
        (
            DataExtension("A", "k", fields=FIELDS, sending=Sending("Id", SUBSCRIBER_KEY)),
            "cannot change a send relationship",
        ),
    ],
)
def test_make_sendable_refused_says_what_to_do_without_calling(client, de, fix):
    with pytest.raises(SfmcConfigError, match=fix) as caught:
        client.make_sendable(de, ON_EMAIL)
    assert caught.value.kind == "sendable_refused"
    assert "new Data Extension key" in str(caught.value)
    assert client.api_calls == 0
