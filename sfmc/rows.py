"""Rows of a Data Extension: the async row API, batching, SOAP deletes, hub rowsets.

Reading a DE's rows (its keys) is `sfmc.keys`.

Functions take the client (any `SfmcTransport`) first; `SfmcClient` exposes each as a method.
Per-row verdicts are mapped in `sfmc.outcomes`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sfmc import soap
from sfmc.errors import SfmcConfigError, SfmcFatalError, SfmcRetriableError
from sfmc.outcomes import (
    async_outcome,
    pad_outcomes,
    rowset_outcome,
    soap_row_outcome,
    unexpected,
)
from sfmc.polling import (
    DEFAULT_POLLING,
    ERROR_PATIENCE_S,
    ERROR_REPOLLS,
    NO_NOTE,
    CallBudget,
    Polling,
    waiting_note,
)
from sfmc.responses import json_object
from sfmc.transport import JSON_UTF8, READ, WRITE, encode_json, rest_path
from sfmc.types import AsyncStatus, RowOutcome

if TYPE_CHECKING:
    from sfmc.transport import SfmcTransport

ASYNC_MAX_ROWS = 32_000
ASYNC_MAX_BYTES = 4_000_000
ROWSET_BATCH = 50
DELETE_BATCH = 500
RESULTS_PAGE_SIZE = 2_500
# Every row of a request SFMC reports without errors gets this one object (cheap to test for).
ALL_OK = RowOutcome(ok=True)


def _no_pace() -> None:
    return None


# The kind of `SfmcConfigError` `submit_rows` raises for a body over the byte cap (nothing sent):
# callers that size batches with an estimate split the batch and submit the halves.
TOO_LARGE = "batch_too_large"


def row_bytes(row: Mapping[str, object]) -> int:
    """Bytes `row` adds to an async request's JSON body (UTF-8, see `encode_rows`)."""
    return len(encode_json(row)) + 1


def encode_rows(rows: Sequence[Mapping[str, object]]) -> bytes:
    """The async row API's request body for `rows`: `{"items": [...]}` as UTF-8 JSON."""
    return encode_json({"items": rows if isinstance(rows, list) else list(rows)})


