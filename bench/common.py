"""Shared parts of the benchmarks: simulator process, deterministic audience, store, read-back.

Everything here is sized for millions of rows: the audience is written to a CSV file row by row,
the expected DE row of audience row `i` is recomputed from `i` (never held in a dict), and the
read-back pages through the simulator's inspection API.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import requests

from sfmc.rows import ASYNC_MAX_ROWS
from simulator import SimulatorConfig
from simulator.realism import PROFILES

ROOT = Path(__file__).resolve().parent.parent
ROOT_FOLDER_NAME = "Data Extensions"
READ_PAGE = 25_000
KEY_PAGE = 2_500  # rows per REST rowset page (sfmc.keys.ROWSET_PAGE; the simulator's maximum)

# ---------------------------------------------------------------------------------------------
# Simulator in its own process


_SIM_DEFAULTS = SimulatorConfig()


@dataclass
class SimSettings:
    """The simulator's processing model; defaults are the simulator's own (DESIGN.md §5)."""

    latency_ms: int = _SIM_DEFAULTS.latency_ms
    soap_latency_ms: int = _SIM_DEFAULTS.soap_latency_ms
    rowset_ms_per_row: float = _SIM_DEFAULTS.rowset_ms_per_row
    async_rows_per_s: float = _SIM_DEFAULTS.async_rows_per_s
    rate_limit: float = _SIM_DEFAULTS.rate_limit
    token_ttl: int = _SIM_DEFAULTS.token_ttl
    profile: str = "ideal"  # `python -m simulator --profile` (realistic: simulator.realism)
    seed: int | None = None  # the simulator's dice (`--random-seed`): realistic runs vary by seed

    def flags(self) -> list[str]:
        seed = [] if self.seed is None else [f"--random-seed={self.seed}"]
        return [
            *seed,
            f"--profile={self.profile}",
            f"--latency-ms={self.latency_ms}",
            f"--soap-latency-ms={self.soap_latency_ms}",
            f"--rowset-ms-per-row={self.rowset_ms_per_row}",
            f"--async-rows-per-s={self.async_rows_per_s}",
            f"--rate-limit={self.rate_limit}",
            f"--token-ttl={self.token_ttl}",
        ]

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> SimSettings:
        return cls(
            latency_ms=args.sim_latency_ms,
            soap_latency_ms=args.sim_soap_latency_ms,
            rowset_ms_per_row=args.sim_rowset_ms_per_row,
            async_rows_per_s=args.sim_async_rows_per_s,
            rate_limit=args.sim_rate_limit,
            token_ttl=args.sim_token_ttl,
            profile=args.sim_profile,
            seed=args.sim_seed,
        )

    def is_default(self) -> bool:
        return replace(self, seed=None) == SimSettings()


def add_sim_args(parser: argparse.ArgumentParser) -> None:
    """Simulator flags (defaults = DESIGN.md §5); the smoke test shrinks them."""
    d = SimSettings()
    group = parser.add_argument_group("simulator (defaults: DESIGN.md §5 processing model)")
    group.add_argument("--sim-latency-ms", type=int, default=d.latency_ms)
    group.add_argument("--sim-soap-latency-ms", type=int, default=d.soap_latency_ms)
    group.add_argument("--sim-rowset-ms-per-row", type=float, default=d.rowset_ms_per_row)
    group.add_argument("--sim-async-rows-per-s", type=float, default=d.async_rows_per_s)
    group.add_argument("--sim-rate-limit", type=float, default=d.rate_limit)
    group.add_argument("--sim-token-ttl", type=int, default=d.token_ttl)
    group.add_argument(
        "--sim-profile",
        choices=sorted(PROFILES),
        default=d.profile,
        help="the simulator's tenant: ideal, or realistic (queue waits, deadlocks, paging...)",
    )
    group.add_argument(
        "--sim-seed",
        type=int,
        default=d.seed,
        help="seed of the simulator's dice (pickup waits...)",
    )


def add_profile_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile",
        metavar="PATH",
        help="cProfile the worker child's run into PATH (read with python -m pstats PATH)",
    )
    parser.add_argument(
        "--trace", metavar="PATH", help="write a timeline of every SFMC request of the run to PATH"
    )
    parser.add_argument(
        "--tracemalloc",
        metavar="PATH",
        help="write the top allocation sites of the worker child's largest heap to PATH (slow)",
    )


def apply_profile_arg(args: argparse.Namespace) -> None:
    if getattr(args, "profile", None):
        os.environ["PATHWAYS_BENCH_PROFILE"] = str(Path(args.profile).resolve())
    if getattr(args, "trace", None):
        os.environ["PATHWAYS_BENCH_TRACE"] = str(Path(args.trace).resolve())
    if getattr(args, "tracemalloc", None):
        os.environ["PATHWAYS_BENCH_TRACEMALLOC"] = str(Path(args.tracemalloc).resolve())


class SimProcess:
    """`python -m simulator --port 0 ...` in a child process (its CPU and memory apart).

    `SimProcess(settings)` is ready when it returns. `SimProcess(flags=[...], wait=False)` starts
    the process and returns at once (the chaos lab builds its audience meanwhile); call
    `wait_ready()` before using it.
    """

    def __init__(
        self, settings: SimSettings | None = None, *, flags: Sequence[str] = (), wait: bool = True
    ) -> None:
        self.settings = settings
        self._stderr = tempfile.TemporaryFile(mode="w+")  # read only if the start fails
        cmd = [sys.executable, "-m", "simulator", "--port", "0"]
        cmd += [*settings.flags()] if settings is not None else [*flags]
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=_child_env(),
        )
        self.base_url = self.auth_uri = ""
        self.http = requests.Session()
        if wait:
            self.wait_ready()

    def wait_ready(self) -> None:
        """Read the start-up line ("SFMC simulator on http://127.0.0.1:PORT/ ...")."""
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+)/", line)
        if not found:
            self.proc.kill()
            self.proc.wait()
            self._stderr.seek(0)
            err = self._stderr.read()[-500:]
            msg = f"The simulator did not start (first line: {line!r}; {err}); run python -m simulator to see why."
            raise RuntimeError(msg)
        self.base_url = found.group(1)
        self.auth_uri = self.base_url + "/"

    def stats(self) -> dict[str, Any]:
        return self.http.get(self.base_url + "/_sim/stats", timeout=60).json()

    def cpu_seconds(self) -> float:
        """CPU time the simulator process has used so far (user + system, from /proc)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (fields 14, 15)

    def de_exists(self, key: str) -> bool:
        return self.http.get(f"{self.base_url}/_sim/dataextensions/{key}", timeout=60).ok

    def iter_rows(self, key: str, page: int = READ_PAGE) -> Iterator[dict[str, Any]]:
        """Every row of a DE, paged (values as SFMC stores them)."""
        offset = 0
        while True:
            resp = self.http.get(
                f"{self.base_url}/_sim/dataextensions/{key}/rows",
                params={"offset": offset, "limit": page},
                timeout=300,
            )
            resp.raise_for_status()
            items = resp.json()["items"]
            yield from items
            if len(items) < page:
                return
            offset += page

    def put_rows(self, key: str, items: list[dict[str, Any]]) -> None:
        resp = self.http.post(
            f"{self.base_url}/_sim/dataextensions/{key}/rows", json={"items": items}, timeout=300
        )
        resp.raise_for_status()
        errors = resp.json().get("errors")
        if errors:
            msg = f"Seeding {key} failed for {len(errors)} rows, e.g. {errors[0]}"
            raise RuntimeError(msg)

    def stop(self) -> None:
        self.http.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._stderr.close()

    def __enter__(self) -> SimProcess:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, **extra)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_python(args: Sequence[str], what: str, **env: str) -> str:
    """`python <args>` in a child process from the project folder, `env` added; its stdout.

    Every bench that measures the product in a child of its own starts it this way.

    Raises:
        RuntimeError: the child failed; `what` names it and the end of its stderr follows.
    """
    done = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=_child_env(**env),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        msg = f"{what} failed ({done.returncode}):\n{done.stderr[-3000:]}"
        raise RuntimeError(msg)
    return done.stdout


