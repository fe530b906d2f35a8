"""`python -m bench import`: CSV import into the store, time and peak RSS.

A thin wrapper around `bench/import_bench.py` (the store owner's benchmark: it writes an N-row
donor CSV and imports it in a child process, whose peak RSS is the import's alone) that adds the
human summary, `--json` and the machine description like the other subcommands.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from bench import common, import_bench


def _main(args: argparse.Namespace) -> int:
    load_before = os.getloadavg()[0]
    figures = import_bench.run(args.rows)
    result = {
        **figures,
        "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        **common.machine(),
    }
    human = [
        f"import {result['rows']:,} rows ({result['file_mb']:.0f} MB CSV): {result['seconds']:.1f} s "
        f"({result['rows_per_s']:,} rows/s, CPU {result['cpu_seconds']:.1f} s), "
        f"peak RSS {result['peak_rss_mb']:.0f} MB"
    ]
    common.emit(result, args.json, human)
    return 0


def register(subparsers: Any) -> None:
    """Add `import` to `python -m bench`."""
    parser = subparsers.add_parser("import", help="CSV import time and peak memory")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.set_defaults(func=_main)
