"""Resource methods: folders, Data Extensions, rows (HTTP faked with responses)."""

import pytest
import responses
from responses import matchers, registries

from sfmc.client import ASYNC_MAX_ROWS, batches
from sfmc.errors import SfmcConfigError, SfmcFatalError
from sfmc.types import DataExtension, DeField, RowOutcome
from tests.sfmc import fixtures as fx
from tests.sfmc.conftest import add_token, expect_create, soap_body_has

ROWS_URL = fx.REST + "data/v1/async/dataextensions/key:aud/rows"
EMAIL_PK = DeField("Email", "EmailAddress", 254, is_primary_key=True, is_required=True)


def test_list_folders_builds_paths_from_the_tree(rsps, client):
    add_token(rsps)
    results = (
        fx.folder(1, "Data Extensions", 0)
        + fx.folder(3, "Appeals", 2)
        + fx.folder(2, "Fundraising", 1)
    )
    rsps.add(
        responses.POST,
        fx.SOAP_URL,
        body=fx.retrieve_response(results),
        match=[
            soap_body_has(
                "<ObjectType>DataFolder</ObjectType>",
                "ComplexFilterPart",
                "shared_dataextension",
                "<LogicalOperator>OR",
            )
        ],
    )
    listing = client.list_folders()
    assert not listing.fallback
    assert [f.path for f in listing.folders] == [
        "Data Extensions",
        "Data Extensions / Fundraising",
        "Data Extensions / Fundraising / Appeals",
    ]
    assert listing.folders[0].parent_id is None


def test_list_folders_falls_back_to_folders_of_existing_des(rsps, client):
    add_token(rsps)
    rsps.add(responses.POST, fx.SOAP_URL, status=500, body=fx.SOAP_NO_PRIVILEGE)
    des = (
        fx.de_result("a", "Alpha", 7) + fx.de_result("b", "Beta", 7) + fx.de_result("c", "Gamma", 9)
    )
    rsps.add(
        responses.POST,
        fx.SOAP_URL,
        body=fx.retrieve_response(des),
        match=[soap_body_has("<ObjectType>DataExtension<")],
    )
    listing = client.list_folders()
    assert listing.fallback
    assert [f.id for f in listing.folders] == [7, 9]
    assert "saved_content_read" in listing.notice


def test_find_data_extension_with_fields(rsps, client):
    add_token(rsps)
    rsps.add(
        responses.POST,
        fx.SOAP_URL,
        body=fx.retrieve_response(fx.de_result("aud", "Audience", 5)),
        match=[soap_body_has("<Property>CustomerKey</Property>", "<Value>aud</Value>")],
    )
    fields = fx.field_result("Score", "Decimal", 18, scale=2, ordinal=1) + fx.field_result(
        "Email", "EmailAddress", 254, pk=True, required=True, ordinal=0
    )
    rsps.add(
        responses.POST,
        fx.SOAP_URL,
        body=fx.retrieve_response(fields),
        match=[soap_body_has("DataExtension.CustomerKey")],
    )
    de = client.find_data_extension(customer_key="aud")
    assert de.category_id == 5
    assert de.primary_keys == ("Email",)
    assert de.fields[1] == DeField("Score", "Decimal", None, precision=18, scale=2)


def test_find_data_extension_absent_is_none(rsps, client):
    add_token(rsps)
    rsps.add(
        responses.POST,
        fx.SOAP_URL,
        body=fx.retrieve_response(""),
        match=[soap_body_has("<Property>Name</Property>")],
    )
    assert client.find_data_extension(name="Nope") is None


@pytest.mark.parametrize(
    ("de", "fix"),
    [
        (DataExtension("A", "k" * 37, fields=(EMAIL_PK,)), "1-36 characters"),
        (
            DataExtension(
                "A", "k", fields=(DeField("When", "Date", is_primary_key=True, is_required=True),)
            ),
            "Date",
        ),
        (DataExtension("A", "k", fields=(DeField("Bio", "Text", 5000),)), "4000"),
        (
            DataExtension("A", "k", fields=(DeField("Amt", "Decimal", precision=40, scale=2),)),
            "precision",
        ),
        (
            DataExtension("A", "k", fields=(DeField("Id", "Text", 50, is_primary_key=True),)),
            "required",
        ),
        (DataExtension("A", "k", fields=()), "at least one field"),
    ],
)
def test_create_checks_schema_rules_before_calling(client, de, fix):
    with pytest.raises(SfmcConfigError, match=fix):
        client.create_data_extension(de)
    assert client.api_calls == 0


