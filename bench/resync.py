"""`python -m bench resync`: first sync, change a share of the rows in the store, sync again.

The second sync is incremental (the pathway's row-hash ledger): only changed rows should be
sent. Both runs use the worker's code path in a child process; the DE is then read back and
compared row by row with the audience after the change.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

from bench import common
from bench.common import SimSettings

CHANGE_PREFIX = "R-"


def change_rows(store: common.BenchStore, share: float) -> set[int]:
    """Change `first_name` of every round(1/share)-th row in the data set's table.

    Returns:
        The audience row numbers (0-based, as in `common.source_row`) that were changed.
    """
    from sqlalchemy import text

    step = max(1, round(1 / share))
    table = store.table_name
    with store.engine.begin() as conn:
        conn.execute(
            text(
                f'UPDATE "{table}" SET first_name = :prefix || first_name '
                "WHERE (_row % :step) = 3 % :step"
            ),
            {"prefix": CHANGE_PREFIX, "step": step},
        )
        found = conn.execute(
            text(f'SELECT _row, email FROM "{table}" WHERE (_row % :step) = 3 % :step'),
            {"step": step},
        ).all()
    # `_row` is the data row's number from 1 (the import's order); check it against the email
    # (duplicate-key rows carry another row's email, so they are skipped in the check).
    changed = {int(row) - 1 for row, _email in found}
    for row, email in found:
        if (
            common.invalid_kind(int(row) - 1) != "DuplicateKey"
            and common.index_of(email) != int(row) - 1
        ):
            msg = f"Row {row} of the data set holds {email!r}: _row does not follow the CSV order."
            raise RuntimeError(msg)
    return changed


def expected_after(changed: set[int]) -> Callable[[int], dict[str, str | None] | None]:
    def expected(i: int) -> dict[str, str | None] | None:
        if common.invalid_kind(i) is not None:
            return None
        row = common.source_row(i)
        if i in changed:
            row["first_name"] = CHANGE_PREFIX + row["first_name"]
        return common.de_row(row)

    return expected


def run_resync(
    rows: int, share: float, settings: SimSettings, *, say: Callable[[str], None] = print
) -> dict[str, Any]:
    """Run the re-sync benchmark; returns the figures (the JSON line's content)."""
    with common.bench_setup(rows, settings, say) as setup:
        sim, store, category_id = setup.sim, setup.store, setup.category_id
        load_before = setup.load_before
        key = common.new_de_key("resync")
        pathway_id = store.add_pathway("upsert", key, category_id)
        say(f"first sync of {rows:,} rows ...")
        first = common.run_worker_child(store, pathway_id)
        if first["run"].state != "succeeded":
            msg = f"The first sync ended {first['run'].state}: {first['run'].error}"
            raise RuntimeError(msg)
        changed = change_rows(store, share)
        say(f"changed {len(changed):,} rows in the store; re-sync ...")
        sim_cpu = sim.cpu_seconds()
        second = common.run_worker_child(store, pathway_id)
        sim_cpu = sim.cpu_seconds() - sim_cpu
        run = second["run"]
        if run.state != "succeeded":
            msg = f"The re-sync ended {run.state}: {run.error}"
            raise RuntimeError(msg)
        started = time.perf_counter()
        comparison = common.compare(sim, key, rows, expected_after(changed))
        say(
            f"read-back: {comparison.rows_in_de:,} rows compared in {time.perf_counter() - started:.1f} s"
        )
        changed_valid = sum(1 for i in changed if common.invalid_kind(i) is None)
        floor = common.floor_seconds(settings, rows_to_write=changed_valid, de_created=False)
        first_s, resync_s = first["seconds"], second["seconds"]
        result: dict[str, Any] = {
            "rows": rows,
            "method": "upsert",
            "changed": share,
            "changed_rows": len(changed),
            "first_seconds": round(first_s, 2),
            "resync_seconds": round(resync_s, 2),
            "resync_speedup": round(first_s / resync_s, 1),
            "seconds": round(resync_s, 2),
            "floor_seconds": round(floor, 2),
            "ratio_to_floor": round(resync_s / floor, 3),
            "rows_in_de": comparison.rows_in_de,
            "rows_sent": run.rows_sent,
            "rows_skipped": run.rows_skipped,
            "rejected_rows": run.rows_failed,
            "mismatched_rows": comparison.mismatched_rows,
            "api_calls": run.api_calls,
            "first_api_calls": first["run"].api_calls,
            "peak_rss_mb": max(first["peak_rss_mb"], second["peak_rss_mb"]),
            "first_cpu_seconds": first["cpu_seconds"],
            "engine_cpu_seconds": second["cpu_seconds"],
            "sim_cpu_seconds": round(sim_cpu, 2),
            "default_sim_settings": settings.is_default(),
            "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            **common.machine(),
        }
        if comparison.examples:
            result["mismatch_examples"] = comparison.examples
        store.engine.dispose()
    return result


def human(result: dict[str, Any]) -> list[str]:
    lines = [
        f"resync {result['rows']:,} rows, {result['changed_rows']:,} changed: first sync "
        f"{result['first_seconds']:.2f} s, re-sync {result['resync_seconds']:.2f} s "
        f"({result['resync_speedup']:.1f}x faster)",
        f"  re-sync sent {result['rows_sent']:,}, skipped {result['rows_skipped']:,}, rejected "
        f"{result['rejected_rows']:,}; DE rows {result['rows_in_de']:,}, mismatched "
        f"{result['mismatched_rows']:,}; API calls {result['api_calls']:,}; peak RSS "
        f"{result['peak_rss_mb']:.0f} MB",
    ]
    lines += [f"  mismatch: {e}" for e in result.get("mismatch_examples", [])]
    if not result["default_sim_settings"]:
        lines.append("  note: simulator settings differ from DESIGN.md §5 (not comparable)")
    return lines


def _main(args: argparse.Namespace) -> int:
    common.apply_profile_arg(args)
    result = run_resync(args.rows, args.changed, SimSettings.from_args(args))
    common.emit(result, args.json, human(result))
    return 0 if result["mismatched_rows"] == 0 else 1


def register(subparsers: Any) -> None:
    """Add `resync` to `python -m bench`."""
    parser = subparsers.add_parser(
        "resync", help="incremental re-sync after a share of rows changed"
    )
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--changed", type=float, default=0.01, help="share of rows changed (0-1)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    common.add_profile_arg(parser)
    common.add_sim_args(parser)
    parser.set_defaults(func=_main)
