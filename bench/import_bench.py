"""Import benchmark: time and peak memory of importing an N-row donor CSV into a fresh store.

`run(rows)` writes the CSV (the demo's donor generator: accents, long notes, mixed dates...),
then imports it in a child process so that the child's peak RSS is the import's alone.
`python -m bench.import_bench --rows N` runs it from the command line.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import run_python


def _child(csv_path: str, db_path: str) -> None:
    from store.db import create_db_and_tables, make_engine
    from store.importer import import_file

    engine = make_engine(f"sqlite:///{db_path}")
    create_db_and_tables(engine)
    started, cpu_started = time.perf_counter(), time.process_time()
    report = import_file(engine, csv_path, name="bench", filename=Path(csv_path).name)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(
        json.dumps(
            {
                "rows": report.rows_imported,
                "refused": report.rows_refused,
                "seconds": round(seconds, 2),
                "cpu_seconds": round(cpu_seconds, 2),
                "peak_rss_mb": round(peak_kb / 1024, 1),
            }
        )
    )


def run(rows: int) -> dict[str, Any]:
    """Generate an N-row CSV, import it in a child process, return the measurements.

    Returns:
        {"rows", "seconds", "cpu_seconds", "rows_per_s", "peak_rss_mb", "file_mb",
        "generate_seconds"}.
    """
    from store.demo import write_donor_csv

    with tempfile.TemporaryDirectory(prefix="pathways-import-bench-") as tmp:
        csv_path = Path(tmp) / "donors.csv"
        started = time.perf_counter()
        with csv_path.open("w", encoding="utf-8", newline="") as out:
            write_donor_csv(out, rows)
        generate_seconds = time.perf_counter() - started
        out = run_python(
            ["-m", "bench.import_bench", "--child", str(csv_path), f"{tmp}/b.db"],
            "The import child",
            PATHWAYS_DATA_DIR=tmp,
        )
        child = json.loads(out.strip().splitlines()[-1])
        file_mb = csv_path.stat().st_size / 1024 / 1024
    return {
        "rows": child["rows"],
        "seconds": child["seconds"],
        "cpu_seconds": child["cpu_seconds"],  # the import's process: all its threads
        "rows_per_s": round(child["rows"] / max(child["seconds"], 1e-9)),
        "peak_rss_mb": child["peak_rss_mb"],
        "file_mb": round(file_mb, 1),
        "generate_seconds": round(generate_seconds, 1),
    }


def _main(args: argparse.Namespace) -> int:
    print(json.dumps(run(args.rows)))
    return 0


def register(subparsers: Any) -> None:
    """Add the `import` subcommand to `python -m bench`."""
    parser = subparsers.add_parser("import", help="CSV import time and peak memory")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.set_defaults(func=_main)


if __name__ == "__main__":
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--rows", type=int, default=1_000_000)
    cli.add_argument("--child", nargs=2, metavar=("CSV", "DB"), help=argparse.SUPPRESS)
    parsed = cli.parse_args()
    if parsed.child:
        _child(*parsed.child)
    else:
        sys.exit(_main(parsed))