def test_create_data_extension(rsps, client):
    expect_create(
        rsps,
        "<CustomerKey>aud</CustomerKey>",
        "<Name>A &amp; B</Name>",
        "<CategoryID>5</CategoryID>",
        "<IsSendable>false",
    )
    de = client.create_data_extension(
        DataExtension("A & B", "aud", category_id=5, fields=(EMAIL_PK,))
    )
    assert de.object_id == "guid-9"


def test_create_refused_by_sfmc_is_fatal(rsps, client):
    add_token(rsps)
    exists = "<ErrorCode>310007</ErrorCode>"
    rsps.add(
        responses.POST,
        fx.SOAP_URL,
        body=fx.action_response(
            "Create", [("Error", "A data extension named A already exists.", exists)], "Error"
        ),
    )
    with pytest.raises(SfmcFatalError, match="already exists"):
        client.create_data_extension(DataExtension("A", "aud", fields=(EMAIL_PK,)))


def _describe(rsps, *field_xml):
    rsps.add(
        responses.POST, fx.SOAP_URL, body=fx.retrieve_response(fx.de_result("aud", "Audience", 5))
    )
    rsps.add(responses.POST, fx.SOAP_URL, body=fx.retrieve_response("".join(field_xml)))


def test_add_fields_sends_only_new_or_grown_fields(rsps, client):
    add_token(rsps)
    current = (
        fx.field_result("Email", "EmailAddress", 254, pk=True, required=True, object_id="f1"),
        fx.field_result("Name", "Text", 50, ordinal=1, object_id="f2"),
    )
    _describe(rsps, *current)
    rsps.add(
        responses.POST, fx.SOAP_URL, body=fx.retrieve_response("".join(current))
    )  # field object ids
    rsps.add(
        responses.POST,
        fx.SOAP_URL,
        body=fx.action_response("Update", [("OK", "Data Extension updated.", "")]),
        match=[
            soap_body_has(
                "<Name>Tier</Name>",
                "<ObjectID>f2</ObjectID><Name>Name</Name>",
                "<MaxLength>100</MaxLength>",
            )
        ],
    )
    _describe(rsps, *current)
    client.add_fields("aud", [EMAIL_PK, DeField("Name", "Text", 100), DeField("Tier", "Text", 20)])


@pytest.mark.parametrize(
    ("new", "fix"),
    [
        (DeField("Name", "Number"), "type"),
        (DeField("Name", "Text", 10), "shrink"),
        (DeField("Name", "Text", 50, is_required=True), "required"),
    ],
)
def test_add_fields_refuses_incompatible_changes(rsps, client, new, fix):
    add_token(rsps)
    current = (fx.field_result("Name", "Text", 50, object_id="f2"),)
    _describe(rsps, *current)
    rsps.add(responses.POST, fx.SOAP_URL, body=fx.retrieve_response("".join(current)))
    with pytest.raises(SfmcConfigError, match=fix):
        client.add_fields("aud", [new])


def test_add_required_field_to_a_de_with_rows_is_refused(rsps, client):
    add_token(rsps)
    _describe(rsps, fx.field_result("Name", "Text", 50))
    rsps.add(
        responses.POST, fx.SOAP_URL, body=fx.retrieve_response(fx.field_result("Name", "Text", 50))
    )
    rsps.add(
        responses.GET,
        fx.REST + "data/v1/customobjectdata/key/aud/rowset",
        json={"count": 3, "items": [{}]},
    )
    with pytest.raises(SfmcConfigError, match="has rows"):
        client.add_fields("aud", [DeField("Id", "Text", 20, is_primary_key=True, is_required=True)])


