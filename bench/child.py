"""`python -m bench.child --database-url URL`: execute ONE queued sync run like the worker does.

Run by the benchmarks in a child process, so that its peak RSS is the product side alone (store
read, engine, client; the simulator is yet another process). Prints one JSON line:
{"run_id", "seconds", "peak_rss_mb"}.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time


def main(argv: list[str] | None = None) -> int:
    """Claim and execute the next queued run with `sfmc.worker.Worker.run_once`."""
    parser = argparse.ArgumentParser(prog="python -m bench.child")
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args(argv)

    from sfmc.worker import Worker
    from store.db import make_engine

    engine = make_engine(args.database_url)
    worker = Worker(engine, worker_id="bench", schedules=False)
    started = time.perf_counter()
    run_id = worker.run_once()
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(
        json.dumps({"run_id": run_id, "seconds": seconds, "peak_rss_mb": round(peak_kb / 1024, 1)})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
