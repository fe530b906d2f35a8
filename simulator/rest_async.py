"""REST async Data Extension API (`/data/v1/async/...`) and its tenant-wide processing queue.

The tenant processes submitted rows one job at a time at `async_rows_per_s` (`Tenant.book`): a
job's processing starts when it is ready (at submit on the ideal tenant) and the processor is
free, and ends rows / rate later. Status goes AsyncRequestStatusNotFound (for
`async_not_found_ms` after submit) -> Pending -> Executing -> Complete (or Error). These times
come from the rate alone, never from how fast this process is. With the realistic profile
(`simulator.realism`) a job first waits its own drawn pickup time, counted from its own submit
(jobs submitted together wait side by side; a long wait holds up no other job), may then read
"Error" for a while, and is processed after that; it may also deadlock against other jobs of its
DE. Times are on `SimulatorConfig.queue_time` so tests can fast-forward them.

Doing the work: an `AsyncWorker` thread validates each job's rows (`DeSchema.prepare`, no tenant
lock) in chunks as their processing window opens, so the CPU cost is spread at the tenant's rate.
When a job's completion time has passed, its rows are committed in one short step under the tenant
lock (`Tenant.settle`, by the worker or by whichever request looks first), so reads never see
half-applied jobs and no request waits behind a whole batch's validation. When the CPU is slower
than the configured rate (tests use a huge rate), `settle` finishes the validation itself.
"""

from __future__ import annotations

import bisect
import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Response

from simulator.routing import Call, json_response, rest_error
from simulator.schema import DeSchema
from simulator.state import MID, RowError, SimDE, Tenant, now_utc

if TYPE_CHECKING:
    from simulator.app import Simulator
    from simulator.routing import Router

MAX_ITEMS = 32_000  # hard limit per request (§3b)
MAX_BYTES = 6_000_000  # [I] SFMC publishes none; clients stay under ~5 MB
CHUNK = 1_000  # rows validated per step of the worker (0.1 s of work at 10,000 rows/s)
NOT_OBJECT = "The item is not a JSON object of column: value."
DEADLOCK = (
    "Transaction (Process ID {pid}) was deadlocked on lock resources with another process and "
    "has been chosen as the deadlock victim. Rerun the transaction."
)


@dataclass
class Job:
    """One submitted async request."""

    request_id: str
    de_key: str
    mode: str  # "insert" (POST) | "upsert" (PUT)
    items: list[Any] | None
    n_rows: int
    sim: Simulator
    submitted: datetime
    submit_mono: float
    visible_at: float
    pickup_at: float
    start_at: float  # processing starts (after pickup and any transient Error), s
    complete_at: float
    fail: bool = False
    partial: bool = False
    transient_until: float = 0.0  # status reads "Error" from pickup until then (realistic)
    deadlocked: frozenset[int] = frozenset()  # rows reported "Rerun the transaction."
    landed: frozenset[int] = frozenset()  # ... of which these were written all the same
    deadlock_text: str = ""
    done: bool = False
    outcomes: list[Any] = field(default_factory=list)  # None = OK, RowError, or a message str
    # Validation done ahead of the commit: per row a `Prepared` tuple, a RowError or a message.
    prepared: list[Any] = field(default_factory=list)
    schema: DeSchema | None = None  # the field list `prepared` was made with
    ready: bool = False  # nothing left to validate (or nothing can be: the commit decides)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def prepare(self, tenant: Tenant, upto: int, schema: DeSchema | None = None) -> None:
        """Validate rows up to `upto` (no tenant lock needed: prepare is state-free).

        `schema` (from under the tenant lock) restarts validation when the DE's fields changed.
        """
        with self.lock:
            if schema is not None and schema is not self.schema:
                self.prepared, self.schema, self.ready = [], schema, False
            if self.schema is None:
                de = tenant.get_de(self.de_key)
                if de is None or self.fail or self.items is None:
                    self.ready = True
                    return
                self.schema = de.schema
            items, out, mode, prepare = (
                self.items or [],
                self.prepared,
                self.mode,
                self.schema.prepare,
            )
            faults, refused = self.sim.faults, self.deadlocked - self.landed
            for i, item in enumerate(items[len(out) : upto], start=len(out)):
                if refused and i in refused:
                    out.append(self.deadlock_text)
                elif faults.knobs.deadlock_rate > 0 and faults.roll("deadlock_rate"):
                    out.append(DEADLOCK.format(pid=faults.choice(range(52, 190))))
                elif item.__class__ is not dict:
                    out.append(NOT_OBJECT)
                else:
                    out.append(prepare(item, mode))
            self.ready = len(out) >= len(items)

    def apply(self, tenant: Tenant) -> None:
        """Commit the rows (called by `Tenant.settle` under the tenant lock)."""
        de = tenant.get_de(self.de_key)
        if self.fail or de is None:
            self.fail = True
        else:
            schema = de.schema
            self.prepare(tenant, self.n_rows, schema)
            self.outcomes.extend(de.commit_many(self.prepared, mode=self.mode, schema=schema))
            for i in self.landed:  # written, yet reported as the deadlock victim
                if self.outcomes[i] is None:
                    self.outcomes[i] = self.deadlock_text
            self.sim.stats.rows(processed=self.n_rows)
        self.items, self.prepared = None, []
        self.done = True

    @property
    def has_errors(self) -> bool:
        return self.fail or any(o is not None for o in self.outcomes)


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def _not_found(request_id: str) -> Response:
    return json_response(
        {
            "requestId": str(uuid.uuid4()),
            "resultMessages": [
                {
                    "resultType": "Operational",
                    "resultClass": "Error",
                    "resultCode": "AsyncRequestStatusNotFound",
                    "message": "Unable to locate an Async Request Status Record for the provided "
                    f"RequestId: {request_id}.",
                }
            ],
        }
    )


