from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest

from tests.simulator.conftest import PARTNER, create_de, field_xml, retrieve, simple_filter

NS = {"p": PARTNER, "soap": "http://schemas.xmlsoap.org/soap/envelope/"}


def parse(resp):
    return ET.fromstring(resp.content)


def overall(resp):
    return parse(resp).find(".//p:OverallStatus", NS).text


def results(resp):
    return parse(resp).findall(".//p:Results", NS)


def fault_string(resp):
    assert resp.status_code == 500, resp.text
    return parse(resp).find(".//faultstring").text


def row_upsert(key, props, action="Update"):
    p = "".join(
        f"<Property><Name>{k}</Name><Value>{v}</Value></Property>" for k, v in props.items()
    )
    opts = ("<Options><SaveOptions><SaveOption><PropertyName>*</PropertyName><SaveAction>UpdateAdd"
            "</SaveAction></SaveOption></SaveOptions></Options>") if action == "Update" else "<Options/>"  # fmt: skip
    return (f'<{action}Request xmlns="{PARTNER}">{opts}<Objects xsi:type="DataExtensionObject">'
            f"<CustomerKey>{key}</CustomerKey><Properties>{p}</Properties></Objects></{action}Request>")  # fmt: skip


def test_retrieve_folders_with_filter_and_root(sim):
    resp = sim.soap("Retrieve", retrieve("DataFolder", ["ID", "Name", "CustomerKey", "ParentFolder.ID"],
                                         simple_filter("ContentType", "equals", "dataextension")))  # fmt: skip
    assert resp.status_code == 200
    assert overall(resp) == "OK"
    folders = {r.find("p:Name", NS).text: r for r in results(resp)}
    root = folders["Data Extensions"]
    assert root.find("p:CustomerKey", NS).text == "dataextension_default"
    assert root.find("p:ParentFolder/p:ID", NS).text == "0"
    assert {"Fundraising", "Appeals", "Events", "Shared"} <= set(folders)
    assert "Shared Data Extensions" not in folders  # other content type filtered out


def test_soap_path_is_case_insensitive_and_tolerates_double_slash(sim):
    for path in ("/service.asmx", "//Service.asmx", "/SERVICE.ASMX"):
        resp = sim.soap("Retrieve", retrieve("DataExtension", ["CustomerKey"]), path=path)
        assert resp.status_code == 200, path


def test_create_de_then_add_field_rules(sim):
    body = create_de("aud_vip", "Audience VIP", [field_xml("Key", max_length=36, pk=True),
                                                  field_xml("Email", "EmailAddress", 254)], 1002)  # fmt: skip
    resp = sim.soap("Create", body)
    assert overall(resp) == "OK"
    assert results(resp)[0].find("p:StatusMessage", NS).text == "Data Extension created."
    again = sim.soap("Create", body)
    assert overall(again) == "Error"
    assert results(again)[0].find("p:ErrorCode", NS).text == "310007"
    # PK without required is refused
    bad = sim.soap("Create", create_de("k2", "Bad", ["<Field><Name>A</Name><IsRequired>false</IsRequired>"
                                                      "<IsPrimaryKey>true</IsPrimaryKey><FieldType>Text</FieldType></Field>"]))  # fmt: skip
    assert "must also be required" in results(bad)[0].find("p:StatusMessage", NS).text
    # unknown folder
    nofolder = sim.soap("Create", create_de("k3", "NoFolder", [field_xml("A")], 99999))
    assert "CategoryID" in results(nofolder)[0].find("p:StatusMessage", NS).text
    # add a nullable field: fine; rows exist -> required field refused
    sim.soap("Update", row_upsert("aud_vip", {"Key": "1", "Email": "a@example.org"}))
    upd = (f'<UpdateRequest xmlns="{PARTNER}"><Options/><Objects xsi:type="DataExtension">'
           "<CustomerKey>aud_vip</CustomerKey><Fields>{}</Fields></Objects></UpdateRequest>")  # fmt: skip
    ok = sim.soap("Update", upd.format(field_xml("Tier", max_length=20)))
    assert results(ok)[0].find("p:StatusMessage", NS).text == "Data Extension updated."
    refused = sim.soap("Update", upd.format(field_xml("Must", required=True)))
    assert "has rows" in results(refused)[0].find("p:StatusMessage", NS).text
    dup = sim.soap("Update", upd.format(field_xml("tier")))
    assert "already exists" in results(dup)[0].find("p:StatusMessage", NS).text
    fields = sim.soap("Retrieve", retrieve("DataExtensionField", ["Name", "FieldType", "MaxLength", "IsPrimaryKey"],
                                           simple_filter("DataExtension.CustomerKey", "equals", "aud_vip")))  # fmt: skip
    assert [r.find("p:Name", NS).text for r in results(fields)] == ["Key", "Email", "Tier"]