# ---------------------------------------------------------------------------------------------
# The deterministic audience

COLUMNS = ("email", "first_name", "last_name", "city", "gifts", "total", "joined", "opted_in")
# source column, DE field, type, length, precision, scale, primary key
_MAP = (
    ("email", "Email", "EmailAddress", 254, None, None, True),
    ("first_name", "FirstName", "Text", 50, None, None, False),
    ("last_name", "LastName", "Text", 50, None, None, False),
    ("city", "City", "Text", 50, None, None, False),
    ("gifts", "Gifts", "Number", None, None, None, False),
    ("total", "Total", "Decimal", None, 18, 2, False),
    ("joined", "Joined", "Date", None, None, None, False),
    ("opted_in", "OptedIn", "Boolean", None, None, None, False),
)
MAPPING: list[dict[str, Any]] = [
    {
        "source_column": src,
        "destination_field": dest,
        "field_type": ftype,
        "length": length,
        "precision": precision,
        "scale": scale,
        "required": pk,
        "is_primary_key": pk,
    }
    for src, dest, ftype, length, precision, scale, pk in _MAP
]
FIELD_OF = {src: dest for src, dest, *_ in _MAP}
_CITIES = ("Zürich", "São Paulo", "Montréal", "Oslo", "Kraków", "", "Dublin", "Łódź", "Cork")
_FIRST = ("Ana", "José", "Zoë", "Siobhán", "Ólafur", "Chloé", "Mei", "Aarav", "O'Neil", "Jürgen")

