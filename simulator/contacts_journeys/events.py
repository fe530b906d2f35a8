"""Journey Builder: event definitions, single and batch entry events, async status."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from simulator.contacts_journeys.model import (
    EVENT_BATCH_MAX,
    EVENT_DEFINITIONS_PAGE_MAX,
    EventDefinition,
    FiredEvent,
    SimResponse,
    _error,
    _guid,
    _now,
    _paging,
)
from simulator.contacts_journeys.stores import HandlerState
from simulator.fieldrules import canonical, check_value


class EventsMixin(HandlerState):
    """Handlers mixed into `ContactsJourneys` (its lock is held; state lives there)."""

    # ------------------------------------------------------------------ event definitions
    def _h_list_event_defs(self, *, query: Mapping[str, str], **_: Any) -> SimResponse:
        page, size = _paging(query, default_size=50, max_size=EVENT_DEFINITIONS_PAGE_MAX)
        name = (query.get("name") or "").casefold()
        items = [
            d.to_json()
            for d in self.event_definitions.values()
            if not name or name in d.name.casefold()
        ]
        body = {
            "count": len(items),
            "page": page,
            "pageSize": size,
            "links": {},
            "items": items[(page - 1) * size : page * size],
        }
        return SimResponse(200, body)

    def _h_get_event_def(self, *, args: Mapping[str, str], **_: Any) -> SimResponse:
        ref = args["ref"]
        if ref.casefold().startswith("key:"):
            definition = self.event_definitions.get(ref[4:].casefold())
        else:
            definition = next((d for d in self.event_definitions.values() if d.id == ref), None)
        if definition is None:
            return _error(400, f"Event definition '{ref}' was not found.", 30000)
        return SimResponse(200, definition.to_json())

    # ------------------------------------------------------------------------------ events
    def _validate_event(
        self, definition: EventDefinition, contact_key: str, data: Any
    ) -> tuple[dict[str, str | None] | None, int, str]:
        """Check `Data` against the event's DE; returns (row, 0, "") or (None, errorcode, message)."""
        if contact_key in self.faults.inactive_contacts:
            return None, 30000, f"Contact '{contact_key}' is not active."
        if data is None:
            data = {}
        if not isinstance(data, dict):
            return None, 10001, "Data must be a JSON object."
        fields = self.de_store.event_de_fields(definition.data_extension_key)
        if fields is None:
            return (
                None,
                30000,
                f"The data extension '{definition.data_extension_name}' of event definition "
                f"'{definition.event_definition_key}' was not found.",
            )
        by_name = {f.name.casefold(): f for f in fields}
        row: dict[str, str | None] = {}
        for name, value in data.items():
            if str(name).casefold() == "eventinstanceid":
                continue  # reserved: ignored by SFMC
            de_field = by_name.get(str(name).casefold())
            if de_field is None:
                return (
                    None,
                    10005,
                    f"Data field '{name}' does not exist in data extension "
                    f"'{definition.data_extension_name}'.",
                )
            violation = check_value(de_field, value)
            if violation is not None:
                return None, 10005, violation.message
            row[de_field.name] = canonical(de_field, value)
        for de_field in fields:
            if de_field.name not in row:
                violation = check_value(de_field, None)
                if violation is not None:
                    return None, 10002, violation.message
        return row, 0, ""

    def _h_fire_event(self, *, payload: Any, **_: Any) -> SimResponse:
        lowered = _lowered(payload)
        if isinstance(lowered, SimResponse):
            return lowered
        contact_key = lowered.get("contactkey")
        def_key = lowered.get("eventdefinitionkey")
        if not def_key:
            return _error(400, "EventDefinitionKey is required.", 10002)
        if not contact_key:
            return _error(400, "ContactKey is required.", 10002)
        definition = self.event_definitions.get(str(def_key).casefold())
        if definition is None:
            return _error(400, f"Event definition key '{def_key}' was not found.", 30000)
        row, code, message = self._validate_event(definition, str(contact_key), lowered.get("data"))
        if row is None:
            return _error(400, message, code)
        self.de_store.event_de_insert(definition.data_extension_key, row)
        fired = FiredEvent(
            _guid(),
            definition.event_definition_key,
            str(contact_key),
            dict(lowered.get("data") or {}),
            "single",
            modified=_now(),
        )
        self.events.append(fired)
        return SimResponse(201, {"eventInstanceId": fired.event_instance_id})

    def _h_fire_async(self, *, payload: Any, **_: Any) -> SimResponse:
        lowered = _lowered(payload)
        if isinstance(lowered, SimResponse):
            return lowered
        def_key = lowered.get("eventdefinitionkey")
        members = lowered.get("members")
        if not def_key:
            return _error(400, "eventDefinitionKey is required.", 10002)
        if not isinstance(members, list) or not members:
            return _error(400, "members is required and must hold at least one member.", 10002)
        if len(members) > EVENT_BATCH_MAX:
            return _error(
                400,
                f"A request can hold at most {EVENT_BATCH_MAX} members; it held {len(members)}.",
                10005,
            )
        definition = self.event_definitions.get(str(def_key).casefold())
        if definition is None:
            return _error(400, f"Event definition key '{def_key}' was not found.", 30000)
        request_id = _guid()
        out: list[dict[str, Any]] = []
        not_queued = 0
        for member in members:
            member_l = (
                {str(k).casefold(): v for k, v in member.items()}
                if isinstance(member, dict)
                else {}
            )
            contact_key = member_l.get("contactkey")
            if not contact_key:
                not_queued += 1
                out.append(
                    {
                        "contactKey": contact_key or "",
                        "errorcode": "10002",
                        "message": "contactKey is required.",
                    }
                )
                continue
            fired = FiredEvent(
                _guid(),
                definition.event_definition_key,
                str(contact_key),
                dict(member_l.get("data") or {}) if isinstance(member_l.get("data"), dict) else {},
                "async",
                request_id=request_id,
                status="queued",
                modified=_now(),
                payload=member_l.get("data"),
                due=self.clock() + self.processing_s,
            )
            # Queued now, processed when due (at once unless `processing_s`): DE validation
            # failures surface in the status, as in SFMC where the member is accepted first and
            # errored during processing.
            self.events.append(fired)
            if not self.processing_s:
                self._process(fired)
            out.append(
                {"contactKey": fired.contact_key, "eventInstanceId": fired.event_instance_id}
            )
        body = {
            "requestId": request_id,
            "count": len(members),
            "notQueuedCount": not_queued,
            "members": out,
        }
        return SimResponse(202, body)

    def _process(self, fired: FiredEvent) -> None:
        """Process one queued batch member: it is "processed" (its DE row written) or "errored"."""
        definition = self.event_definitions.get(fired.event_definition_key.casefold())
        if definition is None:
            row, code, message = None, 30000, "The event definition was deleted."
        else:
            row, code, message = self._validate_event(definition, fired.contact_key, fired.payload)
        if row is None:
            fired.status, fired.errorcode, fired.message = "errored", str(code), message
        else:
            assert definition is not None
            self.de_store.event_de_insert(definition.data_extension_key, row)
            fired.status = "processed"
        fired.modified, fired.payload = _now(), None
        if self.log is not None and self.processing_s:
            self.log.record("journey_processed", event_instance_id=fired.event_instance_id,
                            status=fired.status)  # fmt: skip

    def process_due(self) -> None:
        """Process the queued batch members whose time has come (hold the lock)."""
        now = self.clock()
        for fired in self.events:
            if fired.status == "queued" and fired.due <= now:
                self._process(fired)

    def _h_async_status(self, *, query: Mapping[str, str], **_: Any) -> SimResponse:
        filters = {
            "type": query.get("type"),
            "contactKey": query.get("contactKey"),
            "requestId": query.get("requestId"),
            "eventInstanceId": query.get("eventInstanceId"),
            "eventDefinitionKey": query.get("eventDefinitionKey"),
        }
        if not any(filters.values()):
            return _error(
                400,
                "Provide at least one of type, contactKey, requestId, eventInstanceId or "
                "eventDefinitionKey.",
                10002,
            )
        page, size = _paging(query, default_size=50, max_size=500)
        matched = [
            e
            for e in self.events
            if e.source == "async"
            and (not filters["type"] or e.status == filters["type"])
            and (not filters["contactKey"] or e.contact_key == filters["contactKey"])
            and (not filters["requestId"] or e.request_id == filters["requestId"])
            and (
                not filters["eventInstanceId"] or e.event_instance_id == filters["eventInstanceId"]
            )
            and (
                not filters["eventDefinitionKey"]
                or e.event_definition_key.casefold() == filters["eventDefinitionKey"].casefold()
            )
        ]
        items = [
            {
                "requestId": e.request_id,
                "eventInstanceId": e.event_instance_id,
                "contactKey": e.contact_key,
                "eventDefinitionKey": e.event_definition_key,
                "status": e.status,
                "modifiedDate": e.modified,
            }
            | ({"errorcode": e.errorcode, "message": e.message} if e.status == "errored" else {})
            for e in matched
        ]
        body = {
            "page": page,
            "pageSize": size,
            "count": len(items),
            "items": items[(page - 1) * size : page * size],
        }
        return SimResponse(200, body)


def _lowered(payload: Any) -> dict[str, Any] | SimResponse:
    """An event body with case-folded top-level names (SFMC matches them case-insensitively)."""
    if not isinstance(payload, dict):
        return _error(400, "The request body must be a JSON object.", 10004)
    return {str(k).casefold(): v for k, v in payload.items()}
