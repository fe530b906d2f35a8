"""Waiting for async row jobs the way a real tenant needs (issue 15): documented results paging,
a transient "Error", "Has Errors", polls timed from the job's duration, a budget instead of a
wall-clock cap, and Append retries that ask by key before re-inserting."""

import pytest
import responses
from responses import matchers, registries

from sfmc.errors import SfmcRetriableError
from sfmc.polling import ERROR_PATIENCE_S, ERROR_REPOLLS, CallBudget, Polling, waiting_note
from sfmc.rows import read_results, wait_for_rows
from sfmc.types import RowOutcome
from sync.sender import Batch, Sender
from sync.types import PushOptions, PushTarget
from tests.sfmc import fixtures as fx
from tests.sfmc.conftest import add_token, soap_body_has

STATUS_URL = fx.REST + "data/v1/async/r1/status"
RESULTS_URL = fx.REST + "data/v1/async/r1/results"
ROWS_URL = fx.REST + "data/v1/async/dataextensions/key:aud/rows"


def _page(page, size, count, items):
    return {"page": page, "pageSize": size, "count": count, "requestId": "r1", "items": items}


def _ordered():
    return responses.RequestsMock(registry=registries.OrderedRegistry)


def test_results_are_paged_with_the_documented_names_and_the_returned_page_size(client):
    # Asked for 2,500 a page, the tenant caps pages at 2: offsets and the end follow its answer.
    with _ordered() as rsps:
        add_token(rsps)
        for page, items in ((1, [fx.OK_ITEM, fx.NULL_PK_ITEM]), (2, [fx.DEADLOCK_ITEM])):
            rsps.add(
                responses.GET,
                RESULTS_URL,
                json=_page(page, 2, 3, items),
                match=[matchers.query_param_matcher({"page": str(page), "pageSize": "2500"})],
            )
        found = read_results(client, "r1")
    assert sorted(found.at) == [0, 1, 2]
    assert found.at[0].ok
    assert found.at[1].error_type == "NullValue"
    assert found.at[2].retryable


def test_a_page_other_than_the_one_asked_is_not_placed(client):
    # A tenant ignoring the paging parameters answers page 1 again: the rows after it are
    # unknown (sent again), never given page 1's verdicts by position.
    with _ordered() as rsps:
        add_token(rsps)
        rsps.add(responses.GET, RESULTS_URL, json=_page(1, 2, 4, [fx.OK_ITEM, fx.NULL_PK_ITEM]))
        rsps.add(responses.GET, RESULTS_URL, json=_page(1, 2, 4, [fx.OK_ITEM, fx.NULL_PK_ITEM]))
        out = read_results(client, "r1").align(4)
    assert out[0].ok
    assert out[1].error_type == "NullValue"
    assert [(o.ok, o.retryable) for o in out[2:]] == [(False, True), (False, True)]


def test_results_naming_their_keys_are_matched_by_key_not_position(client):
    rows = [{"Email": "a@x.org"}, {"Email": "B@x.org"}]
    refused = {**fx.NULL_PK_ITEM, "keys": {"email": "b@x.org"}}
    accepted = {**fx.OK_ITEM, "keys": {"Email": "A@X.org"}}
    with _ordered() as rsps:
        add_token(rsps)
        rsps.add(responses.GET, RESULTS_URL, json=_page(1, 50, 2, [refused, accepted]))
        out = read_results(client, "r1", ("Email",)).align(2, rows, ("Email",))
    assert out[0].ok
    assert out[1].error_type == "NullValue"


def test_a_transient_error_is_polled_again_and_has_errors_is_understood(client, sleeps):
    with _ordered() as rsps:
        add_token(rsps)
        rsps.add(responses.GET, STATUS_URL, json=fx.status("Error", None))
        rsps.add(responses.GET, STATUS_URL, json=fx.status("Executing", None))
        rsps.add(responses.GET, STATUS_URL, json=fx.status("Complete", "Has Errors", True))
        rsps.add(responses.GET, RESULTS_URL, json=_page(1, 50, 2, [fx.OK_ITEM, fx.NULL_PK_ITEM]))
        out = wait_for_rows(client, "r1", 2)
    assert out[0].ok
    assert out[1].error_type == "NullValue"


def _final_error():
    answer = fx.status("Error", None)
    answer["status"]["completionDateTime"] = "2017-10-27T16:08:06.943"
    return answer


