"""A dry run's plan is what the real run then does, for every method, key sets on disk or not."""

from __future__ import annotations

import pytest

from sync.keyset import KeySet
from tests.engine.test_push_e2e import de_key, people, run, table


def _audience() -> list[dict[str, str]]:
    """Rows 10-29 of `people`, with each kind of refusal and a changed row."""
    rows = people(20, start=10, tag="v2")
    rows[2]["email"] = "not-an-email"  # InvalidEmailAddress
    rows[4]["name"] = "x" * 25  # MaxLengthExceeded
    rows.append({"email": "USER13@example.org", "name": "dup", "city": "C"})  # DuplicateKey
    rows.append({"email": "", "name": "no key", "city": "C"})  # missing key
    return rows


def _plan_then_run(engine, sim, pathway_id: int) -> tuple[dict, dict]:
    """The dry run's plan, and the same figures counted from the real run and the DE."""
    key = de_key(engine, pathway_id)
    before = set(table(sim, key))
    dry, _ = run(engine, pathway_id, dry_run=True)
    assert dry.state == "succeeded", dry.error
    assert set(table(sim, key)) == before  # nothing written
    done, _ = run(engine, pathway_id)
    assert done.state == "succeeded", done.error
    after = set(table(sim, key))
    created = len(after - before)
    plan = {k: dry.plan[k] for k in ("create", "update", "delete", "reject")}
    plan["skip"] = dry.plan["skip"] + dry.plan["unchanged"]
    real = {
        "create": created,
        "update": done.rows_succeeded - created,
        "delete": done.rows_deleted,
        "reject": done.rows_failed,
        "skip": done.rows_skipped,
    }
    return plan, real


@pytest.mark.parametrize("spill_at", [4, 65_536])
@pytest.mark.parametrize("method", ["upsert", "append", "update_only", "mirror"])
def test_dry_run_plan_is_what_the_run_does(
    engine, sim, make_pathway, monkeypatch, method, spill_at
):
    monkeypatch.setattr(KeySet.__init__, "__kwdefaults__", {"spill_at": spill_at})
    seed = make_pathway(people(20))
    run(engine, seed)
    key = de_key(engine, seed)
    pid = make_pathway(_audience(), method=method, key=key, guard=0.9)
    plan, real = _plan_then_run(engine, sim, pid)
    assert plan == real
    first = {"create": 10, "update": 8, "delete": 11, "reject": 4, "skip": 0}  # user12 lost its key
    if method == "append":
        first |= {"update": 0, "skip": 8}
    if method == "update_only":
        first |= {"create": 0, "reject": 14}  # the 10 new keys are NotFound
    if method != "mirror":
        first["delete"] = 0
    assert plan == first
    # Again, nothing changed: the ledger's rows count as unchanged, and the plan still holds.
    plan, real = _plan_then_run(engine, sim, pid)
    assert plan == real
    assert plan["create"] == plan["update"] == plan["delete"] == 0