# Invalid rows, by kind (checked in this order; "a few percent" in total, about 3.5%).
INVALID_KINDS = (
    (101, 7, "InvalidEmailAddress"),
    (127, 11, "MaxLengthExceeded"),
    (149, 13, "InvalidNumber"),
    (173, 17, "DuplicateKey"),
    (199, 19, "InvalidDate"),
)
EMAIL_INDEX = re.compile(r"donor(\d+)", re.IGNORECASE)


def invalid_kind(i: int) -> str | None:
    """Why audience row `i` (0-based) must be rejected, or None for a valid row."""
    for every, at, kind in INVALID_KINDS:
        if i % every == at:
            if kind == "DuplicateKey" and invalid_kind(i - 1) is not None:
                continue  # duplicate only of a valid row: the first one wins, unambiguously
            return kind
    return None


def email_of(i: int) -> str:
    if i % 13 == 0:
        return f"Donor{i}@Example.ORG"  # SFMC keeps the case it is given
    if i % 7 == 0:
        return f"donor{i}+news@example.org"
    return f"donor{i}@example.org"


def source_row(i: int, *, old: bool = False) -> dict[str, str]:
    """Audience row `i` as CSV text (the awkward cases real exports have included)."""
    row = {
        "email": email_of(i),
        "first_name": f"{_FIRST[i % len(_FIRST)]} {i}",
        "last_name": f"Ní Bhriain-{i % 977}" if i % 11 == 0 else f"Last{i % 977}",
        "city": _CITIES[i % len(_CITIES)],
        "gifts": f"{i % 40}" if i % 29 else f"0{i % 40}",
        "total": f"{(i % 1000) * 1.25:.2f}",
        "joined": f"20{10 + i % 14}-{1 + i % 12:02d}-{1 + i % 28:02d}",
        "opted_in": ("true", "false", "True", "0", "1")[i % 5],
    }
    if old:
        row["first_name"] = f"Old {i}"
        row["total"] = "1.00"
    kind = invalid_kind(i)
    if kind == "InvalidEmailAddress":
        row["email"] = f"donor{i}.example.org"
    elif kind == "MaxLengthExceeded":
        row["first_name"] = f"{i} " + "x" * 60
    elif kind == "InvalidNumber":
        row["gifts"] = "12x"
    elif kind == "DuplicateKey":
        row["email"] = email_of(i - 1).upper()
    elif kind == "InvalidDate":
        row["joined"] = "2020-13-45"
    return row


def write_csv(path: Path, rows: int) -> None:
    """The audience's CSV, streamed row by row."""
    with path.open("w", encoding="utf-8", newline="") as out:
        _write_rows(out, rows)


def _write_rows(out: IO[str], rows: int) -> None:
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    for i in range(rows):
        writer.writerow(source_row(i))


def _de_fields() -> dict[str, Any]:
    from sync.mapping import FieldMap

    return {
        src: FieldMap(**m).to_de_field()
        for src, m in zip((s for s, *_ in _MAP), MAPPING, strict=True)
    }


_FIELDS: dict[str, Any] = {}


