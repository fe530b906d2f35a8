"""Journey Builder: event definitions, and API entry events (single and batch).

Facts: `reference/sfmc-contacts-journeys.md`. Every call goes through the client's choke point
(`SfmcTransport._rest` / `_rest_pages`). Refused members come back as `RowOutcome`s; an unknown
event definition raises `SfmcConfigError` (nothing would ever get through).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sfmc.errors import SfmcConfigError, SfmcFatalError, SfmcRetriableError
from sfmc.outcomes import unexpected
from sfmc.polling import POLL_MAX
from sfmc.transport import rest_path
from sfmc.types import RowOutcome

if TYPE_CHECKING:
    from sfmc.client import SfmcClient

EVENT_BATCH_MAX = 100
EVENT_DEFINITIONS_PAGE = 50
_ERRORED_PAGE = 50
# Polling a batch's status until its members are processed (SFMC queues them first).
STATUS_FIRST_S = 1.0
STATUS_POLLS = 12
_STILL_QUEUED = (
    "SFMC accepted this member but has not processed it after about four minutes; check the "
    "journey's entries (Journey Builder) before sending it again, which would enter it twice."
)


@dataclass(frozen=True)
class EventDefinition:
    """A Journey Builder event definition (`GET /interaction/v1/eventDefinitions`)."""

    id: str
    key: str
    name: str
    type: str
    data_extension_id: str | None
    data_extension_name: str | None


def _event_definition(item: Mapping[str, Any]) -> EventDefinition:
    return EventDefinition(
        id=str(item.get("id", "")),
        key=str(item.get("eventDefinitionKey", "")),
        name=str(item.get("name", "")),
        type=str(item.get("type", "")),
        data_extension_id=item.get("dataExtensionId"),
        data_extension_name=item.get("dataExtensionName"),
    )


def list_event_definitions(client: SfmcClient, *, name: str | None = None) -> list[EventDefinition]:
    """Event definitions of the account (all pages of 50), API events first."""
    items = client._rest_pages(
        "/interaction/v1/eventDefinitions",
        page_size=EVENT_DEFINITIONS_PAGE,
        params={"name": name} if name else None,
        operation="list journey event definitions",
        scope="journeys_read",
    )
    result = [_event_definition(i) for i in items]
    return sorted(result, key=lambda d: (d.type != "APIEvent", d.name.casefold()))


def get_event_definition(client: SfmcClient, key: str) -> EventDefinition | None:
    """One event definition by key, or None when SFMC does not know the key."""
    # SFMC answers an unknown key with 400 (reference §3.3); 404 seen too.
    status, body = client._rest(
        "GET",
        rest_path("/interaction/v1/eventDefinitions/key:{key}", key=key),
        operation="read the journey event definition",
        scope="journeys_read",
        return_on=frozenset({400, 404}),
    )
    if status in (400, 404):
        return None
    return _event_definition(body)


def _unknown_event(key: str, body: Mapping[str, Any]) -> SfmcConfigError:
    msg = (
        f"SFMC does not know the event definition '{key}' ({body.get('message', '')}); "
        "pick an existing event definition in the pathway settings."
    )
    return SfmcConfigError(msg, operation="send journey entry events", status=400)


def _is_unknown_event(body: Mapping[str, Any]) -> bool:
    return "event definition" in str(body.get("message", "")).casefold() and str(
        body.get("errorcode")
    ) in ("30000", "30003")


def _event_error_type(body: Mapping[str, Any]) -> str:
    code = str(body.get("errorcode") or "")
    return {
        "10001": "InvalidValue",
        "10002": "NullValue",
        "10005": "InvalidValue",
        "30000": "EventRefused",
    }.get(code, "UnexpectedError")


def fire_entry_event(
    client: SfmcClient, event_definition_key: str, contact_key: str, data: Mapping[str, object]
) -> RowOutcome:
    """Fire one API entry event (`POST /interaction/v1/events`).

    Raises:
        SfmcConfigError: the event definition key is unknown.
    """
    try:
        status, body = client._rest(
            "POST",
            "/interaction/v1/events",
            json={
                "ContactKey": contact_key,
                "EventDefinitionKey": event_definition_key,
                "Data": dict(data),
            },
            operation="fire a journey entry event",
            scope="journeys_read",
            return_on=frozenset({400}),
        )
    except SfmcRetriableError as exc:
        return unexpected(exc.message)
    if status == 400:
        if _is_unknown_event(body):
            raise _unknown_event(event_definition_key, body)
        return RowOutcome(
            ok=False,
            error_type=_event_error_type(body),
            error_details=str(body.get("message") or "SFMC refused the event."),
        )
    return RowOutcome(ok=True)


def fire_entry_events(
    client: SfmcClient,
    event_definition_key: str,
    members: Sequence[tuple[str, Mapping[str, object]]],
    *,
    use_batch: bool = True,
) -> list[RowOutcome]:
    """Send members into a journey; outcomes in input order.

    Uses the batch endpoint (`POST /interaction/v1/async/events`, 100 members per request) and
    reads the errored members of each request from its status; falls back to one call per member
    when the tenant has no batch endpoint (404).

    Raises:
        SfmcConfigError: the event definition key is unknown.
        SfmcFatalError: SFMC refused a whole batch.
    """
    if not members:
        return []
    if not use_batch:
        return [fire_entry_event(client, event_definition_key, k, d) for k, d in members]
    outcomes: list[RowOutcome] = []
    for start in range(0, len(members), EVENT_BATCH_MAX):
        batch = _fire_batch(client, event_definition_key, members[start : start + EVENT_BATCH_MAX])
        if batch is None:  # no batch endpoint on this tenant: one call per member
            rest = members[start:]
            outcomes.extend(fire_entry_event(client, event_definition_key, k, d) for k, d in rest)
            break
        outcomes.extend(batch)
    return outcomes


def _fire_batch(
    client: SfmcClient, event_definition_key: str, chunk: Sequence[tuple[str, Mapping[str, object]]]
) -> list[RowOutcome] | None:
    try:
        status, body = client._rest(
            "POST",
            "/interaction/v1/async/events",
            json={
                "eventDefinitionKey": event_definition_key,
                "members": [{"contactKey": k, "data": dict(d)} for k, d in chunk],
            },
            operation="send journey entry events",
            scope="journeys_read",
            return_on=frozenset({400, 404}),
        )
    except SfmcRetriableError as exc:
        failed = unexpected(exc.message)
        return [failed] * len(chunk)
    if status == 404:
        return None
    if status == 400:
        if _is_unknown_event(body):
            raise _unknown_event(event_definition_key, body)
        msg = f"SFMC refused the batch of entry events: {body.get('message', '')}"
        raise SfmcFatalError(msg, operation="send journey entry events", status=400)
    answered = body.get("members") or []
    outcomes: list[RowOutcome] = []
    by_instance: dict[str, int] = {}
    for i in range(len(chunk)):
        member = answered[i] if i < len(answered) else {}
        if member.get("errorcode"):
            outcomes.append(
                RowOutcome(
                    ok=False,
                    error_type=_event_error_type(member),
                    error_details=str(member.get("message") or "The member was not queued."),
                )
            )
            continue
        outcomes.append(RowOutcome(ok=True))
        if member.get("eventInstanceId"):
            by_instance[str(member["eventInstanceId"])] = i
    request_id = body.get("requestId")
    if request_id and by_instance:
        # Members are queued first and checked against the event's DE while processed: their
        # errors exist only once SFMC has processed them.
        if not _wait_processed(client, str(request_id)):
            for i in by_instance.values():
                outcomes[i] = RowOutcome(
                    ok=False,
                    error_type="StillQueued",
                    error_details=_STILL_QUEUED,
                )
            return outcomes
        for item in _errored_members(client, str(request_id)):
            index = by_instance.get(str(item.get("eventInstanceId")))
            if index is not None:
                outcomes[index] = RowOutcome(
                    ok=False,
                    error_type=_event_error_type(item),
                    error_details=str(item.get("message") or "SFMC could not process the event."),
                )
    return outcomes


def _queued_count(client: SfmcClient, request_id: str) -> int:
    _, body = client._rest(
        "GET",
        "/interaction/v1/async/events/status",
        params={"requestId": request_id, "type": "queued", "$page": 1, "$pageSize": 1},
        operation="read the status of journey entry events",
        scope="journeys_read",
    )
    return int(body.get("count") or 0)


def _wait_processed(client: SfmcClient, request_id: str) -> bool:
    """Poll the batch until SFMC has processed every member (none "queued"); False if it never did.

    Delays double from `STATUS_FIRST_S` up to `POLL_MAX`, for at most `STATUS_POLLS` polls
    (about four minutes).
    """
    delay = STATUS_FIRST_S
    for _ in range(STATUS_POLLS):
        if _queued_count(client, request_id) == 0:
            return True
        client._sleep(delay)
        delay = min(delay * 2, POLL_MAX)
    return False


def _errored_members(client: SfmcClient, request_id: str) -> list[dict[str, Any]]:
    items = client._rest_pages(
        "/interaction/v1/async/events/status",
        page_size=_ERRORED_PAGE,
        params={"requestId": request_id, "type": "errored"},
        operation="read the status of journey entry events",
        scope="journeys_read",
    )
    return list(items)
