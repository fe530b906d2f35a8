"""Where entry-event rows go (the simulator's DEs, or memory for unit use), and the handlers' state."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from simulator.contacts_journeys.model import (
    AttributeSet,
    Contact,
    EventDefinition,
    Faults,
    FiredEvent,
)
from simulator.fields import SimField
from simulator.state import SimDE, Tenant


class EventDeStore(Protocol):
    """What entry events need from the simulator's Data Extension store."""

    def event_de_fields(self, customer_key: str) -> Sequence[SimField] | None:
        """Fields of the DE, or None when it does not exist."""

    def event_de_insert(self, customer_key: str, row: Mapping[str, str | None]) -> None:
        """Append one row (already validated and canonicalised)."""

    def event_de_create(self, name: str, customer_key: str, fields: Sequence[SimField]) -> None:
        """Create the DE if it does not exist."""


class LocalDeStore:
    """In-memory stand-in used when no Data Extension store is attached (unit use)."""

    def __init__(self) -> None:
        self.fields: dict[str, tuple[SimField, ...]] = {}
        self.rows: dict[str, list[dict[str, str | None]]] = {}

    def event_de_fields(self, customer_key: str) -> Sequence[SimField] | None:
        return self.fields.get(customer_key.casefold())

    def event_de_insert(self, customer_key: str, row: Mapping[str, str | None]) -> None:
        self.rows.setdefault(customer_key.casefold(), []).append(dict(row))

    def event_de_create(self, name: str, customer_key: str, fields: Sequence[SimField]) -> None:
        self.fields.setdefault(customer_key.casefold(), tuple(fields))


class TenantDeStore:
    """`EventDeStore` over the simulator's tenant: event rows land in real simulated DEs."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    def event_de_fields(self, customer_key: str) -> Sequence[SimField] | None:
        with self.tenant.lock:
            de = self.tenant.get_de(customer_key)
            return None if de is None else tuple(de.fields)

    def event_de_insert(self, customer_key: str, row: Mapping[str, str | None]) -> None:
        with self.tenant.lock:
            de = self.tenant.get_de(customer_key)
            if de is not None:
                # Entry-event DEs usually have no primary key (every event is a new row).
                de.save_row(row, mode="upsert" if de.pk_indexes else "insert")

    def event_de_create(self, name: str, customer_key: str, fields: Sequence[SimField]) -> None:
        with self.tenant.lock:
            if self.tenant.get_de(customer_key) is None:
                self.tenant.add_de(
                    SimDE(customer_key, name, self.tenant.root_folder_id, list(fields))
                )


class HandlerState:
    """The state `ContactsJourneys` holds, as its handler mixins (contacts, events, inspection) see it."""

    _lock: threading.RLock
    attribute_sets: list[AttributeSet]
    contacts: dict[str, Contact]
    event_definitions: dict[str, EventDefinition]
    events: list[FiredEvent]
    faults: Faults
    de_store: EventDeStore
    clock: Callable[[], float]  # when queued batch members are due
    processing_s: float  # how long batch members stay queued (0 = processed at once)
    contacts_partial: bool  # save a contact's good attribute sets, report the rest (hasErrors)
    log: Any  # `simulator.realism.EventLog` or None