def de_row(source: Mapping[str, str]) -> dict[str, str | None]:
    """The DE row SFMC stores for a valid source row (the product's canonical forms, sync.values)."""
    from sync.values import canonical

    if not _FIELDS:
        _FIELDS.update(_de_fields())
    return {FIELD_OF[col]: canonical(_FIELDS[col], value) for col, value in source.items()}


def index_of(email: str) -> int:
    """Audience row number encoded in a generated email (-1 for a foreign row)."""
    found = EMAIL_INDEX.search(email or "")
    return int(found.group(1)) if found else -1


# ---------------------------------------------------------------------------------------------
# Comparison


@dataclass
class Comparison:
    """Result of reading a DE back and comparing it row by row with the expected rows."""

    rows_in_de: int = 0
    mismatched_rows: int = 0
    missing_rows: int = 0
    unexpected_rows: int = 0
    wrong_values: int = 0
    examples: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.mismatched_rows += 1
        if len(self.examples) < 5:
            self.examples.append(text)


def compare(
    sim: SimProcess,
    key: str,
    rows: int,
    expected: Callable[[int], dict[str, str | None] | None],
    *,
    extra_expected: Callable[[str], dict[str, str | None] | None] = lambda _email: None,
) -> Comparison:
    """Read DE `key` back and compare with `expected(i)` for i in range(rows) (None = absent).

    `extra_expected(email)` gives the expected row of DE rows outside the audience (seeded
    rows that must survive), None when such a row must not be there.
    """
    result = Comparison()
    seen = bytearray(rows)
    casefold_fields = ("Email",)
    for item in sim.iter_rows(key):
        result.rows_in_de += 1
        email = item.get("Email") or ""
        i = index_of(email)
        want = (expected(i) if 0 <= i < rows else None) or extra_expected(email)
        if want is None:
            result.unexpected_rows += 1
            result.note(f"unexpected row in the DE: {item}")
            continue
        if 0 <= i < rows:
            if seen[i]:
                result.unexpected_rows += 1
                result.note(f"row {i} is in the DE twice: {item}")
                continue
            seen[i] = 1
        got = {k: item.get(k) for k in want}
        if got != want:
            diff = {
                k: (got[k], want[k])
                for k in want
                if got[k] != want[k]
                and not (k in casefold_fields and (got[k] or "").casefold() == want[k].casefold())
            }
            if diff:
                result.wrong_values += 1
                result.note(f"row {i} differs (got, expected): {diff}")
    for i in range(rows):
        if not seen[i] and expected(i) is not None:
            result.missing_rows += 1
            result.note(f"row {i} ({email_of(i)}) is missing from the DE")
    return result


# ---------------------------------------------------------------------------------------------
# A temporary store with the audience and a pathway


@dataclass
class BenchStore:
    """A fresh SQLite store in a temp dir holding the audience's data set, audience, connection."""

    directory: Path
    database_url: str
    engine: Any
    dataset_id: int
    audience_id: int
    connection_id: int
    table_name: str
    import_seconds: float

    def add_pathway(self, method: str, key: str, category_id: int) -> int:
        from sqlmodel import Session

        from store.pathways import create_pathway, set_mapping

        method = method.replace("-", "_")
        with Session(self.engine) as session:
            pathway = create_pathway(
                self.audience_id,
                self.connection_id,
                f"Bench {key}",
                key,
                session=session,
                method=method,
                category_id=category_id,
                primary_keys=["Email"],
                delete_guard_share=0.5,
            )
            set_mapping(pathway.id, MAPPING, session=session)
            return int(pathway.id)


def root_folder_id(sim: SimProcess) -> int:
    """The simulator's top Data Extension folder (where the bench's DEs are created)."""
    items = sim.http.get(sim.base_url + "/_sim/folders", timeout=60).json()["items"]
    for folder in items:
        if folder.get("contentType") == "dataextension" and not folder.get("parentId"):
            return int(folder["id"])
    msg = f"The simulator has no top Data Extension folder: {items}"
    raise RuntimeError(msg)


def prepare_environment(directory: Path) -> None:
    """Env of the bench and its children: a throwaway store, a fresh secret key, demo mode."""
    from cryptography.fernet import Fernet

    os.environ["PATHWAYS_DATA_DIR"] = str(directory)
    os.environ["PATHWAYS_SECRET_KEY"] = Fernet.generate_key().decode()
    os.environ["PATHWAYS_DEMO"] = "1"  # the simulator is a local URI: allowed in demo mode only
    os.environ.pop("DATABASE_URL", None)