def test_delete_data_extension(rsps, client):
    add_token(rsps)
    rsps.add(
        responses.POST,
        fx.SOAP_URL,
        body=fx.action_response("Delete", [("OK", "Data Extension deleted.", "")]),
        match=[soap_body_has('xsi:type="DataExtension"', "<CustomerKey>aud<")],
    )
    client.delete_data_extension("aud")


@pytest.mark.parametrize(
    ("mode", "method"), [("upsert", responses.PUT), ("insert", responses.POST)]
)
def test_submit_rows_payload(rsps, client, mode, method):
    add_token(rsps)
    rows = [{"Email": "a@example.com", "Score": 3}]
    rsps.add(
        method,
        ROWS_URL,
        status=202,
        json={"requestId": "r1", "resultMessages": []},
        match=[matchers.json_params_matcher({"items": rows})],
    )
    assert client.submit_rows("aud", rows, mode=mode) == "r1"


def test_submit_rows_refuses_oversized_batches(client):
    with pytest.raises(SfmcConfigError, match="batches"):
        client.submit_rows("aud", [{"a": 1}] * (ASYNC_MAX_ROWS + 1), mode="upsert")
    with pytest.raises(SfmcConfigError, match="mode"):
        client.submit_rows("aud", [{"a": 1}], mode="merge")


def test_submit_to_unknown_de_is_fatal(rsps, client):
    add_token(rsps)
    rsps.add(responses.PUT, ROWS_URL, status=400, json=fx.CUSTOM_OBJECT_NOT_FOUND)
    with pytest.raises(SfmcFatalError, match="Failed to resolve the Custom Object"):
        client.submit_rows("aud", [{"a": 1}], mode="upsert")


def test_wait_for_rows_tolerates_not_found_and_skips_results_when_ok(client, sleeps):
    with responses.RequestsMock(registry=registries.OrderedRegistry) as rsps:
        add_token(rsps)
        url = fx.REST + "data/v1/async/r1/status"
        rsps.add(responses.GET, url, json=fx.NOT_FOUND_YET)
        rsps.add(responses.GET, url, status=404, json=fx.NOT_FOUND_YET)
        rsps.add(responses.GET, url, json=fx.status("Pending", None))
        rsps.add(responses.GET, url, json=fx.status("Complete", "OK"))
        assert client.wait_for_rows("r1", 3) == [RowOutcome(ok=True)] * 3
    assert sleeps == [0.25, 0.5, 1.0]


def test_wait_for_rows_reads_every_result_page_and_maps_errors(client):
    with responses.RequestsMock(registry=registries.OrderedRegistry) as rsps:
        add_token(rsps)
        rsps.add(
            responses.GET,
            fx.REST + "data/v1/async/r1/status",
            json=fx.status("Complete", "Error", True),
        )
        results = fx.REST + "data/v1/async/r1/results"
        page1 = {"page": 1, "pageSize": 2, "count": 4, "items": [fx.OK_ITEM, fx.NULL_PK_ITEM]}
        page2 = {
            "page": 2,
            "pageSize": 2,
            "count": 4,
            "items": [fx.PK_VIOLATION_ITEM, fx.DEADLOCK_ITEM],
        }
        rsps.add(
            responses.GET,
            results,
            json=page1,
            match=[matchers.query_param_matcher({"page": "1", "pageSize": "2500"})],
        )
        rsps.add(
            responses.GET,
            results,
            json=page2,
            match=[matchers.query_param_matcher({"page": "2", "pageSize": "2500"})],
        )
        out = client.wait_for_rows("r1", 5)
    assert out[0].ok
    assert (out[1].error_type, out[1].field, out[1].retryable) == ("NullValue", "contactkey", False)
    assert out[1].error_details == "Column [contactkey] does not allow null value."
    assert out[2].error_type == "PrimaryKeyViolation"
    assert out[3].retryable
    assert (out[4].ok, out[4].retryable) == (False, True)  # SFMC said nothing about it


