"""`python -m sfmc.simulator`: serve a simulated SFMC tenant until Ctrl-C."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

from simulator.config import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    FaultConfig,
    SimulatorConfig,
)
from simulator.realism import CHOICES, PROFILES, Realism
from simulator.server import start_simulator

REALISM_HELP = """Real-tenant behaviours (issue 15). --profile picks a set; each flag below overrides one
knob of it (default: the ideal tenant, i.e. every knob off). Each job waits for pickup (then any
transient Error) from its own submit, side by side with other jobs; only processing is serial, one
job at a time at --async-rows-per-s. The bench floor: waves x (expected pickup = (1 - long_rate) *
median * exp(sigma^2/2) + long_rate * (long_min + long_max) / 2, + transient_rate * transient_s),
waves = ceil(ceil(rows / 32,000) / deadlock_concurrency), + rows / --async-rows-per-s (see
simulator/realism.py)."""


def parse_client(text: str) -> tuple[str, str, frozenset[str] | None]:
    parts = text.split(":", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        msg = f"--client {text!r}: use ID:SECRET or ID:SECRET:scope,scope"
        raise argparse.ArgumentTypeError(msg)
    scopes = None
    if len(parts) == 3:
        scopes = frozenset(s for s in parts[2].replace(" ", ",").split(",") if s)
    return parts[0], parts[1], scopes


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sfmc.simulator",
                                description="A local simulated Salesforce Marketing Cloud tenant.")  # fmt: skip
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765, help="0 picks a free port (default 8765)")
    p.add_argument("--client", action="append", type=parse_client, metavar="ID:SECRET[:scopes]",
                   help=f"API client (repeatable; no scopes = all). Default {DEMO_CLIENT_ID}:{DEMO_CLIENT_SECRET}")  # fmt: skip
    d = SimulatorConfig()
    p.add_argument(
        "--token-ttl", type=int, default=d.token_ttl, help="token lifetime / expires_in (s)"
    )
    p.add_argument("--latency-ms", type=int, default=d.latency_ms, help="REST wait per request")
    p.add_argument(
        "--soap-latency-ms", type=int, default=d.soap_latency_ms, help="SOAP wait per request"
    )
    p.add_argument("--rowset-ms-per-row", type=float, default=d.rowset_ms_per_row)
    p.add_argument("--async-rows-per-s", type=float, default=d.async_rows_per_s,
                   help="tenant-wide async processing rate")  # fmt: skip
    p.add_argument("--async-not-found-ms", type=int, default=d.async_not_found_ms)
    p.add_argument(
        "--rate-limit", type=float, default=d.rate_limit, help="requests/s per client, 0 = off"
    )
    p.add_argument("--retry-after", type=int, default=d.retry_after_s)
    p.add_argument("--seed", choices=["demo"], default=None, help="start with a demo account")
    p.add_argument("--random-seed", type=int, default=None, help="seed of the fault dice")
    p.add_argument("--verbose", action="store_true", help="log every request")
    add_realism_args(p)
    for name in FaultConfig.names():
        if name == "expire_tokens":
            continue
        default = getattr(FaultConfig(), name)
        p.add_argument("--" + name.replace("_", "-"), type=type(default), default=default,
                       help="fault knob (see POST /_sim/faults)")  # fmt: skip
    return p


def add_realism_args(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("real-tenant profile", REALISM_HELP)
    group.add_argument("--profile", choices=sorted(PROFILES), default="ideal",
                       help="ideal (default) or realistic")  # fmt: skip
    realistic = PROFILES["realistic"]
    for name, default, text in Realism.knobs():
        flag = "--" + name.replace("_", "-")
        shown = f"{text} (ideal {default}, realistic {getattr(realistic, name)})"
        if isinstance(default, bool):
            group.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=None, help=shown
            )
        else:
            group.add_argument(flag, type=type(default), default=None, help=shown,
                               choices=CHOICES.get(name))  # fmt: skip


def realism_of(args: argparse.Namespace) -> Realism:
    """The profile's knobs with every flag given on the command line applied."""
    chosen = {n: getattr(args, n) for n, _, _ in Realism.knobs() if getattr(args, n) is not None}
    return dataclasses.replace(PROFILES[args.profile], **chosen)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    faults = FaultConfig(
        **{n: getattr(args, n) for n in FaultConfig.names() if n != "expire_tokens"}
    )
    config = SimulatorConfig(
        clients=args.client or SimulatorConfig().clients, token_ttl=args.token_ttl,
        latency_ms=args.latency_ms, soap_latency_ms=args.soap_latency_ms,
        rowset_ms_per_row=args.rowset_ms_per_row, async_rows_per_s=args.async_rows_per_s,
        async_not_found_ms=args.async_not_found_ms, rate_limit=args.rate_limit,
        retry_after_s=args.retry_after, seed=args.seed, random_seed=args.random_seed,
        faults=faults, quiet=not args.verbose, realism=realism_of(args),
    )  # fmt: skip
    sim = start_simulator(config, host=args.host, port=args.port)
    ids = ", ".join(c[0] for c in config.clients)
    print(f"SFMC simulator on {sim.auth_uri} (clients: {ids}, profile {args.profile}). "
          "Ctrl-C stops it.", flush=True)  # fmt: skip
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