def make_store(
    directory: Path, rows: int, sim: SimProcess, say: Callable[[str], None]
) -> BenchStore:
    """Write the audience CSV, import it (the product's importer), add audience and connection."""
    from sqlmodel import Session

    from simulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
    from store.audiences import create_audience
    from store.connections import create_connection
    from store.db import create_db_and_tables, make_engine
    from store.importer import import_file

    url = f"sqlite:///{directory / 'bench.db'}"
    engine = make_engine(url)
    create_db_and_tables(engine)
    csv_path = directory / "audience.csv"
    started = time.perf_counter()
    write_csv(csv_path, rows)
    say(f"audience: {rows:,} rows written to CSV in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    # The bench imports big audiences on purpose: the untrusted-upload limits of
    # `store.import_limits` (2,000,000 rows, 900 s) must not stop a 3M-row run.
    os.environ["PATHWAYS_IMPORT_MAX_ROWS"] = str(max(rows + 1, 2_000_000))
    os.environ["PATHWAYS_IMPORT_MAX_SECONDS"] = "3600"
    report = import_file(engine, csv_path, name="bench audience", filename="audience.csv")
    import_seconds = time.perf_counter() - started
    csv_path.unlink()
    if report.rows_imported != rows:
        msg = f"Import kept {report.rows_imported} of {rows} rows: {report.problems[:3]}"
        raise RuntimeError(msg)
    say(f"audience: imported into the store in {import_seconds:.1f} s")
    with Session(engine) as session:
        audience = create_audience("bench audience", report.dataset_id, session=session)
        conn = create_connection(
            "bench simulator", sim.auth_uri, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, session=session
        )
        audience_id, connection_id = int(audience.id), int(conn.id)
    return BenchStore(
        directory=directory,
        database_url=url,
        engine=engine,
        dataset_id=report.dataset_id,
        audience_id=audience_id,
        connection_id=connection_id,
        table_name=report.table_name,
        import_seconds=import_seconds,
    )


def new_de_key(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def temp_dir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="pathways-bench-")


@dataclass
class BenchSetup:
    """What a store-backed benchmark runs against: simulator, imported store, DE folder, load."""

    sim: SimProcess
    store: BenchStore
    category_id: int
    load_before: float  # 1-minute load average before the store was built


@contextmanager
def bench_setup(
    rows: int, settings: SimSettings, say: Callable[[str], None]
) -> Iterator[BenchSetup]:
    """Start the simulator, point the env at a temp dir and import a `rows`-row audience there."""
    with temp_dir() as tmp, SimProcess(settings) as sim:
        directory = Path(tmp)
        prepare_environment(directory)
        say(f"simulator: {sim.base_url} ({' '.join(settings.flags())})")
        load_before = os.getloadavg()[0]
        store = make_store(directory, rows, sim, say)
        yield BenchSetup(sim, store, root_folder_id(sim), load_before)


# ---------------------------------------------------------------------------------------------
# Running a sync the way the worker does, in a child process


def run_worker_child(store: BenchStore, pathway_id: int, **enqueue: Any) -> dict[str, Any]:
    """Queue a run of `pathway_id` and execute it with `sync.worker.Worker.run_once` in a child.

    The child's figures: seconds (run_once alone, no interpreter start-up) and peak_rss_mb
    (ru_maxrss of the child: the product side only, the simulator is another process).
    """
    from store.queue import enqueue_run, get_run

    run = enqueue_run(store.engine, pathway_id, "manual", **enqueue)
    out = run_python(
        ["-m", "bench.child", "--database-url", store.database_url], "The worker child"
    )
    child = json.loads(out.strip().splitlines()[-1])
    if child.get("run_id") != run.id:
        msg = f"The worker child ran {child.get('run_id')}, expected run {run.id}."
        raise RuntimeError(msg)
    return {**child, "run": get_run(store.engine, run.id)}


def count_rejected(store: BenchStore, run_id: int) -> dict[str, int]:
    from sqlalchemy import func, select

    from store.models import RejectedRow

    table = RejectedRow.__table__  # type: ignore[attr-defined]
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(table.c.error_type, func.count())
            .where(table.c.run_id == run_id)
            .group_by(table.c.error_type)
        ).all()
    return {str(k): int(v) for k, v in rows}


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# ---------------------------------------------------------------------------------------------
# The floor


