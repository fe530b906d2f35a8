"""Inspection and control API for tests and benchmarks, outside SFMC's paths (`/_sim/...`).

- `GET /_sim/dataextensions` -> {"count", "items": [{name, customerKey, objectId, categoryId,
  isSendable, isTestable, sendableField, sendableSubscriberField, retention: {length, unit,
  rowBased, deleteAtEnd, resetOnImport} | null, rowCount, fields: [...]}]}
- `GET /_sim/dataextensions/<key>` -> one of those items
- `GET /_sim/dataextensions/<key>/rows[?offset=&limit=]` -> {"count": n, "items": [{field: value}]}
  (values as SFMC stores them: strings or null; async jobs whose time has come are applied first)
- `POST /_sim/dataextensions/<key>/rows` {"items": [...]} -> upsert rows directly (bench setup)
- `GET /_sim/folders` -> {"count", "items": [{id, name, customerKey, parentId, contentType}]}
- `GET|POST /_sim/faults` -> the knobs (POST a JSON object of knob: value; see `FaultConfig`;
  `{"expire_tokens": true}` expires every token issued so far)
- `POST /_sim/reset` -> back to the seeded state; `GET /_sim/stats` -> request counters
- `GET /_sim/log[?kind=deadlock]` -> what the realistic profile did: {"counts": {kind: n},
  "count", "items": [{kind, at, ...}]}; kinds: pickup_wait, transient_error, deadlock,
  token_throttled, results_page_capped, unencoded_key, route_not_found, business_unit_refused,
  journey_processed
- `GET /_sim/realism` -> the profile's knobs, `expected_pickup_s` and `expected_start_s` (the floor's term)
- chaos: `DELETE /_sim/dataextensions/<key>`, `DELETE /_sim/dataextensions/<key>/fields/<name>`,
  `DELETE /_sim/folders/<id>` (changes behind the tool's back)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import islice
from typing import TYPE_CHECKING

from werkzeug.wrappers import Response

from simulator.routing import Call, json_response

if TYPE_CHECKING:
    from simulator.routing import Router


STREAM_CHUNK = 5_000  # rows per piece of a streamed `/rows` answer


def _error(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


def list_des(call: Call) -> Response:
    tenant = call.tenant
    with tenant.lock:
        tenant.settle()
        items = [de.describe() for de in tenant.des.values()]
    return json_response({"count": len(items), "items": items})


def get_de(call: Call) -> Response:
    tenant = call.tenant
    with tenant.lock:
        tenant.settle()
        de = tenant.get_de(call.args["key"])
        if de is None:
            return _error(404, f"No data extension with CustomerKey {call.args['key']!r}.")
        return json_response(de.describe())


def get_rows(call: Call) -> Response:
    tenant = call.tenant
    try:
        offset = int(call.request.args.get("offset", 0))
        limit = call.request.args.get("limit")
        limit_n = None if limit is None else int(limit)
    except ValueError:
        return _error(400, "offset and limit must be integers.")
    with tenant.lock:
        tenant.settle()
        de = tenant.get_de(call.args["key"])
        if de is None:
            return _error(404, f"No data extension with CustomerKey {call.args['key']!r}.")
        count = len(de.rows)
        end = None if limit_n is None else offset + max(0, limit_n)
        # A snapshot of references to the (immutable) row tuples; encoding happens unlocked.
        rows = list(islice(de.rows.values(), max(0, offset), end))
        names = [f.name for f in de.fields]
    return Response(_stream_rows(count, names, rows), mimetype="application/json")


def _stream_rows(count: int, names: list[str], rows: list[tuple]) -> Iterator[str]:
    """`{"count": n, "items": [...]}` in pieces: a million rows never sit in memory as one text."""
    yield f'{{"count": {count}, "items": ['
    for start in range(0, len(rows), STREAM_CHUNK):
        chunk = [dict(zip(names, row, strict=False)) for row in rows[start : start + STREAM_CHUNK]]
        text = json.dumps(chunk)[1:-1]
        yield text if start == 0 else ", " + text
    yield "]}"


def put_rows(call: Call) -> Response:
    body = call.json()
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list):
        return _error(400, 'Send {"items": [{field: value}, ...]}.')
    tenant = call.tenant
    with tenant.lock:
        de = tenant.get_de(call.args["key"])
        if de is None:
            return _error(404, f"No data extension with CustomerKey {call.args['key']!r}.")
        errors = []
        mode = "upsert" if de.pk_indexes else "insert"
        for i, row in enumerate(items):
            problem = de.save_row(row, mode=mode)
            if problem is not None:
                errors.append({"index": i, "kind": problem.kind, "message": problem.message,
                               "violations": [v.message for v in problem.violations]})  # fmt: skip
        return json_response({"count": len(items) - len(errors), "errors": errors})


def list_folders(call: Call) -> Response:
    with call.tenant.lock:
        items = [
            {
                "id": f.id,
                "name": f.name,
                "customerKey": f.customer_key,
                "parentId": f.parent_id,
                "contentType": f.content_type,
            }  # fmt: skip
            for f in call.tenant.folders.values()
        ]
    return json_response({"count": len(items), "items": items})


def faults(call: Call) -> Response:
    sim = call.sim
    expired = None
    if call.request.method == "POST":
        body = call.json()
        if not isinstance(body, dict):
            return _error(400, 'POST a JSON object of fault knobs, e.g. {"error_rate": 0.2}.')
        problems = sim.faults.update(body)
        if problems:
            return _error(400, "; ".join(problems))
        if body.get("expire_tokens"):
            expired = sim.tokens.expire_all()
    snapshot = sim.faults.snapshot()
    if expired is not None:
        snapshot["tokens_expired"] = expired
    return json_response(snapshot)


def log(call: Call) -> Response:
    return json_response(call.sim.log.snapshot(call.request.args.get("kind")))


def realism(call: Call) -> Response:
    return json_response(call.sim.config.realism.describe())


def reset(call: Call) -> Response:
    call.sim.reset()
    return json_response({"ok": True})


def stats(call: Call) -> Response:
    data = call.sim.stats.snapshot()
    with call.tenant.lock:
        call.tenant.settle()
        data["total_rows"] = call.tenant.total_rows
        data["async_queue"] = len(call.tenant.job_queue)
    return json_response(data)


def delete_de(call: Call) -> Response:
    if call.tenant.remove_de(call.args["key"]) is None:
        return _error(404, f"No data extension with CustomerKey {call.args['key']!r}.")
    return json_response({"deleted": call.args["key"]})


def delete_field(call: Call) -> Response:
    tenant = call.tenant
    with tenant.lock:
        de = tenant.get_de(call.args["key"])
        idx = None if de is None else de.index_of(call.args["name"])
        if de is None or idx is None:
            return _error(404, "No such data extension or field.")
        de.drop_field(idx)
    return json_response({"deleted": call.args["name"]})


def delete_folder(call: Call) -> Response:
    with call.tenant.lock:
        if call.tenant.folders.pop(call.args["folder_id"], None) is None:
            return _error(404, f"No folder with id {call.args['folder_id']}.")
    return json_response({"deleted": call.args["folder_id"]})


def register(router: Router) -> None:
    """Add the `/_sim` routes."""
    add = router.add
    add("/_sim/dataextensions", list_des, kind="sim")
    add("/_sim/dataextensions/<path:key>/rows", get_rows, kind="sim", endpoint="sim:rows")
    add("/_sim/dataextensions/<path:key>/rows", put_rows, methods=("POST",), kind="sim",
        endpoint="sim:put_rows")  # fmt: skip
    add("/_sim/dataextensions/<path:key>/fields/<name>", delete_field, methods=("DELETE",),
        kind="sim")  # fmt: skip
    add("/_sim/dataextensions/<path:key>", get_de, kind="sim")
    add("/_sim/dataextensions/<path:key>", delete_de, methods=("DELETE",), kind="sim",
        endpoint="sim:delete_de")  # fmt: skip
    add("/_sim/folders", list_folders, kind="sim")
    add("/_sim/folders/<int:folder_id>", delete_folder, methods=("DELETE",), kind="sim")
    add("/_sim/faults", faults, methods=("GET", "POST"), kind="sim")
    add("/_sim/reset", reset, methods=("POST",), kind="sim")
    add("/_sim/stats", stats, kind="sim")
    add("/_sim/log", log, kind="sim")
    add("/_sim/realism", realism, kind="sim")
