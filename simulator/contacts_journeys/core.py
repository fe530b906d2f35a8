"""The Contacts/Journey state of one tenant: routes, scopes, lifecycle, dispatch, faults."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule

from simulator.contacts_journeys.contacts import ContactsMixin
from simulator.contacts_journeys.events import EventsMixin
from simulator.contacts_journeys.inspection import InspectionMixin
from simulator.contacts_journeys.model import (
    _DOC_URL,
    READ_CONTACTS,
    READ_JOURNEYS,
    WRITE_CONTACTS,
    Attribute,
    AttributeSet,
    Contact,
    EventDefinition,
    Faults,
    FiredEvent,
    SimResponse,
    _error,
)
from simulator.contacts_journeys.seed import demo_event_definitions, system_attribute_sets
from simulator.contacts_journeys.stores import EventDeStore, LocalDeStore
from simulator.fields import SimField

ROUTES = Map(
    [
        Rule("/contacts/v1/attributeSetDefinitions", methods=["GET"], endpoint="list_sets"),
        Rule("/contacts/v1/attributeSetDefinitions/<ref>", methods=["GET"], endpoint="get_set"),
        Rule("/contacts/v1/contacts", methods=["POST", "PATCH"], endpoint="upsert_contact"),
        Rule("/interaction/v1/eventDefinitions", methods=["GET"], endpoint="list_event_defs"),
        Rule("/interaction/v1/eventDefinitions/<ref>", methods=["GET"], endpoint="get_event_def"),
        Rule("/interaction/v1/events", methods=["POST"], endpoint="fire_event"),
        Rule("/interaction/v1/async/events", methods=["POST"], endpoint="fire_async"),
        Rule("/interaction/v1/async/events/status", methods=["GET"], endpoint="async_status"),
        # Inspection API, outside SFMC's paths; no token needed.
        Rule("/_sim/contacts", methods=["GET"], endpoint="sim_contacts"),
        Rule("/_sim/attributesets", methods=["GET", "POST"], endpoint="sim_sets"),
        Rule("/_sim/events", methods=["GET"], endpoint="sim_events"),
        Rule("/_sim/eventdefinitions", methods=["GET", "POST"], endpoint="sim_event_defs"),
        Rule("/_sim/eventdefinitions/<key>", methods=["DELETE"], endpoint="sim_delete_event_def"),
        Rule("/_sim/contacts_journeys/faults", methods=["POST"], endpoint="sim_faults"),
        Rule("/_sim/contacts_journeys/reset", methods=["POST"], endpoint="sim_reset"),
    ]
)

# Scope each SFMC route needs (reference §4). Async events: not in the 2022 table, use journeys_read.
ROUTE_SCOPES: dict[str, str] = {
    "list_sets": READ_CONTACTS,
    "get_set": READ_CONTACTS,
    "upsert_contact": WRITE_CONTACTS,
    "list_event_defs": READ_JOURNEYS,
    "get_event_def": READ_JOURNEYS,
    "fire_event": READ_JOURNEYS,
    "fire_async": READ_JOURNEYS,
    "async_status": READ_JOURNEYS,
}


def is_inspection(endpoint: str) -> bool:
    """Whether an endpoint belongs to the inspection API (no bearer token)."""
    return endpoint.startswith("sim_")


class ContactsJourneys(ContactsMixin, EventsMixin, InspectionMixin):
    """The Contacts + Journey Builder part of one simulated tenant (thread-safe)."""

    def __init__(
        self,
        *,
        de_store: EventDeStore | None = None,
        seed: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        processing_s: float = 0.0,
        contacts_partial: bool = False,
        log: Any = None,
    ) -> None:
        self.de_store: EventDeStore = de_store or LocalDeStore()
        self.clock, self.processing_s, self.log = clock, processing_s, log
        self.contacts_partial = contacts_partial
        self._lock = threading.RLock()
        self._seed = seed
        self.reset()

    # ------------------------------------------------------------------ lifecycle and seed
    def reset(self) -> None:
        """Forget contacts, events and faults; re-create the system attribute sets (and seed)."""
        with self._lock:
            self.attribute_sets: list[AttributeSet] = list(system_attribute_sets())
            self.contacts: dict[str, Contact] = {}
            self.event_definitions: dict[str, EventDefinition] = {}
            self.events: list[FiredEvent] = []
            self.faults = Faults()
            self._contact_ids = itertools.count(48_120_331)
            if self._seed == "demo":
                self.seed_demo()

    def seed_demo(self) -> None:
        """A custom "Donor Profile" attribute set and two API event definitions with their DEs."""
        with self._lock:
            self.attribute_sets.append(
                AttributeSet(
                    name="Donor Profile",
                    key="DonorProfile",
                    is_system_defined=False,
                    storage_logical_type="DataExtension",
                    attributes=[
                        Attribute("Donor Segment", "Text", length=100),
                        Attribute("Lifetime Giving", "Decimal"),
                        Attribute("Last Gift Date", "Date"),
                        Attribute("Monthly Donor", "Boolean"),
                    ],
                )
            )
            for definition, fields in demo_event_definitions():
                self.add_event_definition(definition, fields)

    def add_event_definition(
        self, definition: EventDefinition, fields: Sequence[SimField] | None = None
    ) -> EventDefinition:
        """Register an event definition; creates its DE with `fields` when given."""
        with self._lock:
            if fields is not None:
                self.de_store.event_de_create(
                    definition.data_extension_name, definition.data_extension_key, fields
                )
            self.event_definitions[definition.event_definition_key.casefold()] = definition
            return definition

    # ------------------------------------------------------------------------ dispatch
    def dispatch(
        self,
        endpoint: str,
        method: str,
        args: Mapping[str, str],
        query: Mapping[str, str],
        body: bytes,
        scopes: Iterable[str] | None,
    ) -> SimResponse:
        """Answer one request routed to `endpoint` by `ROUTES`.

        `scopes` are the scopes of the bearer token (None = every scope); the caller has already
        checked that the token is valid. Inspection endpoints ignore it.
        """
        if not is_inspection(endpoint):
            needed = ROUTE_SCOPES[endpoint]
            if scopes is not None and needed not in set(scopes):
                return _error(403, "Insufficient privileges to complete this action.", 20002)
            injected = self._injected_fault(endpoint)
            if injected is not None:
                return injected
        handler: Callable[..., SimResponse] = getattr(self, "_h_" + endpoint)
        payload: Any = None
        if method in ("POST", "PATCH", "PUT") and body:
            try:
                payload = json.loads(body)
            except ValueError:
                return _error(400, "The request body is not valid JSON.", 10004)
        with self._lock:
            self.process_due()
            return handler(method=method, args=args, query=query, payload=payload)

    def handle_path(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        body: bytes,
        scopes: Iterable[str] | None,
    ) -> SimResponse | None:
        """Route `path` with `ROUTES` and dispatch; None when the path is not ours."""
        adapter = ROUTES.bind("localhost")
        try:
            endpoint, args = adapter.match(path, method=method)
        except MethodNotAllowed:
            return _error(405, f"Method {method} is not allowed on {path}.", 30001)
        except NotFound:
            return None
        return self.dispatch(str(endpoint), method, args, query, body, scopes)

    def _injected_fault(self, endpoint: str) -> SimResponse | None:
        with self._lock:
            if endpoint == "fire_async" and self.faults.async_unavailable:
                return _error(404, "Resource not found.", 30003)
            if self.faults.throttle > 0:
                self.faults.throttle -= 1
                after = self.faults.retry_after
                body = {
                    "message": "Too many requests.",
                    "errorcode": 50100,
                    "documentation": _DOC_URL,
                    "retryAfter": after,
                }
                return SimResponse(429, body, (("Retry-After", str(after)),))
            if self.faults.server_errors > 0:
                self.faults.server_errors -= 1
                return _error(500, "An unexpected error occurred.", 30000)
        return None