def resolve_de(tenant: Tenant, ref: str) -> tuple[SimDE | None, str, str]:
    """(DE, id text, key text) for a `key:{key}` or `{objectId}` path segment."""
    if ref.lower().startswith("key:"):
        key = ref[4:]
        return tenant.get_de(key), "", key
    return tenant.get_de_by_id(ref), ref, ""


def submit(call: Call) -> Response:
    sim, tenant = call.sim, call.tenant
    data = call.request.get_data()
    if len(data) > MAX_BYTES:
        return rest_error(
            413,
            f"The request body is {len(data):,} bytes; the limit is {MAX_BYTES:,}. Send fewer rows "
            "per request.",
            10000,
        )
    body = call.json()
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list):
        return rest_error(400, 'The body must be {"items": [{column: value, ...}, ...]}.', 10002)
    if len(items) > MAX_ITEMS:
        return rest_error(
            400,
            f"The request has {len(items):,} items; at most {MAX_ITEMS:,} are allowed per request.",
            10000,
        )
    with tenant.lock:
        de, obj_id, key = resolve_de(tenant, call.args["ref"])
        if de is None:
            msg = (
                "Failed to resolve the Custom Object from the provided ObjectReferenceIdentifier "
                f"[Id: {obj_id}, Key: {key}]."
            )
            result = {"resultType": "Validation", "resultClass": "Error",
                      "resultCode": "CustomObjectNotFound", "message": msg}  # fmt: skip
            return json_response(
                {"requestId": str(uuid.uuid4()), "resultMessages": [result]}, status=400
            )
        now = sim.config.queue_time()
        rate = max(sim.config.async_rows_per_s, 1e-9)
        realism = sim.config.realism
        wait = sim.dice.pickup_s(realism)
        pickup = now + wait
        transient = (
            realism.transient_error_s if sim.dice.chance(realism.transient_error_rate) else 0
        )
        start = tenant.book(pickup + transient, len(items) / rate)
        complete = start + len(items) / rate
        job = Job(
            request_id=str(uuid.uuid4()),
            de_key=de.customer_key,
            mode="insert" if call.request.method == "POST" else "upsert",
            items=items,
            n_rows=len(items),
            sim=sim,
            submitted=now_utc(),
            submit_mono=now,
            visible_at=now + sim.config.async_not_found_ms / 1000,
            pickup_at=pickup,
            start_at=start,
            complete_at=complete,
            fail=sim.faults.roll("async_error_rate"),
            partial=sim.faults.roll("partial_results_rate"),
            transient_until=pickup + transient if transient else 0.0,
        )
        _realistic_events(call, job, wait, transient)
        tenant.jobs[job.request_id] = job
        ends = [j.complete_at for j in tenant.job_queue]  # the queue is kept in order of end
        tenant.job_queue.insert(bisect.bisect_right(ends, complete), job)
    sim.stats.rows(received=len(items))
    worker = getattr(sim, "async_worker", None)
    if worker is not None:
        worker.kick()
    return json_response({"requestId": job.request_id, "resultMessages": []}, status=202)


