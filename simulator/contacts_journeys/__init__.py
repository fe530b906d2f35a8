"""Contacts API and Journey Builder entry events for the SFMC simulator.

Follows `reference/sfmc-contacts-journeys.md` (shared folder): attribute set definitions, contact
upserts with attribute sets, event definitions, single (`/interaction/v1/events`) and batch
(`/interaction/v1/async/events`) entry events with their status, scopes, SFMC's error envelopes,
fault knobs and an inspection API (`/_sim/contacts`, `/_sim/events`, `/_sim/eventdefinitions`).

The package is self-contained: `ContactsJourneys.dispatch(...)` takes a parsed request and returns a
`SimResponse`. `simulator.app` adds `ROUTES` to its router through `register(router)` (see
`simulator.routing`) and passes the granted scopes of the bearer token; rows that entry events
write land in the simulator's Data Extension store through the small `EventDeStore` protocol.

Modules: `model` (records, envelopes), `values` (value checks), `stores` (where event rows go),
`seed` (system and demo definitions), `contacts`, `events`, `inspection` (the handlers, mixed into
`core.ContactsJourneys`), and this module: its route registration `register(router)`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from simulator.contacts_journeys.core import ROUTE_SCOPES, ROUTES, ContactsJourneys, is_inspection
from simulator.contacts_journeys.stores import TenantDeStore
from simulator.routing import json_response

if TYPE_CHECKING:
    from werkzeug.wrappers import Response

    from simulator.routing import Call, Router
    from simulator.state import Tenant


# --------------------------------------------------------------------------- route registration

EXTENSION_KEY = "contacts_journeys"


def state_of(tenant: Tenant) -> ContactsJourneys:
    """The Contacts/Journey state of a simulated tenant (installed by `register`)."""
    return tenant.extensions[EXTENSION_KEY]


def register(router: Router) -> None:
    """Add the Contacts and Journey routes to a simulator (`simulator.app` calls this).

    SFMC routes get the simulator's whole pipeline (token, scope -> 403/20002, latency, rate
    limit, fault injection); inspection routes (`/_sim/...`) skip it.
    """
    sim = router.sim

    def install(tenant: Tenant) -> None:
        tenant.extensions[EXTENSION_KEY] = ContactsJourneys(
            de_store=TenantDeStore(tenant), seed=sim.config.seed, clock=sim.config.queue_time,
            processing_s=sim.config.realism.journey_processing_s,
            contacts_partial=sim.config.realism.contacts_partial, log=sim.log,
        )  # fmt: skip

    install(sim.state)
    router.on_reset(install)
    for rule in ROUTES.iter_rules():
        endpoint = str(rule.endpoint)
        methods = tuple(sorted(m for m in (rule.methods or ()) if m not in ("HEAD", "OPTIONS")))
        router.add(
            rule.rule,
            _handler(endpoint),
            methods=methods,
            kind="sim" if is_inspection(endpoint) else "rest",
            scope=ROUTE_SCOPES.get(endpoint),
            scope_status=403,
            endpoint=f"{'/'.join(methods)} {rule.rule}",
        )


def _handler(endpoint: str) -> Callable[[Call], Response]:
    def handle(call: Call) -> Response:
        cj = state_of(call.tenant)
        request = call.request
        answer = cj.dispatch(
            endpoint,
            request.method,
            call.args,
            dict(request.args.items()),
            request.get_data(),
            None,  # the pipeline has already checked the token's scope
        )
        return json_response(answer.body, answer.status, dict(answer.headers))

    return handle
