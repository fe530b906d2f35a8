"""The simulator's sendable, testable and retention rules, and what its inspection API shows.

Raw SOAP bodies (as the WSDL orders them); each request and each answer is also validated
against the partner API schema.
"""

from __future__ import annotations

import pytest

from sfmc.schema import sending_problems
from sfmc.types import DeField, Sending
from simulator.fields import SimField
from simulator.send_rules import SendSetup, check_send_setup
from tests.simulator.conftest import PARTNER, field_xml, retrieve, simple_filter
from tests.wsdl_schema import assert_valid_body

FIELDS = (
    field_xml("Id", max_length=50, pk=True)
    + field_xml("Email", "EmailAddress", 254, required=True)
    + field_xml("Loose", "EmailAddress", 254)
    + field_xml("Name", max_length=100)
)


def _sending(field, attribute="Email Address", testable=False, sendable=True):
    if not sendable:
        return f"<IsSendable>false</IsSendable><IsTestable>{str(testable).lower()}</IsTestable>"
    return (
        f"<IsSendable>true</IsSendable><IsTestable>{str(testable).lower()}</IsTestable>"
        f"<SendableDataExtensionField><Name>{field}</Name></SendableDataExtensionField>"
        f"<SendableSubscriberField><Name>{attribute}</Name><Value></Value>"
        "</SendableSubscriberField>"
    )


def _retention(length, unit, row_based=False, reset=False, delete=False):
    flags = (
        f"<DataRetentionPeriodLength>{length}</DataRetentionPeriodLength>"
        f"<RowBasedRetention>{str(row_based).lower()}</RowBasedRetention>"
        f"<ResetRetentionPeriodOnImport>{str(reset).lower()}</ResetRetentionPeriodOnImport>"
        f"<DeleteAtEndOfRetentionPeriod>{str(delete).lower()}</DeleteAtEndOfRetentionPeriod>"
    )
    return flags, f"<DataRetentionPeriod>{unit}</DataRetentionPeriod>"


def _create(key, sending="", retention=("", "")):
    return (
        f'<CreateRequest xmlns="{PARTNER}"><Options/><Objects xsi:type="DataExtension">'
        f"<CustomerKey>{key}</CustomerKey><Name>{key}</Name>{sending}{retention[0]}"
        f"<Fields>{FIELDS}</Fields>{retention[1]}<CategoryID>1000</CategoryID></Objects>"
        "</CreateRequest>"
    )


def _update(key, sending):
    return (
        f'<UpdateRequest xmlns="{PARTNER}"><Options/><Objects xsi:type="DataExtension">'
        f"<CustomerKey>{key}</CustomerKey>{sending}</Objects></UpdateRequest>"
    )


def _call(sim, action, body):
    assert_valid_body(sim.envelope(body))
    resp = sim.soap(action, body)
    assert resp.status_code == 200, resp.text
    assert_valid_body(resp.content)
    status = resp.text.split("<StatusCode>")[1].split("<")[0]
    message = resp.text.split("<StatusMessage>")[1].split("<")[0]
    return status, message


def _inspect(sim, key):
    resp = sim.http.get(f"{sim.url}/_sim/dataextensions/{key}")
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_sendable_testable_de_with_retention_is_created_and_inspected(make_sim):
    sim = make_sim()
    body = _create("s1", _sending("Email", testable=True), _retention(6, "Months", reset=True))
    assert _call(sim, "Create", body) == ("OK", "Data Extension created.")
    de = _inspect(sim, "s1")
    assert (de["isSendable"], de["isTestable"]) == (True, True)
    assert (de["sendableField"], de["sendableSubscriberField"]) == ("Email", "Email Address")
    assert de["retention"] == {
        "length": 6,
        "unit": "Months",
        "rowBased": False,
        "deleteAtEnd": False,
        "resetOnImport": True,
    }