def _realistic_events(call: Call, job: Job, wait: float, transient: float) -> None:
    """Deadlock a job that joins too many in flight on its DE; log what the profile did.

    Called under the tenant lock before `job` is queued, so the queue holds the others.
    """
    sim, realism = call.sim, call.sim.config.realism
    log, rid = sim.log, job.request_id
    if wait > 0:
        log.record("pickup_wait", request_id=rid, seconds=round(wait, 3))
    if transient:
        log.record("transient_error", request_id=rid, seconds=transient)
    if realism.deadlock_concurrency <= 0:
        return
    key, now = job.de_key.casefold(), sim.config.queue_time()
    others = sum(
        1 for j in call.tenant.job_queue if j.de_key.casefold() == key and j.complete_at > now
    )
    if others < realism.deadlock_concurrency:
        return
    block = sim.dice.block(job.n_rows, realism.deadlock_share)
    job.deadlocked = frozenset(block)
    job.landed = frozenset(sim.dice.subset(block, realism.deadlock_landed))
    job.deadlock_text = DEADLOCK.format(pid=52 + len(call.tenant.jobs) % 138)
    log.record("deadlock", request_id=rid, de=job.de_key, in_flight=others,
               rows_failed=len(block), rows_landed=len(job.landed))  # fmt: skip


def _find(call: Call) -> Job | None:
    tenant = call.tenant
    with tenant.lock:
        tenant.settle()
        job = tenant.jobs.get(call.args["request_id"])
    if job is None or call.sim.config.queue_time() < job.visible_at:
        return None
    return job


def status(call: Call) -> Response:
    job = _find(call)
    if job is None:
        return _not_found(call.args["request_id"])
    now = call.sim.config.queue_time()
    info: dict[str, Any] = {
        "callDateTime": _stamp(job.submitted),
        "hasErrors": False,
        "requestId": job.request_id,
    }
    picked = job.submitted + timedelta(seconds=job.pickup_at - job.submit_mono)
    if now >= job.pickup_at:
        info["pickupDateTime"] = _stamp(picked)
    if not job.done:
        info["requestStatus"] = (
            "Pending" if now < job.pickup_at
            else "Error" if now < job.transient_until  # transient: it goes on afterwards
            else "Executing"
        )  # fmt: skip
    else:
        done_at = job.submitted + timedelta(seconds=job.complete_at - job.submit_mono)
        info["completionDateTime"] = _stamp(done_at)
        info["requestStatus"] = "Error" if job.fail else "Complete"
        info["hasErrors"] = job.has_errors
        failed = call.sim.config.realism.result_status_text
        info["resultStatus"] = failed if job.has_errors else "OK"
    return json_response({"status": info, "requestId": str(uuid.uuid4())})


def render(outcome: Any, job: Job, de_key: str) -> dict[str, Any]:
    """One `/results` item in SFMC's shape."""
    if outcome is None:
        verb = "Inserted" if job.mode == "insert" else "Upserted"
        return {"status": "OK", "message": f"{verb} DataExtensionObject"}
    if isinstance(outcome, str):
        code = "UnexpectedError" if "Rerun the transaction" in outcome else 2
        return {"status": "Error", "errorCode": code, "message": outcome}
    assert isinstance(outcome, RowError)
    errors = [{"name": v.field, "errorCode": v.code, "errorMessage": v.message}
              for v in outcome.violations]  # fmt: skip
    if outcome.kind == "missing_key":
        message = "Cannot locate the existing record. Required keys are missing."
    elif outcome.kind == "duplicate":
        return {
            "status": "Error",
            "errorCode": "UnexpectedError",
            "message": f"Violation of PRIMARY KEY constraint 'PK_C{MID}_{de_key}'. Cannot insert "
            f"duplicate key in object 'dbo.C{MID}_{de_key}'. The duplicate key value is "
            "(...).\r\nThe statement has been terminated.",
        }
    elif outcome.violations:
        message = outcome.violations[0].message
    else:
        message = outcome.message
    item: dict[str, Any] = {"status": "Error", "errorCode": 2, "message": message}
    if errors:
        item["errors"] = errors
    return item


