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
    parser.add_argument(
        "--fast-sim", action="store_true", help="no latency, huge async rate (memory runs)"
    )
    parser.add_argument(
        "--cli", action="store_true", help="push with `python -m sfmc push` in a child process"
    )
    parser.add_argument(
        "--engine-only", action="store_true", help="push_rows on a ready DE, no store, no SOAP"
    )
    args = parser.parse_args(argv)
    if not args.engine_only:
        return _full_stack(args)
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
    fast = ["--latency-ms", "0", "--soap-latency-ms", "0", "--async-rows-per-s", "10000000",
            "--rate-limit", "0"] if args.fast_sim else []  # fmt: skip
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "sfmc.simulator", "--port", str(port), "--seed", "demo", *fast]
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
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sys.stdout.write(
        f"[separate process] peak_rss={rss:.0f}MB rows={args.rows} state={result.state} stored={count} "
        f"elapsed={elapsed:.2f}s rows/s={args.rows / elapsed:,.0f} floor~{floor:.2f}s "
        f"ratio={elapsed / floor:.2f} api_calls={result.counters.api_calls}\n"
    )
    return 0


def _start_external(fast: bool) -> tuple[object, str]:
    import socket
    import subprocess

    import requests

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    extra = ["--latency-ms", "0", "--soap-latency-ms", "0", "--async-rows-per-s", "10000000",
             "--rate-limit", "0"] if fast else []  # fmt: skip
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "sfmc.simulator", "--port", str(port), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            requests.get(base + "/_sim/stats", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    return proc, base


def _via_cli(args, engine, pathway_id, base, key, stop) -> int:  # noqa: ANN001
    import resource
    import subprocess

    import requests

    url = engine.url.render_as_string(hide_password=False)
    started = time.monotonic()
    code = subprocess.call(  # noqa: S603
        [sys.executable, "-m", "sfmc", "push", "--pathway", str(pathway_id), "--database-url", url]
    )
    elapsed = time.monotonic() - started
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    count = requests.get(f"{base}/_sim/dataextensions/{key}/rows?limit=1", timeout=120).json()
    stop()
    sys.stdout.write(
        f"[cli] exit={code} rows={args.rows} stored={count['count']} elapsed={elapsed:.2f}s "
        f"rows/s={args.rows / elapsed:,.0f} child_peak_rss={child.ru_maxrss / 1024:.0f}MB\n"
    )
    return code


def _full_stack(args: argparse.Namespace) -> int:
    """run_pathway end to end: CSV import into a temp SQLite store, DE created over SOAP."""
    import contextlib
    import csv
    import os
    import resource
    import tempfile

    import requests
    from cryptography.fernet import Fernet
    from sqlmodel import Session

    tmp = tempfile.mkdtemp(prefix="pathways-bench-")
    os.environ["PATHWAYS_DATA_DIR"] = tmp
    os.environ.setdefault("PATHWAYS_SECRET_KEY", Fernet.generate_key().decode())
    os.environ["PATHWAYS_DEMO"] = "1"
    from sfmc.mapping import suggest_mapping
    from sfmc.push import run_pathway
    from sfmc.worker import default_client_factory
    from store import repo, runs
    from store.datasets import import_file
    from store.db import create_db_and_tables, make_engine

    engine = make_engine(f"sqlite:///{tmp}/bench.db")
    create_db_and_tables(engine)
    csv_path = f"{tmp}/bench.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as out:
        writer = None
        for chunk in source(args.rows)(0):
            for row in chunk:
                row = {k: v for k, v in row.items() if k != "_row"}
                if writer is None:
                    writer = csv.DictWriter(out, fieldnames=list(row))
                    writer.writeheader()
                writer.writerow(row)
    import_file(engine, csv_path, name="bench", filename="bench.csv")
    if args.separate_process:
        proc, base = _start_external(args.fast_sim)
        auth_uri, stop = base + "/", proc.terminate  # type: ignore[attr-defined]
        sim_ctx = contextlib.nullcontext()
    else:
        config = SimulatorConfig(
            **(
                {"latency_ms": 0, "soap_latency_ms": 0, "async_rows_per_s": 1e7, "rate_limit": 0}
                if args.fast_sim
                else {}
            )
        )
        sim_ctx = start_simulator(config)
    with sim_ctx as sim:
        if sim is not None:
            base, auth_uri, stop = sim.base_url, sim.auth_uri, (lambda: None)
        with Session(engine) as session:
            ds = repo.get_dataset_by_name("bench", session=session)
            aud = repo.create_audience("bench", ds.id, session=session)
            conn = repo.create_connection(
                "bench", auth_uri, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, session=session
            )
            key = f"bench_{uuid.uuid4().hex[:8]}"
            pathway = repo.create_pathway(
                aud.id, conn.id, key, key, session=session, category_id=1000,
                primary_keys=["email"],
            )  # fmt: skip
            mapping = suggest_mapping(ds.columns)
            repo.set_mapping(pathway.id, [m.__dict__ for m in mapping], session=session)
            pathway_id = pathway.id
        if args.cli:
            return _via_cli(args, engine, pathway_id, base, key, stop)
        run = runs.enqueue_run(engine, pathway_id)
        opts = PushOptions(in_flight=args.in_flight, batch_rows=args.batch)
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        started = time.monotonic()
        result = run_pathway(engine, run.id, client_factory=default_client_factory, options=opts)
        elapsed = time.monotonic() - started
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        done = runs.get_run(engine, run.id)
        count = requests.get(f"{base}/_sim/dataextensions/{key}/rows?limit=1", timeout=60).json()
        stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    floor = args.rows / 10_000 + 0.12 * 2 + 0.25 * 2
    sys.stdout.write(
        f"[full stack, sim {'separate process' if args.separate_process else 'in process'}] "
        f"rows={args.rows} state={done.state} {done.error or ''} stored={count['count']} "
        f"ok={result.counters.rows_succeeded} failed={result.counters.rows_failed} "
        f"elapsed={elapsed:.2f}s rows/s={args.rows / elapsed:,.0f} floor~{floor:.2f}s "
        f"ratio={elapsed / floor:.2f} api_calls={done.api_calls} peak_rss={rss:.0f}MB "
        f"process_cpu={cpu:.2f}s\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