def test_plain_de_is_neither_sendable_nor_kept_for_a_period(make_sim):
    sim = make_sim()
    assert _call(sim, "Create", _create("p1", _sending(None, sendable=False)))[0] == "OK"
    de = _inspect(sim, "p1")
    assert (de["isSendable"], de["isTestable"], de["sendableField"], de["retention"]) == (
        False,
        False,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("sending", "retention", "refusal"),
    [
        (_sending("Nope"), ("", ""), "is not a field"),
        (_sending("Name"), ("", ""), "type EmailAddress"),
        (_sending("Email", "Subscriber Key"), ("", ""), "type Text"),
        (_sending("Loose"), ("", ""), "must be required"),
        (_sending("Email", "Subscriber ID"), ("", ""), "must be Subscriber Key or Email Address"),
        (_sending(None, testable=True, sendable=False), ("", ""), "IsTestable needs IsSendable"),
        ("", _retention(0, "Days"), "must be 1-999"),
        ("", _retention(3, "Days", row_based=True, delete=True), "DeleteAtEndOfRetentionPeriod"),
        ("", _retention(3, "Days", row_based=True, reset=True), "ResetRetentionPeriodOnImport"),
    ],
)
def test_create_refuses_what_sfmc_refuses(make_sim, sending, retention, refusal):
    sim = make_sim()
    status, message = _call(sim, "Create", _create("bad", sending, retention))
    assert status == "Error"
    assert refusal in message
    assert sim.http.get(f"{sim.url}/_sim/dataextensions/bad").status_code == 404


def test_subscriber_key_relationship_is_retrieved_in_its_system_form(make_sim):
    sim = make_sim()
    assert _call(sim, "Create", _create("sk", _sending("Id", "Subscriber Key")))[0] == "OK"
    props = [
        "CustomerKey",
        "Name",
        "IsSendable",
        "IsTestable",
        "SendableDataExtensionField.Name",
        "SendableSubscriberField.Name",
        "CategoryID",
    ]
    body = retrieve("DataExtension", props, simple_filter("CustomerKey", "equals", "sk"))
    resp = sim.soap("Retrieve", body)
    assert_valid_body(resp.content)
    assert "<SendableDataExtensionField><Name>Id</Name></SendableDataExtensionField>" in resp.text
    assert "<SendableSubscriberField><Name>_SubscriberKey</Name>" in resp.text
    assert _inspect(sim, "sk")["sendableSubscriberField"] == "Subscriber Key"


def test_used_for_sending_update_turns_a_de_sendable(make_sim):
    sim = make_sim()
    assert _call(sim, "Create", _create("u1", _sending(None, sendable=False)))[0] == "OK"
    assert _call(sim, "Update", _update("u1", _sending("Email", testable=True)))[0] == "OK"
    de = _inspect(sim, "u1")
    assert (de["isSendable"], de["isTestable"], de["sendableField"]) == (True, True, "Email")


@pytest.mark.parametrize(
    ("update", "refusal"),
    [
        (_sending("Loose"), "must be required"),
        (_sending(None, sendable=False), "cannot be made non-sendable"),
    ],
)
def test_used_for_sending_update_refusals(make_sim, update, refusal):
    sim = make_sim()
    created = _sending("Id", "Subscriber Key") if "non-sendable" in refusal else ""
    assert _call(sim, "Create", _create("u2", created))[0] == "OK"
    status, message = _call(sim, "Update", _update("u2", update))
    assert (status, refusal in message) == ("Error", True)


def test_send_relationship_cannot_change(make_sim):
    sim = make_sim()
    assert _call(sim, "Create", _create("u3", _sending("Id", "Subscriber Key")))[0] == "OK"
    status, message = _call(sim, "Update", _update("u3", _sending("Email")))
    assert status == "Error"
    assert "cannot be changed" in message
    assert _inspect(sim, "u3")["sendableField"] == "Id"


def test_product_and_simulator_refuse_the_same_relationships():
    """The product's rules (sfmc.schema) and the simulator's own (send_rules) agree case by case."""
    fields = [("Id", "Text", True, True), ("Email", "EmailAddress", False, True),
              ("Loose", "EmailAddress", False, False), ("Code", "Text", False, False),
              ("Count", "Number", False, True)]  # fmt: skip
    product = [DeField(n, t, is_primary_key=pk, is_required=req) for n, t, pk, req in fields]
    simulated = [SimField(n, t, is_primary_key=pk, is_required=req) for n, t, pk, req in fields]
    for name in ["Id", "Email", "Loose", "Code", "Count", "Missing"]:
        for attribute in ["Subscriber Key", "Email Address", "Subscriber ID"]:
            refused = bool(sending_problems(product, Sending(name, attribute)))
            sim_refused = bool(check_send_setup(simulated, SendSetup(name, attribute)))
            assert refused == sim_refused, (name, attribute)