def test_iter_rows_follows_continue_requests(rsps, client):
    add_token(rsps)
    rsps.add(
        responses.POST,
        fx.SOAP_URL,
        body=fx.retrieve_response(fx.row_result(Email="a@x.org"), "MoreDataAvailable", "page-req"),
        match=[
            soap_body_has(
                "<ObjectType>DataExtensionObject[aud]</ObjectType>",
                "<Properties>Email</Properties>",
            )
        ],
    )
    rsps.add(
        responses.POST,
        fx.SOAP_URL,
        body=fx.retrieve_response(fx.row_result(Email="b&amp;c@x.org")),
        match=[soap_body_has("<ContinueRequest>page-req</ContinueRequest>")],
    )
    assert list(client.iter_rows("aud", ["Email"])) == [
        {"Email": "a@x.org"},
        {"Email": "b&c@x.org"},
    ]


def test_delete_rows_in_batches_with_outcomes(rsps, client, monkeypatch):
    monkeypatch.setattr("sfmc.client.DELETE_BATCH", 2)
    add_token(rsps)
    ok = ("OK", "Deleted DataExtensionObject", "")
    rsps.add(
        responses.POST,
        fx.SOAP_URL,
        body=fx.action_response(
            "Delete", [ok, ("Error", "Row not found", "<ErrorCode>70011</ErrorCode>")], "Has Errors"
        ),
        match=[soap_body_has("<Key><Name>Email</Name><Value>a</Value></Key>")],
    )
    rsps.add(responses.POST, fx.SOAP_URL, body=fx.action_response("Delete", [ok]))
    out = client.delete_rows("aud", [{"Email": "a"}, {"Email": "b"}, {"Email": "c"}])
    assert [o.ok for o in out] == [True, False, True]
    assert out[1].error_type == "NotFound"


def test_clear_data_failure_is_fatal(rsps, client):
    add_token(rsps)
    rsps.add(
        responses.POST,
        fx.SOAP_URL,
        body=fx.perform_response("Error", "Clear data is not allowed for shared DEs"),
        match=[soap_body_has("<Action>ClearData</Action>")],
    )
    with pytest.raises(SfmcFatalError, match="not allowed"):
        client.clear_data("aud")


def test_upsert_rowset_gives_a_failed_batch_the_error(rsps, client, monkeypatch):
    monkeypatch.setattr("sfmc.client.ROWSET_BATCH", 2)
    add_token(rsps)
    url = fx.REST + "hub/v1/dataevents/key:aud/rowset"
    rows = [
        {"Email": "a@x.org", "Name": "A"},
        {"Email": "bad", "Name": "B"},
        {"Email": "c@x.org", "Name": "C"},
    ]
    first = [
        {"keys": {"Email": "a@x.org"}, "values": {"Name": "A"}},
        {"keys": {"Email": "bad"}, "values": {"Name": "B"}},
    ]
    rsps.add(
        responses.POST,
        url,
        status=400,
        json=fx.ROWSET_400,
        match=[matchers.json_params_matcher(first)],
    )
    rsps.add(responses.POST, url, json=[{"keys": {"Email": "c@x.org"}, "values": {"Name": "C"}}])
    out = client.upsert_rowset("aud", rows, ["Email"])
    assert [o.ok for o in out] == [False, False, True]
    assert (out[0].error_type, out[0].field) == ("InvalidEmailAddress", "Email")


def test_rowset_transient_10006_is_retried(client, sleeps):
    with responses.RequestsMock(registry=registries.OrderedRegistry) as rsps:
        add_token(rsps)
        url = fx.REST + "hub/v1/dataevents/key:aud/rowset"
        rsps.add(responses.POST, url, status=400, json=fx.ROWSET_TRANSIENT)
        rsps.add(responses.POST, url, json=[])
        assert client.upsert_rowset("aud", [{"Email": "a"}], ["Email"]) == [RowOutcome(ok=True)]
    assert len(sleeps) == 1


def test_batches_respect_row_and_byte_caps():
    rows = [{"k": i, "v": "x" * 100} for i in range(10)]
    assert [len(b) for b in batches(rows, max_rows=4)] == [4, 4, 2]
    sized = list(batches(rows, max_rows=100, max_bytes=350))
    assert all(len(b) <= 3 for b in sized)
    assert sum(len(b) for b in sized) == 10
