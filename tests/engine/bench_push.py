"""Throughput of the engine against the simulator's DEFAULT settings (not a test).

    .venv/bin/python -m tests.engine.bench_push --rows 100000 [--in-flight 5 --batch 8000]

Reports rows/s and the ratio to the simulator's floor (rows / async rate + round trips).
`--engine-only` drives `push_rows` on a DE made directly in the simulator (no store, no SOAP);
the default runs the whole `run_pathway` path: SQLite store, DE creation over SOAP, ledger.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
import uuid

from sfmc.client import SfmcClient
from sfmc.config import SfmcCredentials
from sfmc.mapping import FieldMap
from sfmc.push import PushOptions, PushTarget, push_rows
from sfmc.simulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SimulatorConfig, start_simulator
from sfmc.simulator.state import SimDE

MAPPING = [
    FieldMap("email", "Email", "EmailAddress", 254, required=True, is_primary_key=True),
    FieldMap("first_name", "First Name", "Text", 100),
    FieldMap("last_name", "Last Name", "Text", 100),
    FieldMap("city", "City", "Text", 100),
    FieldMap("gifts", "Gifts", "Number"),
    FieldMap("total", "Total", "Decimal", precision=18, scale=2),
    FieldMap("joined", "Joined", "Date"),
    FieldMap("opted_in", "Opted In", "Boolean"),
]


def source(n: int, chunk: int = 5_000):
    def read(after: int):
        start = after
        while start < n:
            end = min(n, start + chunk)
            yield [
                {
                    "_row": i + 1,
                    "email": f"donor{i}@example.org",
                    "first_name": f"First{i}",
                    "last_name": f"Last{i % 977}",
                    "city": f"City {i % 50}",
                    "gifts": i % 40,
                    "total": f"{(i % 1000) * 1.25:.2f}",
                    "joined": f"2020-{1 + i % 12:02d}-{1 + i % 28:02d}",
                    "opted_in": i % 3 == 0,
                }
                for i in range(start, end)
            ]
            start = end

    return read


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--in-flight", type=int, default=PushOptions.in_flight)
    parser.add_argument("--batch", type=int, default=PushOptions.batch_rows)
    parser.add_argument("--memory", action="store_true", help="trace peak Python memory")
    parser.add_argument(
        "--separate-process",
        action="store_true",
        help="run the simulator in its own process (its CPU off the engine's GIL)",
    )
    args = parser.parse_args(argv)
    if args.separate_process:
        return _separate(args)
    config = SimulatorConfig()  # defaults: 120/250 ms latency, 10,000 rows/s, 40 req/s
    with start_simulator(config) as sim:
        client = SfmcClient(
            credentials=SfmcCredentials(sim.auth_uri, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
            allow_local=True,
        )
        key = f"bench_{uuid.uuid4().hex[:8]}"
        fields = tuple(m.to_de_field() for m in MAPPING)
        sim.state.add_de(SimDE(key, key, sim.state.root_folder_id, list(fields)))
        target = PushTarget(key, fields, ("Email",), "upsert")
        options = PushOptions(in_flight=args.in_flight, batch_rows=args.batch)
        if args.memory:
            tracemalloc.start()
        started = time.monotonic()
        result = push_rows(
            source(args.rows),
            target=target,
            mapping=MAPPING,
            client=client,
            options=options,
            rows_total=args.rows,
        )
        elapsed = time.monotonic() - started
        floor = args.rows / config.async_rows_per_s + 0.12 * 3
        stored = len(sim.state.get_de(key).rows)
    peak = tracemalloc.get_traced_memory()[1] / 1e6 if args.memory else None
    sys.stdout.write(
        f"rows={args.rows} state={result.state} stored={stored} ok={result.counters.rows_succeeded} "
        f"failed={result.counters.rows_failed} elapsed={elapsed:.2f}s rows/s={args.rows / elapsed:,.0f} "
        f"floor~{floor:.2f}s ratio={elapsed / floor:.2f} api_calls={result.counters.api_calls}"
        + (f" peak_py_mem={peak:.0f}MB" if peak else "")
        + "\n"
    )
    return 0


def _separate(args: argparse.Namespace) -> int:
    import socket
    import subprocess

    import requests

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "sfmc.simulator", "--port", str(port), "--seed", "demo"]
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(base + "/_sim/stats", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        client = SfmcClient(
            credentials=SfmcCredentials(base + "/", DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
            allow_local=True,
        )
        mapping = [
            FieldMap("email", "Email", "EmailAddress", 254, required=True, is_primary_key=True),
            FieldMap("city", "Source", "Text", 50),
        ]
        fields = tuple(m.to_de_field() for m in mapping)
        target = PushTarget("newsletter_signups", fields, ("Email",), "upsert")
        options = PushOptions(in_flight=args.in_flight, batch_rows=args.batch)
        started = time.monotonic()
        result = push_rows(
            source(args.rows), target=target, mapping=mapping, client=client, options=options
        )
        elapsed = time.monotonic() - started
        count = requests.get(
            base + "/_sim/dataextensions/newsletter_signups/rows?limit=1", timeout=30
        ).json()["count"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    floor = args.rows / 10_000 + 0.12 * 3
    sys.stdout.write(
        f"[separate process] rows={args.rows} state={result.state} stored={count} "
        f"elapsed={elapsed:.2f}s rows/s={args.rows / elapsed:,.0f} floor~{floor:.2f}s "
        f"ratio={elapsed / floor:.2f} api_calls={result.counters.api_calls}\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
