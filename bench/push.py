"""`python -m bench push`: the engine end to end against a simulator in its own process.

Steps: start `python -m simulator` (DESIGN.md §5 processing model unless flags say
otherwise), write a deterministic N-row audience (about 3.5% invalid rows) to CSV and import it
into a fresh store, pre-seed the DE when the method needs existing rows, run the sync with the
worker's code path (`Worker.run_once` in a child process: its `ru_maxrss` is the product side's
peak RSS), read the DE back through `/_sim/dataextensions/<key>/rows` and compare it row by row
with the expected result. `--baseline naive` then does the same work with the hub rowset (50 rows
per request, one request at a time) and reports the speed-up.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench import common
from bench.common import SimProcess, SimSettings

METHODS = ("upsert", "mirror", "append", "update-only")
NAIVE_BATCH = 50  # rows per hub rowset request (client.ROWSET_BATCH)
NAIVE_BUDGET_S = 120.0  # above this the naive run is sampled and extrapolated
NAIVE_SAMPLE_ROWS = 5_000
SEED_PAGE = 10_000


@dataclass
class Plan:
    """What the DE holds before the run and what it must hold after it."""

    method: str
    rows: int
    seeded: Callable[[int], bool]  # audience rows present (with old values) before the run
    stale: int  # seeded rows outside the audience (Mirror must delete them)
    valid: int
    seeded_count: int

    def expected(self, i: int) -> dict[str, str | None] | None:
        valid = common.invalid_kind(i) is None
        if self.method == "append" and self.seeded(i):
            return common.de_row(common.source_row(i, old=True))
        if self.method == "update_only" and not self.seeded(i):
            return None
        return common.de_row(common.source_row(i)) if valid else None

    def rows_to_write(self) -> int:
        if self.method == "append":
            return self.valid - self.seeded_count
        if self.method == "update_only":
            return self.seeded_count
        return self.valid

    def expected_rejects(self) -> int:
        invalid = self.rows - self.valid
        if self.method == "update_only":
            return invalid + self.valid - self.seeded_count  # NotFound for the unseeded rows
        return invalid


def stale_email(j: int) -> str:
    return f"stale{j}@example.org"


def make_plan(method: str, rows: int) -> Plan:
    method = method.replace("-", "_")
    every = {"mirror": 10, "append": 10, "update_only": 2}.get(method)

    def seeded(i: int) -> bool:
        return every is not None and i % every == 0 and common.invalid_kind(i) is None

    valid = sum(1 for i in range(rows) if common.invalid_kind(i) is None)
    seeded_count = sum(1 for i in range(rows) if seeded(i))
    stale = rows // 20 if method == "mirror" else 0
    return Plan(method, rows, seeded, stale, valid, seeded_count)


def seed_de(sim: SimProcess, plan: Plan, key: str, category_id: int) -> None:
    """Create the DE and put the rows that exist before the run (old values, stale rows)."""
    from sfmc.types import DataExtension

    client = naive_client(sim)
    fields = tuple(common._de_fields().values())
    client.create_data_extension(
        DataExtension(name=key, customer_key=key, category_id=category_id, fields=fields)
    )
    page: list[dict[str, Any]] = []
    for i in range(plan.rows):
        if plan.seeded(i):
            page.append(common.de_row(common.source_row(i, old=True)))
        if len(page) >= SEED_PAGE:
            sim.put_rows(key, page)
            page = []
    j = 0
    made = 0
    while made < plan.stale:
        if common.invalid_kind(j) is None:
            page.append(common.de_row({**common.source_row(j, old=True), "email": stale_email(j)}))
            made += 1
            if len(page) >= SEED_PAGE:
                sim.put_rows(key, page)
                page = []
        j += 1
    if page:
        sim.put_rows(key, page)


def naive_client(sim: SimProcess) -> Any:
    from sfmc.client import SfmcClient
    from sfmc.config import SfmcCredentials
    from simulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET

    return SfmcClient(
        credentials=SfmcCredentials(sim.auth_uri, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
        allow_local=True,
    )


def run_naive(
    store: common.BenchStore,
    sim: SimProcess,
    rows: int,
    category_id: int,
    say: Callable[[str], None],
    *,
    budget_s: float = NAIVE_BUDGET_S,
    sample_rows: int = NAIVE_SAMPLE_ROWS,
) -> dict[str, Any]:
    """The same work the naive way: hub rowset, 50 rows per request, one request at a time.

    Rows go as they are in the store (no preflight; SFMC's rowset refuses bad rows). When the
    projected time exceeds `budget_s`, only the first `sample_rows` rows are sent and the time
    is extrapolated linearly (each request costs the same: latency + per-row time).
    """
    from sfmc.types import DataExtension
    from store.audience_rows import iter_rows

    key = common.new_de_key("naive")
    started = time.perf_counter()
    client = naive_client(sim)
    fields = tuple(common._de_fields().values())
    client.create_data_extension(
        DataExtension(name=key, customer_key=key, category_id=category_id, fields=fields)
    )
    setup_s = time.perf_counter() - started
    rows_started = time.perf_counter()
    sent = ok = 0
    limit = rows
    decided = False
    for chunk in iter_rows(store.engine, store.audience_id, chunk_size=5_000):
        payload = [{common.FIELD_OF[c]: r.get(c) for c in common.COLUMNS} for r in chunk]
        for start in range(0, len(payload), NAIVE_BATCH):
            part = payload[start : start + NAIVE_BATCH][: limit - sent]
            outcomes = client.upsert_rowset(key, part, ["Email"])
            ok += sum(1 for o in outcomes if o.ok)
            sent += len(part)
            if not decided and sent >= min(1_000, rows):
                decided = True
                projected = setup_s + (time.perf_counter() - rows_started) / sent * rows
                if projected > budget_s and rows > sample_rows:
                    limit = sample_rows
                    say(
                        f"naive: projected {projected:,.0f} s > {budget_s:.0f} s; sampling the "
                        f"first {sample_rows:,} rows and extrapolating"
                    )
            if sent >= limit:
                break
        if sent >= limit:
            break
    row_s = time.perf_counter() - rows_started
    extrapolated = sent < rows
    naive_seconds = setup_s + row_s * rows / max(sent, 1)
    result: dict[str, Any] = {
        "naive_seconds": round(naive_seconds, 2),
        "naive_extrapolated": extrapolated,
        "naive_rows_sent": sent,
        "naive_rows_ok": ok,
        "naive_api_calls": client.api_calls,
    }
    if extrapolated:
        result["naive_note"] = (
            f"naive run sampled: {sent:,} of {rows:,} rows sent in {setup_s + row_s:.1f} s "
            f"(setup {setup_s:.2f} s + {row_s:.1f} s of rowset requests), time extrapolated "
            "linearly to all rows"
        )
    return result


def run_push(
    rows: int,
    method: str,
    settings: SimSettings,
    *,
    baseline: str | None = None,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the push benchmark; returns the figures (the JSON line's content)."""
    method = method.replace("-", "_")
    with common.bench_setup(rows, settings, say) as setup:
        sim, store, category_id = setup.sim, setup.store, setup.category_id
        load_before = setup.load_before
        plan = make_plan(method, rows)
        key = common.new_de_key("bench")
        if plan.seeded_count or plan.stale:
            started = time.perf_counter()
            seed_de(sim, plan, key, category_id)
            say(
                f"seeded the DE with {plan.seeded_count:,} audience rows (old values) and "
                f"{plan.stale:,} stale rows in {time.perf_counter() - started:.1f} s"
            )
        pathway_id = store.add_pathway(method, key, category_id)
        calls_before = sim.stats()
        sim_cpu = sim.cpu_seconds()
        say(f"push: {method} of {rows:,} rows ...")
        child = common.run_worker_child(store, pathway_id)
        run = child["run"]
        if run.state != "succeeded":
            msg = f"The run ended {run.state}: {run.error or run.message}"
            raise RuntimeError(msg)
        seconds = child["seconds"]
        sim_cpu = sim.cpu_seconds() - sim_cpu
        rejects = common.count_rejected(store, run.id)
        started = time.perf_counter()
        comparison = common.compare(sim, key, rows, plan.expected)
        say(
            f"read-back: {comparison.rows_in_de:,} rows compared in {time.perf_counter() - started:.1f} s"
        )
        floor = common.floor_seconds(
            settings,
            rows_to_write=plan.rows_to_write(),
            de_created=not (plan.seeded_count or plan.stale),
            remote_rows=(plan.seeded_count + plan.stale) if method != "upsert" else 0,
            deletes=plan.stale,
        )
        result: dict[str, Any] = {
            "rows": rows,
            "method": method,
            "profile": settings.profile,
            "sim_seed": settings.seed,
            "seconds": round(seconds, 2),
            "floor_seconds": round(floor, 2),
            "ratio_to_floor": round(seconds / floor, 3),
            "rows_per_s": round(rows / seconds),
            "rows_in_de": comparison.rows_in_de,
            "rejected_rows": sum(rejects.values()),
            "expected_rejected_rows": plan.expected_rejects(),
            "rejected_by_type": rejects,
            "mismatched_rows": comparison.mismatched_rows,
            "rows_sent": run.rows_sent,
            "rows_succeeded": run.rows_succeeded,
            "rows_skipped": run.rows_skipped,
            "rows_deleted": run.rows_deleted,
            "api_calls": run.api_calls,
            "api_calls_per_million": round(run.api_calls * 1_000_000 / rows),
            "sim_requests": _requests_between(calls_before, sim.stats()),
            "peak_rss_mb": child["peak_rss_mb"],
            "engine_cpu_seconds": child["cpu_seconds"],
            "sim_cpu_seconds": round(sim_cpu, 2),
            "import_seconds": round(store.import_seconds, 2),
            "default_sim_settings": settings.is_default(),
            "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            **common.machine(),
        }
        if os.environ.get("PATHWAYS_BENCH_TRACE"):
            result["queue_idle_seconds"] = common.queue_idle_seconds(
                os.environ["PATHWAYS_BENCH_TRACE"], settings.async_rows_per_s
            )
        if comparison.examples:
            result["mismatch_examples"] = comparison.examples
        if baseline == "naive":
            say(f"naive: hub rowset, {NAIVE_BATCH} rows per request, one at a time ...")
            naive = run_naive(store, sim, rows, category_id, say)
            result.update(naive)
            result["speedup_vs_naive"] = round(naive["naive_seconds"] / seconds, 1)
        store.engine.dispose()
    return result


def run_engine_only(
    rows: int,
    settings: SimSettings,
    *,
    in_flight: int | None = None,
    batch_rows: int | None = None,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """`push_rows` alone on a DE made beforehand: no store, no SOAP, no worker (`--engine-only`).

    Isolates the send loop (convert, preflight, batch, async submit/poll) from the store read and
    the DE handling, and lets `--in-flight`/`--batch` be tuned. Runs in this process, so
    `peak_rss_mb` includes the bench itself; the simulator is still its own process.
    """
    from dataclasses import replace

    from sfmc.client import SfmcClient
    from sfmc.config import SfmcCredentials
    from sfmc.types import DataExtension
    from simulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
    from sync.mapping import FieldMap
    from sync.push import push_rows
    from sync.types import PushOptions, PushTarget, RunIO

    mapping = [FieldMap(**m) for m in common.MAPPING]
    fields = tuple(m.to_de_field() for m in mapping)
    options = PushOptions()
    if in_flight is not None:
        options = replace(options, in_flight=in_flight)
    if batch_rows is not None:
        options = replace(options, batch_rows=batch_rows)

    def read(after: int, chunk: int = 5_000) -> Any:
        for start in range(after, rows, chunk):
            yield [
                {"_row": i + 1, **common.source_row(i)}
                for i in range(start, min(rows, start + chunk))
            ]

    with SimProcess(settings) as sim:
        say(f"simulator: {sim.base_url} ({' '.join(settings.flags())})")
        load_before = os.getloadavg()[0]
        client = SfmcClient(
            credentials=SfmcCredentials(sim.auth_uri, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
            allow_local=True,
        )
        key = common.new_de_key("bench")
        client.create_data_extension(
            DataExtension(key, key, category_id=common.root_folder_id(sim), fields=fields)
        )
        client.granted_scopes()  # token fetched outside the timed part, as the DE is made
        calls_before = client.api_calls
        say(f"push_rows: {rows:,} rows (in_flight={options.in_flight}, batch={options.batch_rows})")
        started = time.perf_counter()
        result = push_rows(
            RunIO(read, rows_total=rows),
            target=PushTarget(key, fields, ("Email",), "upsert"),
            mapping=mapping,
            client=client,
            options=options,
        )
        seconds = time.perf_counter() - started
        valid = make_plan("upsert", rows).valid
        rows_in_de = sum(1 for _ in sim.iter_rows(key))
        # No SOAP and no token in the timed part: the async queue plus 3 REST round trips.
        floor = valid / settings.async_rows_per_s + 3 * settings.latency_ms / 1000
        return {
            "rows": rows,
            "method": "upsert",
            "mode": "engine_only",
            "state": result.state,
            "seconds": round(seconds, 2),
            "floor_seconds": round(floor, 2),
            "ratio_to_floor": round(seconds / floor, 3),
            "rows_per_s": round(rows / seconds),
            "rows_in_de": rows_in_de,
            "expected_rows_in_de": valid,
            "rows_succeeded": result.counters.rows_succeeded,
            "rows_failed": result.counters.rows_failed,
            "api_calls": client.api_calls - calls_before,
            "in_flight": options.in_flight,
            "batch_rows": options.batch_rows,
            "peak_rss_mb": common.peak_rss_mb(),
            "default_sim_settings": settings.is_default(),
            "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            **common.machine(),
        }


def _requests_between(before: dict[str, Any], after: dict[str, Any]) -> Any:
    b, a = before.get("requests"), after.get("requests")
    if isinstance(a, int) and isinstance(b, int):
        return a - b
    return a


def _human_engine_only(result: dict[str, Any]) -> list[str]:
    return [
        f"push_rows (engine only) {result['rows']:,} rows: {result['seconds']:.2f} s "
        f"({result['rows_per_s']:,} rows/s), floor {result['floor_seconds']:.2f} s, "
        f"ratio {result['ratio_to_floor']:.2f}, state {result['state']}",
        f"  DE rows {result['rows_in_de']:,} (expected {result['expected_rows_in_de']:,}), "
        f"failed {result['rows_failed']:,}, API calls {result['api_calls']:,}, "
        f"in_flight {result['in_flight']}, batch {result['batch_rows']:,}, "
        f"peak RSS {result['peak_rss_mb']:.0f} MB",
    ]


def human(result: dict[str, Any]) -> list[str]:
    lines = [
        f"push {result['method']} {result['rows']:,} rows: {result['seconds']:.2f} s "
        f"({result['rows_per_s']:,} rows/s), floor {result['floor_seconds']:.2f} s, "
        f"ratio {result['ratio_to_floor']:.2f}",
        f"  DE rows {result['rows_in_de']:,}, rejected {result['rejected_rows']:,} "
        f"(expected {result['expected_rejected_rows']:,}), mismatched {result['mismatched_rows']:,}, "
        f"API calls {result['api_calls']:,} ({result['api_calls_per_million']:,} per million "
        f"rows), peak RSS {result['peak_rss_mb']:.0f} MB",
    ]
    for example in result.get("mismatch_examples", []):
        lines.append(f"  mismatch: {example}")
    if "naive_seconds" in result:
        lines.append(
            f"  naive (hub rowset, 50/request): {result['naive_seconds']:,.1f} s"
            f"{' (extrapolated)' if result['naive_extrapolated'] else ''}; "
            f"speed-up {result['speedup_vs_naive']:.1f}x"
        )
        if result.get("naive_note"):
            lines.append(f"  note: {result['naive_note']}")
    if not result["default_sim_settings"]:
        lines.append("  note: simulator settings differ from DESIGN.md §5 (not comparable)")
    return lines


def _main(args: argparse.Namespace) -> int:
    if args.engine_only:
        result = run_engine_only(
            args.rows,
            SimSettings.from_args(args),
            in_flight=args.in_flight,
            batch_rows=args.batch,
            say=print,
        )
        common.emit(result, args.json, _human_engine_only(result))
        return 0 if result["rows_in_de"] == result["expected_rows_in_de"] else 1
    if args.in_flight is not None or args.batch is not None:
        msg = "--in-flight and --batch apply to --engine-only runs (the worker uses its defaults)."
        raise SystemExit(msg)
    common.apply_profile_arg(args)
    result = run_push(
        args.rows, args.method, SimSettings.from_args(args), baseline=args.baseline, say=print
    )
    common.emit(result, args.json, human(result))
    return 0 if result["mismatched_rows"] == 0 else 1


def register(subparsers: Any) -> None:
    """Add `push` to `python -m bench`."""
    parser = subparsers.add_parser("push", help="engine throughput, floor ratio, read-back check")
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--method", choices=METHODS, default="upsert")
    parser.add_argument("--baseline", choices=("naive",), default=None)
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument(
        "--engine-only",
        action="store_true",
        help="push_rows alone on a DE made beforehand (no store, no SOAP, no worker)",
    )
    parser.add_argument("--in-flight", type=int, default=None, help="with --engine-only")
    parser.add_argument("--batch", type=int, default=None, help="rows per request, --engine-only")
    common.add_profile_arg(parser)
    common.add_sim_args(parser)
    parser.set_defaults(func=_main)