def test_row_create_update_delete_and_cleardata(sim):
    key = "major_donors"
    created = sim.soap(
        "Create", row_upsert(key, {"SubscriberKey": "N1", "Email": "n1@example.org"}, "Create")
    )
    assert results(created)[0].find("p:StatusMessage", NS).text == "Created DataExtensionObject"
    dup = sim.soap(
        "Create", row_upsert(key, {"SubscriberKey": "n1", "Email": "n1@example.org"}, "Create")
    )
    assert overall(dup) == "Error"  # keys compare case-insensitively
    bad = sim.soap("Update", row_upsert(key, {"SubscriberKey": "N2", "Email": "nope"}))
    res = results(bad)[0]
    assert res.find("p:ErrorCode", NS).text == "70003"
    assert res.find("p:ValueErrors/p:ValueError/p:Name", NS).text == "Email"
    delete = (f'<DeleteRequest xmlns="{PARTNER}"><Options/><Objects xsi:type="DataExtensionObject">'
              f"<CustomerKey>{key}</CustomerKey><Keys><Key><Name>SubscriberKey</Name><Value>N1</Value>"
              "</Key></Keys></Objects></DeleteRequest>")  # fmt: skip
    assert (
        results(sim.soap("Delete", delete))[0].find("p:StatusMessage", NS).text
        == "Deleted DataExtensionObject"
    )
    assert overall(sim.soap("Delete", delete)) == "Error"
    clear = (f'<PerformRequestMsg xmlns="{PARTNER}"><Action>ClearData</Action><Definitions>'
             f'<Definition xsi:type="DataExtension"><CustomerKey>{key}</CustomerKey></Definition>'
             "</Definitions></PerformRequestMsg>")  # fmt: skip
    assert overall(sim.soap("Perform", clear)) == "OK"
    assert sim.rows(key)["count"] == 0


def test_retrieve_rows_paged_with_continue_request(sim):
    items = [{"SubscriberKey": f"P{i:05d}", "Email": f"p{i}@example.org"} for i in range(5200)]
    sim.http.post(f"{sim.url}/_sim/dataextensions/all_donors_master/rows", json={"items": items})
    total = sim.rows("all_donors_master")["count"]
    seen = 0
    resp = sim.soap(
        "Retrieve", retrieve("DataExtensionObject[all_donors_master]", ["SubscriberKey", "Email"])
    )
    pages = 0
    while True:
        pages += 1
        seen += len(results(resp))
        status = overall(resp)
        if status != "MoreDataAvailable":
            assert status == "OK"
            break
        assert len(results(resp)) == 2500
        rid = parse(resp).find(".//p:RequestID", NS).text
        body = (f'<RetrieveRequestMsg xmlns="{PARTNER}"><RetrieveRequest><ObjectType>'
                "DataExtensionObject[all_donors_master]</ObjectType>"
                f"<ContinueRequest>{rid}</ContinueRequest></RetrieveRequest></RetrieveRequestMsg>")  # fmt: skip
        resp = sim.soap("Retrieve", body)
    assert seen == total
    assert pages == 3


def test_retrieve_errors_are_overall_status(sim):
    bad_prop = sim.soap("Retrieve", retrieve("DataExtensionObject[major_donors]", ["Nope"]))
    assert overall(bad_prop).startswith("Error: The Request Property(s) Nope do not match")
    unknown = sim.soap("Retrieve", retrieve("Dataextension", ["Name"]))
    assert "Unable to find a handler for object type" in overall(unknown)


