"""`python -m bench.child --database-url URL`: execute ONE queued sync run like the worker does.

Run by the benchmarks in a child process, so that its peak RSS is the product side alone (store
read, engine, client; the simulator is yet another process). Prints one JSON line:
{"run_id", "seconds", "peak_rss_mb"}.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import resource
import sys
import time


def main(argv: list[str] | None = None) -> int:
    """Claim and execute the next queued run with `sync.worker.Worker.run_once`."""
    parser = argparse.ArgumentParser(prog="python -m bench.child")
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args(argv)

    from store.db import make_engine
    from sync.worker import Worker

    engine = make_engine(args.database_url)
    # A long-lived worker has these loaded already; keep first-import time out of the figure.
    import sfmc.client  # noqa: F401
    import store.audience_rows
    import store.ledger
    import store.queue  # noqa: F401

    trace = _install_trace() if os.environ.get("PATHWAYS_BENCH_TRACE") else None
    heap_to = os.environ.get("PATHWAYS_BENCH_TRACEMALLOC")  # bench --tracemalloc
    heap = _HeapPeak() if heap_to else None
    worker = Worker(engine, worker_id="bench", schedules=False)
    profile_to = os.environ.get("PATHWAYS_BENCH_PROFILE")  # bench --profile: cProfile stats file
    profiler = cProfile.Profile() if profile_to else None
    before = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = before.ru_utime + before.ru_stime
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    run_id = worker.run_once()
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile_to)
    seconds = time.perf_counter() - started
    if heap is not None and heap_to:
        heap.write(heap_to)
    if trace is not None:
        with open(os.environ["PATHWAYS_BENCH_TRACE"], "w", encoding="utf-8") as out:
            for line in trace:
                out.write(line + "\n")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    figures = {
        "run_id": run_id,
        "seconds": seconds,
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime - cpu_before, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # ru_maxrss is KiB on Linux
    }
    print(json.dumps(figures))
    return 0


class _HeapPeak:
    """`tracemalloc` snapshots of the run's largest Python heap: where the memory goes.

    A thread checks the traced size every second and snapshots it when it passed the largest
    seen (by 2%); `write` saves the top allocation sites of that snapshot. Slows the run a lot:
    for diagnosis, never for timings.
    """

    def __init__(self) -> None:
        import threading
        import tracemalloc

        tracemalloc.start(1)
        self.snapshot: tracemalloc.Snapshot | None = None
        self.size = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        import tracemalloc

        while not self.stop.wait(1.0):
            current, _ = tracemalloc.get_traced_memory()
            if current > self.size * 1.02:
                self.snapshot = tracemalloc.take_snapshot()
                self.size = current

    def write(self, path: str) -> None:
        import tracemalloc

        self.stop.set()
        self.thread.join()
        _, peak = tracemalloc.get_traced_memory()
        lines = [f"traced peak {peak / 2**20:.1f} MB; largest snapshot {self.size / 2**20:.1f} MB"]
        if self.snapshot is not None:
            for stat in self.snapshot.statistics("lineno")[:30]:
                frame = stat.traceback[0]
                lines.append(
                    f"{stat.size / 2**20:8.2f} MB {stat.count:>9} blocks  "
                    f"{frame.filename.rsplit('/', 2)[-2:]} :{frame.lineno}"
                )
        tracemalloc.stop()
        with open(path, "w", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")


def _install_trace() -> list[str]:
    """Log every SFMC request (start, duration, operation) relative to now: timing analysis."""
    import threading

    from sfmc.client import SfmcClient

    lines: list[str] = []
    lock = threading.Lock()
    t0 = time.perf_counter()
    original = SfmcClient._request

    def traced(self, method, path="", **kwargs):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            return original(self, method, path, **kwargs)
        finally:
            end = time.perf_counter()
            with lock:
                lines.append(
                    f"{start - t0:8.3f} {end - start:7.3f} {threading.current_thread().name:>12} "
                    f"{method} {kwargs.get('operation', '')[:60]}"
                )

    SfmcClient._request = traced  # type: ignore[method-assign]
    return lines


if __name__ == "__main__":
    sys.exit(main())
