"""Every SOAP body the simulator produces, and every request example sent here, must be valid
against SFMC's partner API schema (`../shared/sfmc/etframework.wsdl`)."""

from __future__ import annotations

from tests.simulator.conftest import PARTNER, create_de, field_xml, retrieve, simple_filter
from tests.simulator.test_soap import row_upsert
from tests.wsdl_schema import assert_valid_body, wsdl_schema


def scenario(sim):
    """Success and error variants of every supported operation; returns the responses."""
    folder = (f'<CreateRequest xmlns="{PARTNER}"><Options/><Objects xsi:type="DataFolder">'
              "<CustomerKey>f_new</CustomerKey><ParentFolder><ID>1000</ID></ParentFolder><Name>New</Name>"
              "<Description>d</Description><ContentType>dataextension</ContentType><IsActive>true</IsActive>"
              "<IsEditable>true</IsEditable><AllowChildren>true</AllowChildren></Objects></CreateRequest>")  # fmt: skip
    complex_filter = (
        '<Filter xsi:type="ComplexFilterPart"><LeftOperand xsi:type="SimpleFilterPart"><Property>ContentType'
        "</Property><SimpleOperator>equals</SimpleOperator><Value>dataextension</Value></LeftOperand>"
        '<LogicalOperator>OR</LogicalOperator><RightOperand xsi:type="SimpleFilterPart"><Property>ContentType'
        "</Property><SimpleOperator>equals</SimpleOperator><Value>shared_dataextension</Value></RightOperand></Filter>"
    )
    de = create_de("fid", "Fidelity", [field_xml("Id", max_length=20, pk=True), field_xml("Email", "EmailAddress", 254),
                                        "<Field><Name>Amount</Name><Scale>2</Scale><IsRequired>false</IsRequired>"
                                        "<IsPrimaryKey>false</IsPrimaryKey><FieldType>Decimal</FieldType></Field>"], 1000)  # fmt: skip
    upd_de = (f'<UpdateRequest xmlns="{PARTNER}"><Options/><Objects xsi:type="DataExtension"><CustomerKey>fid'
              f"</CustomerKey><Fields>{field_xml('Tier', max_length=10)}</Fields></Objects></UpdateRequest>")  # fmt: skip
    keys = "<Keys><Key><Name>Id</Name><Value>1</Value></Key></Keys>"
    delete_row = (f'<DeleteRequest xmlns="{PARTNER}"><Options/><Objects xsi:type="DataExtensionObject">'
                  f"<CustomerKey>fid</CustomerKey>{keys}</Objects></DeleteRequest>")  # fmt: skip
    delete_de = (f'<DeleteRequest xmlns="{PARTNER}"><Options/><Objects xsi:type="DataExtension">'
                 "<CustomerKey>{}</CustomerKey></Objects></DeleteRequest>")  # fmt: skip
    clear = (f'<PerformRequestMsg xmlns="{PARTNER}"><Action>ClearData</Action><Definitions>'
             '<Definition xsi:type="DataExtension"><CustomerKey>{}</CustomerKey></Definition>'
             "</Definitions></PerformRequestMsg>")  # fmt: skip
    calls = [
        ("Retrieve", retrieve("DataFolder", ["ID", "Name", "CustomerKey", "ParentFolder.ID", "ParentFolder.Name",
                                             "ContentType", "IsActive", "IsEditable", "AllowChildren", "Client.ID"],
                              complex_filter, "<Options><BatchSize>200</BatchSize></Options>")),
        ("Retrieve", retrieve("DataExtension", ["ObjectID", "CustomerKey", "Name", "CategoryID", "IsSendable",
                                                "Client.ID", "CreatedDate"])),
        ("Create", folder), ("Create", folder),
        ("Create", de), ("Create", de),
        ("Update", upd_de),
        ("Retrieve", retrieve("DataExtensionField", ["ObjectID", "CustomerKey", "Name", "FieldType", "MaxLength",
                                                     "Scale", "Precision", "IsPrimaryKey", "IsRequired", "Ordinal",
                                                     "DefaultValue", "DataExtension.CustomerKey"],
                              simple_filter("DataExtension.CustomerKey", "equals", "fid"))),
        ("Create", row_upsert("fid", {"Id": "1", "Email": "a@example.org", "Amount": "1.5"}, "Create")),
        ("Create", row_upsert("fid", {"Id": "1", "Email": "a@example.org"}, "Create")),
        ("Update", row_upsert("fid", {"Id": "2", "Email": "bad"})),
        ("Update", row_upsert("nope", {"Id": "2"})),
        ("Retrieve", retrieve("DataExtensionObject[fid]", ["Id", "Email", "Amount", "Tier"],
                              simple_filter("Email", "like", "%@example.org"))),
        ("Retrieve", retrieve("DataExtensionObject[fid]", ["Nope"])),
        ("Retrieve", retrieve("NoSuchType", ["Name"])),
        ("Delete", delete_row), ("Delete", delete_row),
        ("Perform", clear.format("fid")), ("Perform", clear.format("nope")),
        ("Delete", delete_de.format("fid")), ("Delete", delete_de.format("fid")),
    ]  # fmt: skip
    responses = []
    for action, body in calls:
        resp = sim.soap(action, body)
        assert resp.status_code == 200, resp.text
        responses.append(resp)
    return responses


def test_soap_responses_and_requests_match_the_wsdl_schema(sim):
    wsdl_schema()  # skips only when ../shared/sfmc/etframework.wsdl is absent
    responses = scenario(sim)
    statuses = set()
    for resp in responses:
        assert_valid_body(resp.content)
        statuses.add(resp.text.split("<OverallStatus>")[1].split("<")[0].split(":")[0])
    assert {"OK", "Error"} <= statuses
    for body in sim.sent:
        assert_valid_body(body)


def test_paged_retrieve_response_is_valid(sim):
    wsdl_schema()
    sim.http.post(f"{sim.url}/_sim/dataextensions/major_donors/rows",
                  json={"items": [{"SubscriberKey": f"Z{i}", "Email": f"z{i}@example.org"} for i in range(2600)]})  # fmt: skip
    resp = sim.soap(
        "Retrieve",
        retrieve("DataExtensionObject[major_donors]", ["SubscriberKey", "Email", "OptIn"]),
    )
    assert "<OverallStatus>MoreDataAvailable</OverallStatus>" in resp.text
    assert_valid_body(resp.content)