@pytest.mark.parametrize(
    ("action", "body", "needle"),
    [
        (
            "Retrieve",
            f'<RetrieveRequestMsg xmlns="{PARTNER}"><RetrieveRequest><Properties>ID</Properties>'
            "<ObjectType>DataFolder</ObjectType></RetrieveRequest></RetrieveRequestMsg>",
            "out of order",
        ),
        (
            "Retrieve",
            f'<RetrieveRequestMsg xmlns="{PARTNER}"><RetrieveRequest><ObjectType>DataFolder</ObjectType>'
            "<Bogus>1</Bogus></RetrieveRequest></RetrieveRequestMsg>",
            "unknown element Bogus",
        ),
        (
            "Create",
            f'<CreateRequest xmlns="{PARTNER}"><Objects xsi:type="DataExtension"><Name>x</Name>'
            "</Objects></CreateRequest>",
            "required element Options",
        ),
        (
            "Create",
            f'<CreateRequest xmlns="{PARTNER}"><Options/><Objects xsi:type="Email"><Name>x</Name>'
            "</Objects></CreateRequest>",
            "not supported",
        ),
        (
            "Frobnicate",
            f'<RetrieveRequestMsg xmlns="{PARTNER}"/>',
            "did not recognize the value of HTTP Header SOAPAction",
        ),
        ("Create", f'<RetrieveRequestMsg xmlns="{PARTNER}"/>', "expects a CreateRequest"),
        ("Retrieve", "<RetrieveRequestMsg><RetrieveRequest/></RetrieveRequestMsg>", "namespace"),
    ],
)
def test_strict_parsing_faults(sim, action, body, needle):
    assert needle in fault_string(sim.soap(action, body))


def test_malicious_xml_is_refused(sim):
    bomb = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
            '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>&b;</soap:Body></soap:Envelope>')  # fmt: skip
    resp = sim.http.post(sim.url + "/Service.asmx", data=bomb, headers={"SOAPAction": "Retrieve"})
    assert resp.status_code == 500
    assert "not well-formed" in parse(resp).find(".//faultstring").text


def test_security_faults(make_sim):
    sim = make_sim(token_ttl=1)
    body = retrieve("DataFolder", ["ID"])
    assert fault_string(sim.soap("Retrieve", body, token="garbage")) == "Login Failed"
    assert "security header is not present" in fault_string(sim.soap("Retrieve", body, token=""))
    token = sim.token()
    sim.faults(expire_tokens=True)
    resp = sim.soap("Retrieve", body, token=token)
    assert fault_string(resp) == "Token Expired"
    assert 'xmlns:q0="http://docs.oasis-open.org/wss' in resp.text
    assert "q0:Security" in resp.text


def test_soap_scope_and_throttle(make_sim):
    sim = make_sim(clients=[("ro", "s", frozenset({"data_extensions_read"}))], client=("ro", "s"))
    assert overall(sim.soap("Retrieve", retrieve("DataExtension", ["CustomerKey"]))) == "OK"
    assert "Insufficient Privileges" in fault_string(
        sim.soap("Create", create_de("a", "A", [field_xml("X")]))
    )
    sim.faults(soap_throttle_rate=1)
    resp = sim.soap("Retrieve", retrieve("DataExtension", ["CustomerKey"]))
    assert fault_string(resp) == "Rate Limited"
    assert "<Code>17</Code>" in resp.text


def test_folder_retrieve_needs_saved_content_read(make_sim):
    scopes = frozenset({"data_extensions_read", "data_extensions_write"})
    sim = make_sim(seed="demo", clients=[("nf", "s", scopes)], client=("nf", "s"))
    resp = sim.soap("Retrieve", retrieve("DataFolder", ["ID", "Name"]))
    assert resp.status_code == 500
    assert fault_string(resp) == (
        "Insufficient Privileges: the token lacks the saved_content_read scope."
    )
    assert "<Code>2</Code>" in resp.text  # the same fault as any other missing SOAP scope
    assert overall(sim.soap("Retrieve", retrieve("DataExtension", ["CustomerKey"]))) == "OK"
    full = make_sim(seed="demo")  # every scope: folders are listed
    assert overall(full.soap("Retrieve", retrieve("DataFolder", ["ID", "Name"]))) == "OK"
