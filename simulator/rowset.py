"""Hub rowset upsert (`POST /hub/v1/dataevents/.../rowset`) and REST rowset reads.

The hub rowset is synchronous and NOT all-or-nothing: rows before the first bad row are saved,
that row and every later one are not, and the whole request answers 400/10006 (§3a).
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from itertools import islice
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Response

from simulator.rest_async import resolve_de
from simulator.routing import Call, json_response, rest_error
from simulator.state import SimDE, now_utc

if TYPE_CHECKING:
    from simulator.routing import Router

MAX_BYTES = 5_000_000  # 5 MB request limit (§3a)
MAX_PAGE_SIZE = 2_500  # [I]
_FILTER_RE = re.compile(r"^\s*(\w+)\s+eq\s+'((?:[^']|'')*)'\s*$", re.I)


def _aggregate(de: SimDE, messages: list[str]) -> Response:
    body = {
        "message": f"Unable to save rows for data extension ID {de.object_id}",
        "errorcode": 10006,
        "documentation": "",
        "additionalErrors": [
            {"message": m, "errorcode": 10000, "documentation": ""} for m in messages
        ],
    }
    return json_response(body, status=400)


def _save(de: SimDE, row: Any) -> Response | None:
    """Save one `{keys, values}` element; the error response if it is bad."""
    if not isinstance(row, dict) or not isinstance(row.get("keys", {}), dict):
        return rest_error(400, "Each element must be an object {keys: {...}, values: {...}}.", 10000,
                          documentation="")  # fmt: skip
    keys, values = row.get("keys") or {}, row.get("values") or {}
    if not isinstance(values, dict):
        return rest_error(
            400, "values must be an object of column: value.", 10000, documentation=""
        )
    pk_names = {de.fields[i].name.casefold() for i in de.pk_indexes}
    for name in keys:
        if str(name).casefold() not in pk_names:
            return rest_error(400, f"Primary key '{name}' does not exist.", 10000, documentation="")
    if not any(de.index_of(str(n)) is not None for n in values):
        return _aggregate(de, ["At least one existing field is required in the values property"])
    problem = de.save_row({**values, **keys}, mode="upsert")
    if problem is None:
        return None
    if problem.violations:
        return _aggregate(de, [v.rowset_message for v in problem.violations])
    return rest_error(400, problem.message or "Unable to save the row.", 10000, documentation="")


def upsert_rowset(call: Call) -> Response:
    data = call.request.get_data()
    if len(data) > MAX_BYTES:
        return rest_error(
            413,
            f"The request body is {len(data):,} bytes; the rowset limit is 5 MB. Send fewer rows.",
            10000,
        )
    body = call.json()
    if not isinstance(body, list):
        return rest_error(400, "The body must be a JSON array of {keys, values} objects.", 10000)
    call.sleep_ms(len(body) * call.sim.config.rowset_ms_per_row)
    tenant = call.tenant
    with tenant.lock:
        tenant.settle()
        de, obj_id, key = resolve_de(tenant, call.args["ref"])
        if de is None:
            if obj_id:
                return rest_error(400, f"Parameter {obj_id} is invalid.", 10001, documentation="")
            return rest_error(
                400, f"Data Extension with key '{key}' was not found.", 10000, documentation=""
            )
        saved = 0
        for row in body:
            failure = _save(de, row)
            if failure is not None:
                call.sim.stats.rows(received=len(body), processed=saved)
                return failure  # earlier rows stay saved: SFMC commits up to the first bad row
            saved += 1
    call.sim.stats.rows(received=len(body), processed=saved)
    return json_response(body)


def _page_args(call: Call) -> tuple[int, int] | Response:
    args = call.request.args
    try:
        page = max(1, int(args.get("$page", 1)))
        size = int(args.get("$pageSize", args.get("$pagesize", MAX_PAGE_SIZE)))
    except ValueError:
        return rest_error(400, "$page and $pageSize must be integers.", 10003)
    return page, min(max(1, size), MAX_PAGE_SIZE)


def _token_expiry() -> str:
    """When a rowset request token stops working, as SFMC shows it (zone-less UTC) [C: MCDEV].

    The 20-minute life is [I]; the simulator keeps request tokens until a reset.
    """
    return (now_utc() + timedelta(minutes=20)).isoformat(timespec="seconds")


def _rowset_page(call: Call, de: SimDE, token: str) -> Response:
    paging = _page_args(call)
    if isinstance(paging, Response):
        return paging
    page, size = paging
    start = (page - 1) * size
    flt = call.request.args.get("$filter")
    if not flt:  # page through the dict without copying the whole DE for every page
        count = len(de.rows)
        rows = list(islice(de.rows.values(), start, start + size))
        start = 0
    else:
        match = _FILTER_RE.match(flt)
        idx = None if match is None else de.index_of(match.group(1))
        if match is None or idx is None:
            return rest_error(
                400,
                f"Request parameter $filter could not be resolved: {flt!r}. Use col eq 'value'.",
                10003,
            )
        wanted = match.group(2).replace("''", "'").casefold()
        rows = [r for r in de.rows.values() if (r[idx] or "").casefold() == wanted]
        count = len(rows)
    pks = set(de.pk_indexes)
    names = [f.name.lower() for f in de.fields]
    keys = [(i, n) for i, n in enumerate(names) if i in pks]
    values = [(i, n) for i, n in enumerate(names) if i not in pks]
    items = [
        {"keys": {n: r[i] or "" for i, n in keys}, "values": {n: r[i] or "" for i, n in values}}
        for r in rows[start : start + size]
    ]
    links = {"self": f"/v1/customobjectdata/token/{token}/rowset?$page={page}"}
    if page * size < count:
        links["next"] = f"/v1/customobjectdata/token/{token}/rowset?$page={page + 1}"
    body: dict[str, Any] = {
        "links": links, "requestToken": token, "tokenExpireDateUtc": _token_expiry(),
        "customObjectId": de.object_id, "customObjectKey": de.customer_key,
        "pageSize": size, "page": page, "count": count, "top": 0,
    }  # fmt: skip
    if items:
        body["items"] = items  # an empty DE has no items property (§6)
    return json_response(body)


def get_rowset(call: Call) -> Response:
    tenant = call.tenant
    with tenant.lock:
        tenant.settle()
        ref = call.args["ref"]
        de = tenant.get_de(ref)
        if de is None:
            return rest_error(400, f"Data Extension '{ref}' was not found.", 10000)
        token = uuid.uuid4().hex
        tenant.rowset_tokens[token] = de.customer_key
        return _rowset_page(call, de, token)


def get_rowset_by_token(call: Call) -> Response:
    tenant = call.tenant
    with tenant.lock:
        tenant.settle()
        key = tenant.rowset_tokens.get(call.args["token"])
        de = None if key is None else tenant.get_de(key)
        if de is None:
            return rest_error(400, "The request token is unknown or expired; start again.", 10000)
        return _rowset_page(call, de, call.args["token"])


def register(router: Router) -> None:
    """Add the hub rowset and rowset read routes."""
    router.add("/hub/v1/dataevents/<path:ref>/rowset", upsert_rowset, methods=("POST",),
               scope="data_extensions_write", scope_status=401, endpoint="POST hub rowset")  # fmt: skip
    read = "data_extensions_read"
    router.add("/data/v1/customobjectdata/key/<path:ref>/rowset", get_rowset, scope=read,
               endpoint="GET rowset")  # fmt: skip
    router.add("/data/v1/customobjectdata/token/<token>/rowset", get_rowset_by_token, scope=read,
               endpoint="GET rowset token")  # fmt: skip
