"""Chaos scenarios of the realistic tenant (`python -m bench chaos --profile realistic`).

Each scenario turns one real-tenant behaviour of the simulator up (`simulator.realism`) and runs
pathways through it end to end, then compares the Data Extension row by row (`bench.chaos`):
lost = duplicated = mismatched = 0, plus the scenario's own check that the behaviour happened
(the simulator's event log, `GET /_sim/log`) and was handled (a row that landed is not counted
failed, dates land in CST, a shared folder is used with the parent's Client/ID...).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import requests

from bench.chaos import Lab, Scale, ScenarioResult, _options, _sim_config, realism

CST = timezone(timedelta(hours=-6))  # SFMC's server time, all year


def _log(lab: Lab, kind: str) -> int:
    return int(lab.get("/_sim/log")["counts"].get(kind, 0))


def _rejected_valid(lab: Lab, run_ids: list[int]) -> int:
    """Valid audience rows the runs rejected (a written row counted failed shows up here)."""
    return len(lab.rejected_keys(run_ids) - lab.expected.invalid)


def scenario_deadlock_append(scale: Scale) -> ScenarioResult:
    """Append with jobs crowding one DE: deadlocks whose 'failed' rows partly landed."""
    started = time.monotonic()
    tenant = realism(deadlock_concurrency=2, deadlock_share=0.3, deadlock_landed=0.5)
    with Lab(rows=scale.rows, sim_config=_sim_config(realism=tenant)) as lab:
        pid = lab.make_pathway(method="append")
        done = lab.run(pid, options=_options(scale, batch_rows=max(50, scale.rows // 10)))
        deadlocks, wrong = _log(lab, "deadlock"), _rejected_valid(lab, [done.id])
        note = f"{deadlocks} deadlocked jobs; valid rows counted failed: {wrong}"
        return lab.result("deadlock_append", [done.id], started, ok=deadlocks > 0 and not wrong,
                          note=note)  # fmt: skip


def scenario_transient_error(scale: Scale) -> ScenarioResult:
    """Half the jobs read requestStatus "Error" for a while, then complete."""
    started = time.monotonic()
    tenant = realism(transient_error_rate=0.5, deadlock_concurrency=0)
    with Lab(rows=scale.rows, sim_config=_sim_config(realism=tenant)) as lab:
        pid = lab.make_pathway(method="append")
        done = lab.run(pid, options=_options(scale))
        transient, wrong = _log(lab, "transient_error"), _rejected_valid(lab, [done.id])
        note = f"{transient} transient errors; valid rows counted failed: {wrong}"
        return lab.result("transient_error", [done.id], started, ok=transient > 0 and not wrong,
                          note=note)  # fmt: skip


def scenario_queue_wait(scale: Scale) -> ScenarioResult:
    """Every job waits minutes (fast: seconds) in SFMC's queue: waiting, not failing, few polls."""
    started = time.monotonic()
    wait = scale.t(90, 3)
    tenant = realism(pickup_long_rate=1.0, pickup_long_min_s=wait, pickup_long_max_s=wait,
                     transient_error_rate=0, deadlock_concurrency=0)  # fmt: skip
    with Lab(rows=scale.rows, sim_config=_sim_config(realism=tenant)) as lab:
        pid = lab.make_pathway()
        notes: list[str] = []
        run_id, thread = lab.run_in_thread(pid, options=_options(scale, batch_rows=scale.rows))
        while thread.is_alive():
            notes.append(lab.run_row(run_id).message or "")
            thread.join(0.2)
        calls = lab.get("/_sim/stats")["by_endpoint"]
        polls, jobs = calls.get("GET async status", 0), calls.get("PUT async rows", 0)
        queued = any(n.startswith("SFMC is queueing this job") for n in notes)
        note = (f"{wait:g} s queue wait; {polls} status polls for {jobs} jobs; progress said "
                f"queueing: {queued}")  # fmt: skip
        ok = queued and polls <= 25 * jobs  # backing off: not one poll every 0.05-0.3 s
        return lab.result("queue_wait", [run_id], started, ok=ok, note=note)


