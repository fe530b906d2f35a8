"""A local stand-in for one Salesforce Marketing Cloud tenant (auth, REST, SOAP) over real HTTP.

`python -m sfmc.simulator --help` for the command line; in-process::

    from simulator import SimulatorConfig, start_simulator

    with start_simulator(SimulatorConfig(latency_ms=0, soap_latency_ms=0)) as sim:
        sim.auth_uri   # "http://127.0.0.1:PORT/" -> token at /v2/token
        sim.state      # the in-memory tenant

See `simulator.app` for the request pipeline and `simulator.routing` for how a module adds
routes. The simulator imports nothing of the product: its field rules (`simulator.fieldrules`)
are its own, written from the reference, so it can judge the product's values.
"""

from __future__ import annotations

from simulator.config import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    FaultConfig,
    SimulatorConfig,
)
from simulator.server import RunningSimulator, start_simulator

__all__ = [
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "FaultConfig",
    "RunningSimulator",
    "SimulatorConfig",
    "start_simulator",
]