def tenant_wait(profile: str, rows_to_write: int) -> float:
    """The profile's expected waits before SFMC starts on a push's rows: one per wave of jobs.

    A push needs ceil(rows / 32,000) jobs; the tenant deadlocks a job that meets
    `deadlock_concurrency` others of its DE in flight (its failed rows then need another job
    and another wait), so at most that many jobs wait side by side, and each wave waits once.
    """
    realism = PROFILES[profile]
    jobs = -(-rows_to_write // ASYNC_MAX_ROWS)
    per_wave = realism.deadlock_concurrency or jobs
    return -(-jobs // per_wave) * realism.expected_start_s() if jobs else 0.0


def floor_seconds(
    settings: SimSettings,
    *,
    rows_to_write: int,
    de_created: bool,
    remote_rows: int = 0,
    deletes: int = 0,
) -> float:
    """The least time the simulator's own limits allow for a push (see bench/README.md).

    rows_to_write / async rate
    + REST latency x 4 (token, first submit, last status poll, results page)
    + key read, when the method reads keys: REST latency (page 1 brings the read's token)
      + the other ceil(remote_rows / 2,500) - 1 pages at the rate limit (they are independent)
    + SOAP latency x (1 DE lookup + 1 if the DE is created + 1 if rows are deleted)
    + waves x the profile's expected wait from submit to the start of processing (0 on the
      ideal tenant; realistic: (1 - long_rate) x median x exp(sigma^2 / 2) + long_rate x
      (long_min + long_max) / 2 + transient_error_rate x transient_error_s,
      `simulator.realism.Realism.expected_start_s`): jobs wait for pickup side by side and
      only their processing is serial, so each wave of jobs waits once; waves =
      ceil(ceil(rows_to_write / 32,000) / deadlock_concurrency) (1 without deadlocks).
    """
    rest = settings.latency_ms / 1000
    soap = settings.soap_latency_ms / 1000
    trips_rest = 4 if rows_to_write else 1
    pages = -(-remote_rows // KEY_PAGE)
    keys = rest + max(pages - 1, 0) / settings.rate_limit if pages and settings.rate_limit else 0
    trips_soap = 1 + int(de_created) + int(deletes > 0)
    pickup = tenant_wait(settings.profile, rows_to_write)
    return (
        rows_to_write / settings.async_rows_per_s
        + rest * trips_rest
        + keys
        + soap * trips_soap
        + pickup
    )


_SUBMIT = re.compile(r"\s*([\d.]+)\s+([\d.]+)\s+\S+\s+(?:PUT|POST) (?:upsert|insert) (\d+) rows")


def queue_idle_seconds(trace_path: str | os.PathLike[str], rows_per_s: float) -> float | None:
    """Replay a `--trace` timeline against the async queue model: seconds the queue sat idle.

    A job is taken as queued when its submit request returned; the tenant works through rows at
    `rows_per_s`. Idle time after the first submit means the engine did not keep SFMC busy.
    """
    try:
        text = Path(trace_path).read_text(encoding="utf-8")
    except OSError:
        return None
    submits = sorted(
        (float(m.group(1)) + float(m.group(2)), int(m.group(3)))
        for m in map(_SUBMIT.match, text.splitlines())
        if m
    )
    if not submits:
        return None
    free = submits[0][0]
    idle = 0.0
    for at, rows in submits:
        if at > free:
            idle += at - free
        free = max(free, at) + rows / rows_per_s
    return round(idle, 2)


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = "unknown"
    return {
        "nproc": os.cpu_count(),
        "python": sys.version.split()[0],
        "cpu": cpu,
        "git": _git_state(),
    }


def _git_state() -> str:
    """HEAD's short hash, with "+dirty" when product files differ from it (a shared tree)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "sfmc", "store"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def emit(result: Mapping[str, Any], as_json: bool, human: list[str]) -> None:
    """Human summary, then (with --json) exactly one JSON line at the end."""
    for line in human:
        print(line, flush=True)
    if as_json:
        print(json.dumps(result, sort_keys=False), flush=True)