def batches(
    rows: Iterable[Mapping[str, object]],
    *,
    max_rows: int = ASYNC_MAX_ROWS,
    max_bytes: int = ASYNC_MAX_BYTES,
) -> Iterator[list[dict[str, object]]]:
    """Split rows into batches of at most `max_rows` rows and about `max_bytes` of JSON.

    A single row bigger than `max_bytes` travels alone (SFMC will judge it).
    """
    batch: list[dict[str, object]] = []
    size = 0
    for row in rows:
        row_size = row_bytes(row)
        if batch and (len(batch) >= max_rows or size + row_size > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(dict(row))
        size += row_size
    if batch:
        yield batch


def submit_rows(
    client: SfmcTransport, customer_key: str, rows: Sequence[Mapping[str, object]], *, mode: str
) -> str:
    """Queue rows through the async DE API; returns SFMC's requestId.

    The body is encoded once (UTF-8 JSON) and sent as those bytes, retries included.

    Args:
        client: the client to send through.
        customer_key: the DE's external key.
        rows: flat `{field: value}` rows (at most 32,000 and the byte cap; see `batches`).
        mode: "upsert" (PUT) or "insert" (POST; existing keys come back as row errors).

    Raises:
        SfmcConfigError: bad mode, too many rows, or (kind `TOO_LARGE`) a body over the byte
            cap; nothing was sent.
    """
    method = {"upsert": "PUT", "insert": "POST"}.get(mode)
    if method is None:
        msg = f"mode must be 'upsert' or 'insert' (got {mode!r})."
        raise SfmcConfigError(msg, operation="submit rows")
    if len(rows) > ASYNC_MAX_ROWS:
        msg = f"{len(rows)} rows exceed one async request: split them with batches()."
        raise SfmcConfigError(msg, operation="submit rows")
    # One encode of the whole body (C speed), not one per row: callers size their batches with
    # their own estimate, this is the exact check, and these bytes are what is sent.
    body = encode_rows(rows)
    if len(body) > ASYNC_MAX_BYTES + 64:
        msg = (
            f"{len(rows)} rows / {len(body)} bytes exceed one async request: "
            "split them with batches()."
        )
        raise SfmcConfigError(msg, operation="submit rows", kind=TOO_LARGE)
    resp = client._send(
        method,
        rest_path("data/v1/async/dataextensions/key:{key}/rows", key=customer_key),
        data=body,
        content_type=JSON_UTF8,
        operation=f"{mode} {len(rows)} rows into {customer_key}",
        scope=WRITE,
    )
    request_id = json_object(resp).get("requestId")
    if not request_id:
        msg = "SFMC accepted the rows but sent no requestId."
        raise SfmcFatalError(msg, operation="submit rows", status=resp.status_code, body=resp.text)
    return str(request_id)


def async_status(client: SfmcTransport, request_id: str) -> AsyncStatus | None:
    """Status of an async request; None while SFMC does not know the request yet."""
    resp = client._send(
        "GET",
        rest_path("data/v1/async/{id}/status", id=request_id),
        operation="check async status",
        scope=READ,
        return_on=frozenset({400, 404}),
    )
    data = json_object(resp)
    status = data.get("status")
    if isinstance(status, dict) and status.get("requestStatus"):
        return AsyncStatus(
            request_id=str(status.get("requestId") or request_id),
            request_status=str(status["requestStatus"]),
            result_status=status.get("resultStatus"),
            has_errors=bool(status.get("hasErrors")),
            completed=bool(status.get("completionDateTime")),
        )
    codes = {
        str(m.get("resultCode")) for m in data.get("resultMessages") or [] if isinstance(m, dict)
    }
    if "AsyncRequestStatusNotFound" in codes or resp.status_code == 404:
        return None
    client._raise_for_response(resp, operation="check async status", api="rest", scope=READ)
    msg = "SFMC sent an async status without requestStatus."
    raise SfmcFatalError(msg, operation="check async status", body=resp.text)


@dataclass
class AsyncResults:
    """What `GET /data/v1/async/{id}/results` said, placed by the page offsets SFMC reported.

    Attributes:
        at: outcome by submitted-row position ((page - 1) * pageSize + index, both as returned).
        by_key: outcome by row key, for items that name their row's keys (then matched by key,
            never by position).
    """

    at: dict[int, RowOutcome]
    by_key: dict[str, RowOutcome]

    def align(
        self,
        n_rows: int,
        rows: Sequence[Mapping[str, object]] | None = None,
        key_names: Sequence[str] = (),
    ) -> list[RowOutcome]:
        """One outcome per submitted row; rows SFMC said nothing about are `unexpected`.

        Re-sending an upsert is safe, silently counting an unanswered row as written is not.
        """
        unknown = unexpected("SFMC returned no result for this row; sync again to resend it.")
        if self.by_key and rows is not None and key_names:
            return [self.by_key.get(row_key(r, key_names), unknown) for r in rows[:n_rows]]
        return [self.at.get(i, unknown) for i in range(n_rows)]


def row_key(row: Mapping[str, object], key_names: Sequence[str]) -> str:
    """A row's primary key as one string; SFMC compares keys case-insensitively."""
    lowered = {str(k).casefold(): v for k, v in row.items()}
    return "\x1f".join(str(lowered.get(n.casefold(), "")).casefold() for n in key_names)


def _item_key(item: Mapping[str, object], key_names: Sequence[str]) -> str | None:
    keys = item.get("keys")
    if isinstance(keys, Mapping) and keys and key_names:
        return row_key(keys, key_names)
    return None


def _int_or(value: object, default: int) -> int:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return default


def read_results(
    client: SfmcTransport, request_id: str, key_names: Sequence[str] = ()
) -> AsyncResults:
    """Every page of an async request's results, paged as documented (`page`/`pageSize`).

    Each page is checked: an answer for another page than the one asked (a tenant ignoring the
    parameters) ends the reading, and offsets and the last page come from the `page` and
    `pageSize` SFMC returned, never from the ones requested. Rows left without a result count
    as unknown (see `AsyncResults.align`).
    """
    found = AsyncResults(at={}, by_key={})
    page = 1
    while True:
        resp = client._send(
            "GET",
            rest_path("data/v1/async/{id}/results", id=request_id),
            params={"page": page, "pageSize": RESULTS_PAGE_SIZE},
            operation="read async results",
            scope=READ,
        )
        data = json_object(resp)
        items = [i for i in data.get("items") or [] if isinstance(i, dict)]
        if _int_or(data.get("page"), page) != page:
            return found  # SFMC answered another page: what it holds cannot be placed
        size = _int_or(data.get("pageSize"), len(items)) or len(items)
        for index, item in enumerate(items):
            outcome = async_outcome(item)
            found.at[(page - 1) * size + index] = outcome
            key = _item_key(item, key_names)
            if key is not None:
                found.by_key[key] = outcome
        if not items or len(items) < size or page * size >= _int_or(data.get("count"), 0):
            return found
        page += 1


def async_results(client: SfmcTransport, request_id: str) -> list[RowOutcome]:
    """Per-row outcomes of an async request, all pages, in submission order."""
    found = read_results(client, request_id)
    return [found.at[i] for i in sorted(found.at)]


def wait_for_rows(
    client: SfmcTransport,
    request_id: str,
    n_rows: int,
    *,
    timeout: float | None = None,
    polling: Polling = DEFAULT_POLLING,
    pace: Callable[[], None] = _no_pace,
    budget: CallBudget | None = None,
    on_wait: Callable[[str], None] = NO_NOTE,
    rows: Sequence[Mapping[str, object]] | None = None,
    key_names: Sequence[str] = (),
) -> list[RowOutcome]:
    """Poll until the async request finishes, then return one outcome per submitted row.

    Results are read only when the status reports errors; rows SFMC did not answer for come
    back failed and retryable (`sfmc.outcomes.unexpected`). An "Error" status can be transient:
    it is believed once SFMC gives it a completion time and says it again (`ERROR_REPOLLS`), or
    after `ERROR_PATIENCE_S` without one.

    Args:
        client: the client to poll through (its `sleep` is used between polls).
        request_id: the async request's id (from `submit_rows`).
        n_rows: rows submitted in it.
        timeout: optional cap in seconds (None: wait as long as the budget allows, since a
            queued job is waiting, not failing).
        polling: poll delays (see `sfmc.polling`).
        pace: called before each request (the engine's own request pacing).
        budget: the run's budget of status calls.
        on_wait: told what the job is doing while it is not done (for progress).
        rows: the submitted rows, to match results by key when SFMC names the rows' keys.
        key_names: the DE's primary key fields (for that match).
    """
    started = time.monotonic()
    delay = polling.expected(n_rows)
    waited = 0.0
    if polling.wait_first:
        client._sleep(delay)
        waited = delay
        # The first poll came when the job should be done: if not, it is close, so the next
        # delay is the backoff's (a share of the time waited), not the whole expected time again.
        delay = polling.next_delay(delay, waited)
    errors_seen, error_since = 0, 0.0
    while True:
        pace()
        if budget is not None:
            budget.spend(f"waiting for async request {request_id}")
        status = client.async_status(request_id)
        waited = max(waited, time.monotonic() - started)
        if status is not None and status.done:
            if status.request_status != "Error":
                break
            error_since = error_since if errors_seen else waited
            errors_seen += 1
            if (status.completed and errors_seen > ERROR_REPOLLS) or (
                waited - error_since >= ERROR_PATIENCE_S
            ):
                break
        if timeout is not None and waited >= timeout:
            msg = (
                f"SFMC has not finished async request {request_id} after {waited:.0f} s; run "
                "the sync again later (rows already accepted are skipped)."
            )
            raise SfmcRetriableError(msg, operation="wait for rows", kind="timeout")
        on_wait(waiting_note(status.request_status if status else None, waited))
        client._sleep(delay)
        waited += delay
        delay = polling.next_delay(delay, waited)
    if status.all_ok:
        return [ALL_OK] * n_rows
    pace()
    found = read_results(client, request_id, key_names)
    if status.request_status == "Error" and not found.at:
        failed = unexpected("SFMC reported the whole async request as failed; sync again.")
        return [failed] * n_rows
    return found.align(n_rows, rows, key_names)


def present_keys(
    client: SfmcTransport,
    customer_key: str,
    rows: Sequence[Mapping[str, object]],
    key_names: Sequence[str],
) -> set[str]:
    """Which of `rows` (by `row_key`) are in the DE now: one SOAP Retrieve per 500 rows.

    After a deadlock SFMC may report a row failed that did land; an insert (Append) sent again
    would then fail with a primary-key violation and count a written row as failed. Asking
    first makes the retry idempotent. A composite key is filtered on its first field with IN,
    the rest compared here.
    """
    if not rows or not key_names:
        return set()
    first = key_names[0]
    wanted = {row_key(r, key_names) for r in rows}
    found: set[str] = set()
    for start in range(0, len(rows), DELETE_BATCH):
        values = sorted({str(r.get(first, "")) for r in rows[start : start + DELETE_BATCH]})
        results = client._retrieve(
            f"DataExtensionObject[{customer_key}]",
            list(key_names),
            soap.in_filter(first, values),
            operation=f"check which rows landed in {customer_key}",
        )
        found.update(row_key(soap.row_properties(r), key_names) for r in results)
    return found & wanted


def delete_rows(
    client: SfmcTransport,
    customer_key: str,
    keys: Sequence[Mapping[str, object]],
    *,
    batch_size: int = DELETE_BATCH,
) -> list[RowOutcome]:
    """Delete rows by primary key (all PK fields per row), in batches; one outcome per key."""
    outcomes: list[RowOutcome] = []
    for start in range(0, len(keys), batch_size):
        chunk = keys[start : start + batch_size]
        parsed = client._soap(
            "Delete",
            soap.delete_rows(customer_key, chunk),
            operation=f"delete rows of {customer_key}",
            scope=WRITE,
        )
        ordered = sorted(parsed.results, key=lambda r: r.ordinal if r.ordinal is not None else 0)
        outcomes.extend(pad_outcomes([soap_row_outcome(r) for r in ordered], len(chunk)))
    return outcomes


def clear_data(client: SfmcTransport, customer_key: str) -> None:
    """Remove every row of a DE (SOAP Perform ClearData)."""
    client._soap_single(
        "Perform",
        soap.clear_data(customer_key),
        operation=f"clear Data Extension {customer_key}",
    )


def upsert_rowset(
    client: SfmcTransport,
    customer_key: str,
    rows: Sequence[Mapping[str, object]],
    primary_keys: Sequence[str],
    *,
    batch_size: int = ROWSET_BATCH,
) -> list[RowOutcome]:
    """Synchronous hub upsert in batches of 50; a failed batch gives all its rows the error."""
    outcomes: list[RowOutcome] = []
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        payload = [
            {
                "keys": {k: r.get(k) for k in primary_keys},
                "values": {k: v for k, v in r.items() if k not in primary_keys},
            }
            for r in chunk
        ]
        resp = client._send(
            "POST",
            rest_path("hub/v1/dataevents/key:{key}/rowset", key=customer_key),
            json=payload,
            operation=f"upsert rows into {customer_key}",
            scope=WRITE,
            return_on=frozenset({400}),
        )
        if resp.status_code < 400:
            outcomes.extend(RowOutcome(ok=True) for _ in chunk)
        else:
            outcomes.extend([rowset_outcome(json_object(resp))] * len(chunk))
    return outcomes
