"""REST async Data Extension API (`/data/v1/async/...`) and its tenant-wide processing queue.

Submitted rows wait in one FIFO queue processed at `async_rows_per_s` for the whole tenant: a
job's pickup time is when the queue frees up, its completion time adds rows / rate. Status goes
AsyncRequestStatusNotFound (for `async_not_found_ms` after submit) -> Pending -> Executing ->
Complete (or Error). Rows are written when the job's completion time has passed, at the next
request that looks at the tenant (`Tenant.settle`), so reads never see half-applied jobs.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Response

from sfmc.simulator.app import Call, json_response, rest_error
from sfmc.simulator.state import MID, RowError, SimDE, Tenant, now_utc

if TYPE_CHECKING:
    from sfmc.simulator.app import Router, Simulator

MAX_ITEMS = 32_000  # hard limit per request (§3b)
MAX_BYTES = 6_000_000  # [I] SFMC publishes none; clients stay under ~5 MB
MAX_PAGE_SIZE = 2_500  # [I]
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
    complete_at: float
    fail: bool = False
    partial: bool = False
    done: bool = False
    outcomes: list[Any] = field(default_factory=list)  # None = OK, RowError, or a message str

    def apply(self, tenant: Tenant) -> None:
        """Write the rows (called by `Tenant.settle` under the tenant lock)."""
        items, self.items = self.items or [], None
        de = tenant.get_de(self.de_key)
        if self.fail or de is None:
            self.fail = True
        else:
            faults = self.sim.faults
            for item in items:
                if faults.roll("deadlock_rate"):
                    self.outcomes.append(DEADLOCK.format(pid=faults.choice(range(52, 190))))
                elif not isinstance(item, dict):
                    self.outcomes.append("The item is not a JSON object of column: value.")
                else:
                    self.outcomes.append(de.save_row(item, mode=self.mode))
            self.sim.stats.rows(processed=len(items))
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
        now = time.monotonic()
        rate = max(sim.config.async_rows_per_s, 1e-9)
        pickup = max(now, tenant.queue_free_at)
        complete = pickup + len(items) / rate
        tenant.queue_free_at = complete
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
            complete_at=complete,
            fail=sim.faults.roll("async_error_rate"),
            partial=sim.faults.roll("partial_results_rate"),
        )
        tenant.jobs[job.request_id] = job
        tenant.job_queue.append(job)
    sim.stats.rows(received=len(items))
    return json_response({"requestId": job.request_id, "resultMessages": []}, status=202)


def _find(call: Call) -> Job | None:
    tenant = call.tenant
    with tenant.lock:
        tenant.settle()
        job = tenant.jobs.get(call.args["request_id"])
    if job is None or time.monotonic() < job.visible_at:
        return None
    return job


def status(call: Call) -> Response:
    job = _find(call)
    if job is None:
        return _not_found(call.args["request_id"])
    now = time.monotonic()
    info: dict[str, Any] = {
        "callDateTime": _stamp(job.submitted),
        "hasErrors": False,
        "requestId": job.request_id,
    }
    picked = job.submitted + timedelta(seconds=job.pickup_at - job.submit_mono)
    if now >= job.pickup_at:
        info["pickupDateTime"] = _stamp(picked)
    if not job.done:
        info["requestStatus"] = "Pending" if now < job.pickup_at else "Executing"
    else:
        done_at = job.submitted + timedelta(seconds=job.complete_at - job.submit_mono)
        info["completionDateTime"] = _stamp(done_at)
        info["requestStatus"] = "Error" if job.fail else "Complete"
        info["hasErrors"] = job.has_errors
        info["resultStatus"] = "Error" if job.has_errors else "OK"
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
    args = call.request.args
    try:
        page = max(1, int(args.get("$page", args.get("page", 1))))
        size = int(args.get("$pageSize", args.get("$pagesize", args.get("pageSize", 50))))
    except ValueError:
        return rest_error(400, "$page and $pageSize must be integers.", 10003)
    size = min(max(1, size), MAX_PAGE_SIZE)
    outcomes = job.outcomes if job.done else []
    if job.partial:
        outcomes = outcomes[: len(outcomes) // 2]
    start = (page - 1) * size
    items = [render(o, job, job.de_key) for o in outcomes[start : start + size]]
    body = {"page": page, "pageSize": size, "count": len(outcomes), "requestId": job.request_id,
            "items": items}  # fmt: skip
    return Response(json.dumps(body), mimetype="application/json")


def register(router: Router) -> None:
    """Add the async DE routes."""
    rows = "/data/v1/async/dataextensions/<path:ref>/rows"
    router.add(rows, submit, methods=("POST",), scope="data_extensions_write",
               endpoint="POST async rows")  # fmt: skip
    router.add(rows, submit, methods=("PUT",), scope="data_extensions_write",
               endpoint="PUT async rows")  # fmt: skip
    router.add("/data/v1/async/<request_id>/status", status, scope="data_extensions_read",
               endpoint="GET async status")  # fmt: skip
    router.add("/data/v1/async/<request_id>/results", results, scope="data_extensions_read",
               endpoint="GET async results")  # fmt: skip