def test_a_completed_error_is_believed_after_it_is_said_again(client):
    with _ordered() as rsps:
        add_token(rsps)
        for _ in range(ERROR_REPOLLS + 1):
            rsps.add(responses.GET, STATUS_URL, json=_final_error())
        rsps.add(responses.GET, RESULTS_URL, json=_page(1, 50, 0, []))
        out = wait_for_rows(client, "r1", 2)
    assert all((not o.ok) and o.retryable for o in out)


def test_an_error_without_completion_is_waited_out_before_it_is_believed(client, sleeps):
    with responses.RequestsMock() as rsps:
        add_token(rsps)
        rsps.add(responses.GET, STATUS_URL, json=fx.status("Error", None))
        rsps.add(responses.GET, RESULTS_URL, json=_page(1, 50, 0, []))
        out = wait_for_rows(client, "r1", 1)
    assert sum(sleeps) >= ERROR_PATIENCE_S
    assert (out[0].ok, out[0].retryable) == (False, True)


def test_polls_wait_the_expected_duration_then_back_off_by_a_share_of_the_wait(client, sleeps):
    polling = Polling(first=0.05, factor=1.5, ceiling=30, wait_first=True, share=0.25)
    notes = []
    with _ordered() as rsps:
        add_token(rsps)
        for _ in range(6):
            rsps.add(responses.GET, STATUS_URL, json=fx.status("Pending", None))
        rsps.add(responses.GET, STATUS_URL, json=fx.status("Complete", "OK"))
        out = wait_for_rows(client, "r1", 20_000, polling=polling, on_wait=notes.append)
    assert out == [RowOutcome(ok=True)] * 20_000
    assert sleeps[0] == pytest.approx(1.0)  # 20,000 rows at the expected 20,000 rows/s
    for before, after in zip(sleeps[1:], sleeps[2:], strict=False):
        assert after <= max(before * 1.5, 0.05) + 1e-9
    assert sum(sleeps[1:]) <= 0.25 * sum(sleeps) * 6  # each delay a share of the wait so far
    assert notes[0].startswith("SFMC is queueing this job (")


def test_a_spent_budget_stops_waiting_with_advice_and_no_clock_cap(client):
    with _ordered() as rsps:
        add_token(rsps)
        for _ in range(3):
            rsps.add(responses.GET, STATUS_URL, json=fx.status("Pending", None))
        with pytest.raises(SfmcRetriableError, match="run the sync again later") as err:
            wait_for_rows(client, "r1", 1, budget=CallBudget(3))
    assert err.value.kind == "budget"


def test_waiting_note_says_queueing_in_minutes():
    assert waiting_note("Pending", 125) == "SFMC is queueing this job (2 min)"
    assert waiting_note("Executing", 12) == "SFMC is processing this job (12 s)"


def _deadlocked(n):
    return _page(1, 50, n, [fx.DEADLOCK_ITEM] * n)


def test_append_asks_by_key_before_reinserting_deadlocked_rows(client):
    # Two rows deadlock; one of them landed all the same. It is counted written, not re-sent
    # (a re-insert would fail on its primary key); only the other goes again.
    target = PushTarget("aud", (), ("Email",), method="append")
    sender = Sender(client, target, PushOptions(max_requests_per_s=0, poll_interval=0.01))
    batch = Batch(0)
    batch.items = [{"Email": "a@x.org"}, {"Email": "b@x.org"}]
    with _ordered() as rsps:
        add_token(rsps)
        rsps.add(responses.POST, ROWS_URL, json={"requestId": "r1"})
        rsps.add(responses.GET, STATUS_URL, json=fx.status("Complete", "Has Errors", True))
        rsps.add(responses.GET, RESULTS_URL, json=_deadlocked(2))
        rsps.add(
            responses.POST,
            fx.SOAP_URL,
            body=fx.retrieve_response(fx.row_result(Email="A@x.org")),
            match=[
                soap_body_has(
                    "<SimpleOperator>IN</SimpleOperator>",
                    "<Value>a@x.org</Value>",
                    "<Value>b@x.org</Value>",
                )
            ],  # fmt: skip
        )
        rsps.add(
            responses.POST,
            ROWS_URL,
            json={"requestId": "r1"},
            match=[matchers.json_params_matcher({"items": [{"Email": "b@x.org"}]})],
        )
        rsps.add(responses.GET, STATUS_URL, json=fx.status("Complete", "OK"))
        sender.send(batch)
    assert batch.outcomes == [RowOutcome(ok=True), RowOutcome(ok=True)]
