"""Inspection and control API of the Contacts/Journey routes (`/_sim/...`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from simulator.contacts_journeys.model import (
    Attribute,
    AttributeSet,
    EventDefinition,
    SimResponse,
)
from simulator.contacts_journeys.stores import HandlerState
from simulator.fields import SimField


class InspectionMixin(HandlerState):
    """Handlers mixed into `ContactsJourneys` (its lock is held; state lives there)."""

    # ------------------------------------------------------------------------- inspection
    def _h_sim_contacts(self, **_: Any) -> SimResponse:
        items = [
            {
                "contactKey": c.contact_key,
                "contactID": c.contact_id,
                "attributeSets": {k: dict(v) for k, v in c.attributes.items()},
            }
            for c in self.contacts.values()
        ]
        return SimResponse(200, {"count": len(items), "items": items})

    def _h_sim_sets(self, *, method: str, payload: Any, **_: Any) -> SimResponse:
        if method == "POST":
            if not isinstance(payload, dict) or not payload.get("name"):
                return SimResponse(400, {"message": "Send {name, key, attributes:[...]}."})
            attrs = [
                Attribute(
                    a["name"],
                    a.get("dataType", "Text"),
                    length=a.get("length"),
                    is_nullable=a.get("isNullable", True),
                    is_read_only=a.get("isReadOnly", False),
                )
                for a in payload.get("attributes", [])
            ]
            aset = AttributeSet(
                payload["name"],
                payload.get("key") or payload["name"].replace(" ", ""),
                attrs,
                is_system_defined=False,
                storage_logical_type="DataExtension",
            )
            self.attribute_sets.append(aset)
            return SimResponse(201, aset.to_json())
        return SimResponse(
            200,
            {
                "count": len(self.attribute_sets),
                "items": [s.to_json() for s in self.attribute_sets],
            },
        )

    def _h_sim_events(self, *, query: Mapping[str, str], **_: Any) -> SimResponse:
        key = (query.get("eventDefinitionKey") or "").casefold()
        items = [
            {
                "eventInstanceId": e.event_instance_id,
                "eventDefinitionKey": e.event_definition_key,
                "contactKey": e.contact_key,
                "data": e.data,
                "source": e.source,
                "requestId": e.request_id,
                "status": e.status,
                "errorcode": e.errorcode,
                "message": e.message,
            }
            for e in self.events
            if not key or e.event_definition_key.casefold() == key
        ]
        return SimResponse(200, {"count": len(items), "items": items})

    def _h_sim_event_defs(self, *, method: str, payload: Any, **_: Any) -> SimResponse:
        if method == "POST":
            if not isinstance(payload, dict) or not payload.get("eventDefinitionKey"):
                return SimResponse(
                    400,
                    {"message": "Send {name, eventDefinitionKey, dataExtensionKey, fields?}."},
                )
            fields = payload.get("fields")
            de_fields = (
                [
                    SimField(
                        f["name"],
                        f.get("type", "Text"),
                        max_length=f.get("maxLength"),
                        is_primary_key=f.get("isPrimaryKey", False),
                        is_required=f.get("isRequired", False),
                    )
                    for f in fields
                ]
                if fields is not None
                else None
            )
            de_key = payload.get("dataExtensionKey") or payload["eventDefinitionKey"][:36]
            definition = EventDefinition(
                payload.get("name") or payload["eventDefinitionKey"],
                payload["eventDefinitionKey"],
                de_key,
                payload.get("dataExtensionName") or de_key,
            )
            self.add_event_definition(definition, de_fields)
            return SimResponse(201, definition.to_json())
        items = [
            d.to_json() | {"dataExtensionKey": d.data_extension_key}
            for d in self.event_definitions.values()
        ]
        return SimResponse(200, {"count": len(items), "items": items})

    def _h_sim_delete_event_def(self, *, args: Mapping[str, str], **_: Any) -> SimResponse:
        removed = self.event_definitions.pop(args["key"].casefold(), None)
        return SimResponse(200 if removed else 404, {"deleted": bool(removed)})

    def _h_sim_faults(self, *, payload: Any, **_: Any) -> SimResponse:
        if not isinstance(payload, dict):
            return SimResponse(400, {"message": "Send a JSON object of fault knobs."})
        for name, value in payload.items():
            if not hasattr(self.faults, name):
                return SimResponse(400, {"message": f"Unknown fault knob {name!r}."})
            current = getattr(self.faults, name)
            setattr(self.faults, name, set(value) if isinstance(current, set) else value)
        return SimResponse(200, self.faults_json())

    def faults_json(self) -> dict[str, Any]:
        return {k: sorted(v) if isinstance(v, set) else v for k, v in asdict(self.faults).items()}

    def _h_sim_reset(self, **_: Any) -> SimResponse:
        self.reset()
        return SimResponse(200, {"reset": True})