def results(call: Call) -> Response:
    job = _find(call)
    if job is None:
        return _not_found(call.args["request_id"])
    paging = _results_paging(call)
    if isinstance(paging, Response):
        return paging
    page, size = paging
    outcomes = job.outcomes if job.done else []
    if job.partial:
        outcomes = outcomes[: len(outcomes) // 2]
    start = (page - 1) * size
    items = [render(o, job, job.de_key) for o in outcomes[start : start + size]]
    body = {"page": page, "pageSize": size, "count": len(outcomes), "requestId": job.request_id,
            "items": items}  # fmt: skip
    return Response(json.dumps(body), mimetype="application/json")


def _results_paging(call: Call) -> tuple[int, int] | Response:
    """(page, pageSize) of a `/results` call, or the 400 to answer.

    The documented `page`/`pageSize` (default 50, at most `results_page_max`); "lenient" paging
    also takes `$page`/`$pageSize` [I].
    """
    args, realism = call.request.args, call.sim.config.realism
    page_arg, size_arg = args.get("page", 1), args.get("pageSize", 50)
    if realism.results_paging != "documented":
        page_arg = args.get("$page", page_arg)
        size_arg = args.get("$pageSize", args.get("$pagesize", size_arg))
    try:
        page, size = int(page_arg), int(size_arg)
    except ValueError:
        return rest_error(400, "page and pageSize must be integers.", 10003)
    capped = min(max(1, size), realism.results_page_max)
    if capped != size:
        call.sim.log.record("results_page_capped", asked=size, served=capped)
    return max(1, page), capped


class AsyncWorker:
    """Validates queued async rows at the tenant's pace; commits each job once it is due.

    One thread at most, started by the first submit and ending when the queue is empty (or the
    simulator stops), so idle simulators hold no threads.
    """

    LEAD_S = 0.02  # start a chunk this much before its window opens, to commit right on time

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self._lock = threading.Lock()
        self._running = False

    def kick(self) -> None:
        """Make sure the thread runs (call without holding the tenant lock)."""
        with self._lock:
            if self._running:
                return
            self._running = True
        threading.Thread(target=self._run, daemon=True, name="sfmc-sim-async").start()

    def _head(self) -> Job | None:
        tenant = self.sim.state
        with self._lock, tenant.lock:
            if not tenant.job_queue or self.sim.stopping.is_set():
                self._running = False
                return None
            return tenant.job_queue[0]

    def _run(self) -> None:
        sim, tenant = self.sim, self.sim.state
        while (job := self._head()) is not None:
            now = sim.config.queue_time()
            if not job.ready and not job.done:
                rate = max(sim.config.async_rows_per_s, 1e-9)
                opens = job.start_at + len(job.prepared) / rate
                if now >= opens - self.LEAD_S:
                    job.prepare(tenant, len(job.prepared) + CHUNK)
                else:
                    sim.sleep(min(opens - self.LEAD_S - now, 0.05))
            elif now >= job.complete_at:
                tenant.settle(now)
            else:
                sim.sleep(min(job.complete_at - now, 0.05))


def register(router: Router) -> None:
    """Add the async DE routes (and the simulator's async worker)."""
    router.sim.async_worker = AsyncWorker(router.sim)
    rows = "/data/v1/async/dataextensions/<path:ref>/rows"
    router.add(rows, submit, methods=("POST",), scope="data_extensions_write",
               endpoint="POST async rows")  # fmt: skip
    router.add(rows, submit, methods=("PUT",), scope="data_extensions_write",
               endpoint="PUT async rows")  # fmt: skip
    router.add("/data/v1/async/<request_id>/status", status, scope="data_extensions_read",
               endpoint="GET async status")  # fmt: skip
    router.add("/data/v1/async/<request_id>/results", results, scope="data_extensions_read",
               endpoint="GET async results")  # fmt: skip