def scenario_paging_documented(scale: Scale) -> ScenarioResult:
    """Results paged as documented with a small page cap, on jobs with deadlocked rows."""
    started = time.monotonic()
    tenant = realism(results_paging="documented", results_page_max=7, deadlock_concurrency=1,
                     deadlock_share=0.5, deadlock_landed=0.0, transient_error_rate=0)  # fmt: skip
    with Lab(rows=scale.rows, sim_config=_sim_config(realism=tenant)) as lab:
        pid = lab.make_pathway()
        done = lab.run(pid, options=_options(scale, batch_rows=max(50, scale.rows // 6)))
        pages = lab.get("/_sim/stats")["by_endpoint"].get("GET async results", 0)
        note = f"{pages} result pages of at most 7 items; {_log(lab, 'deadlock')} deadlocks"
        return lab.result("paging_documented", [done.id], started, ok=pages > 2, note=note)


def scenario_token_throttling(scale: Scale) -> ScenarioResult:
    """The token endpoint allows one request a minute: three runs share one token."""
    started = time.monotonic()
    tenant = realism(token_limit=1, token_window_s=60.0)
    with Lab(rows=scale.rows, sim_config=_sim_config(realism=tenant)) as lab:
        pid = lab.make_pathway()
        runs = [lab.run(pid, full=True, options=_options(scale)) for _ in range(3)]
        issued = lab.get("/_sim/stats")["by_endpoint"].get("POST /v2/token", 0)
        throttled = _log(lab, "token_throttled")
        note = f"3 runs, {issued} token request(s), {throttled} throttled"
        return lab.result("token_throttling", [r.id for r in runs], started,
                          ok=issued == 1 and throttled == 0, note=note)  # fmt: skip


def scenario_business_unit_shared_folder(scale: Scale) -> ScenarioResult:
    """The pathway's folder is the Enterprise's shared folder, seen from a child unit."""
    started = time.monotonic()
    with Lab(rows=scale.rows, sim_config=_sim_config(realism=realism(business_units=True))) as lab:
        shared = lab.sim.state.add_folder("Shared Data Extensions", 0,
                                          content_type="shared_dataextension")  # fmt: skip
        inner = lab.sim.state.add_folder("Donors", shared.id, content_type="shared_dataextension")
        pid = lab.make_pathway(category_id=inner.id)
        done = lab.run(pid, options=_options(scale))
        refused = _log(lab, "business_unit_refused")
        de = lab.get(f"/_sim/dataextensions/{lab.customer_key}")
        note = f"DE in folder {de.get('categoryId')} (shared {inner.id}); {refused} refusals"
        ok = refused == 0 and de.get("categoryId") == inner.id
        return lab.result("business_unit_shared_folder", [done.id], started, ok=ok, note=note)


def scenario_encoded_key(scale: Scale) -> ScenarioResult:
    """A user-picked DE key with a space, '#' and '/', on a tenant that needs encoded paths."""
    started = time.monotonic()
    with Lab(
        rows=scale.rows, sim_config=_sim_config(realism=realism(strict_key_paths=True))
    ) as lab:
        pid = lab.make_pathway()
        lab.update_pathway(pid, de_customer_key=f"odd key#{uuid.uuid4().hex[:4]}/x")
        done = lab.run(pid, options=_options(scale))
        unencoded = _log(lab, "unencoded_key")
        note = f"key {lab.customer_key!r}; {unencoded} unencoded paths"
        return lab.result("encoded_key", [done.id], started, ok=unencoded == 0, note=note)


def scenario_timezone_cst(scale: Scale) -> ScenarioResult:
    """Dates with Z or an offset land as SFMC's server time (CST, UTC-6) on a CST tenant."""
    started = time.monotonic()
    with Lab(rows=scale.rows, sim_config=_sim_config(realism=realism(date_zone="cst"))) as lab:
        zones = ("Z", "+02:00", "-05:30", "")
        for i, row in enumerate(lab.rows):  # imported with the audience by make_pathway
            row["joined"] = f"2024-05-{1 + i % 28:02d}T{i % 24:02d}:15:00{zones[i % 4]}"
        pid = lab.make_pathway()
        _map_date(lab, pid)
        done = lab.run(pid, options=_options(scale))
        stored = {str(r["Email"]).lower(): str(r.get("Joined") or "") for r in lab.de_rows()}
        sent = {r["email"].lower(): r["joined"] for r in lab.rows}
        off = sorted(k for k, v in stored.items() if not _same_instant_in_cst(sent[k], v))
        note = f"{len(stored)} dates compared, {len(off)} not in CST" + (
            f" (e.g. {off[0]}: sent {sent[off[0]]}, stored {stored[off[0]]})" if off else ""
        )
        return lab.result("timezone_cst", [done.id], started, ok=not off and bool(stored),
                          note=note)  # fmt: skip


def _map_date(lab: Lab, pathway_id: int) -> None:
    """Map the audience's `joined` column to a Date field of the DE."""
    from sqlmodel import Session

    from store.pathways import get_mapping, set_mapping

    with Session(lab.engine) as session:
        mapping = [*get_mapping(pathway_id, session=session)]
        joined = {"source_column": "joined", "destination_field": "Joined", "field_type": "Date"}
        set_mapping(pathway_id, [*mapping, joined], session=session)


def _same_instant_in_cst(sent: str, stored: str) -> bool:
    """Whether SFMC stored `sent` as the same instant in CST (zone-less: as given).

    SFMC reads dates back in its US form, `4/30/2024 6:15:00 PM`.
    """
    when = datetime.fromisoformat(sent)
    expected = (when.astimezone(CST) if when.tzinfo else when).replace(tzinfo=None)
    return bool(stored) and datetime.strptime(stored, "%m/%d/%Y %I:%M:%S %p") == expected


def scenario_journey_status(scale: Scale) -> ScenarioResult:
    """Journey batch members are processed seconds later: none may end the run still queued."""
    started = time.monotonic()
    tenant = realism(journey_processing_s=scale.t(5, 1))
    with Lab(rows=scale.rows, sim_config=_sim_config(realism=tenant, seed="demo")) as lab:
        pid = lab.make_pathway()
        _make_journey(lab, pid)
        done = lab.run(pid, options=_options(scale))
        events = requests.get(f"{lab.sim.base_url}/_sim/events", timeout=30)
        events.raise_for_status()
        statuses = [e.get("status") for e in events.json().get("items", [])]
        queued = statuses.count("queued")
        note = (f"{len(statuses)} members: {statuses.count('processed')} processed, "
                f"{statuses.count('errored')} errored, {queued} still queued at the end")  # fmt: skip
        ok = done.state == "succeeded" and not queued and bool(statuses)
        note += f"; run {done.state} {done.error or ''}"
        return _journey_result(lab, done, started, ok=ok, note=note)


def _make_journey(lab: Lab, pathway_id: int) -> None:
    from sqlmodel import Session

    from store.models import Pathway
    from store.pathways import set_mapping

    with Session(lab.engine) as session:
        pathway = session.get(Pathway, pathway_id)
        assert pathway is not None
        pathway.destination_kind = "journey_event"
        pathway.options = {"event_definition_key": "APIEvent-3f2a9c1e-77d0-4b5e-9c1a-0d9e2b7c4a11"}
        session.add(pathway)
        session.commit()
        set_mapping(pathway_id, [
            {"source_column": "email", "destination_field": "ContactKey", "field_type": "Text",
             "is_primary_key": True, "required": True, "ordinal": 0},
            {"source_column": "email", "destination_field": "EmailAddress",
             "field_type": "EmailAddress", "ordinal": 1},
            {"source_column": "name", "destination_field": "FirstName", "ordinal": 2},
        ], session=session)  # fmt: skip


def _journey_result(lab: Lab, done: Any, started: float, *, ok: bool, note: str) -> ScenarioResult:
    """A journey has no DE of its own: every valid member entered or was rejected with a reason."""
    resp = requests.get(f"{lab.sim.base_url}/_sim/events", timeout=30)
    entered = {str(e.get("contactKey", "")).lower() for e in resp.json().get("items", [])
               if e.get("status") == "processed"}  # fmt: skip
    rejected = lab.rejected_keys([done.id])
    lost = sum(1 for k in lab.expected.valid if k not in entered and k not in rejected)
    passed = ok and lost == 0 and done.state == "succeeded"
    return ScenarioResult("journey_status", lab.n_rows, len(entered), lost, 0, len(rejected),
                          passed, seconds=round(time.monotonic() - started, 1), note=note)  # fmt: skip


SCENARIOS: dict[str, Callable[[Scale], ScenarioResult]] = {
    "deadlock_append": scenario_deadlock_append,
    "transient_error": scenario_transient_error,
    "queue_wait": scenario_queue_wait,
    "paging_documented": scenario_paging_documented,
    "token_throttling": scenario_token_throttling,
    "business_unit_shared_folder": scenario_business_unit_shared_folder,
    "encoded_key": scenario_encoded_key,
    "timezone_cst": scenario_timezone_cst,
    "journey_status": scenario_journey_status,
}
