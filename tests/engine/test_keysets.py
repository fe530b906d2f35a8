"""Per-row key state whose memory stays flat: exact on disk, and the DE's keys read by parallel pages.

A run of millions of rows keeps its keys (duplicate check, the audience for Mirror, the DE's keys)
in `sync.keyset.KeySet`, which moves to a SQLite file past a few thousand keys. These tests force
the move early (`spill_at`) and check that nothing changes: duplicates, lookups, values, pages.
"""

from __future__ import annotations

import requests

from sfmc.client import SfmcClient
from sfmc.config import SfmcCredentials
from sfmc.types import DataExtension, DeField
from simulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from sync import plan
from sync.keyset import KeySet
from sync.preflight import Preflight
from tests.engine.conftest import ROOT_FOLDER

EMAIL = DeField("Email", "EmailAddress", 254, is_primary_key=True, is_required=True)


def test_a_key_set_answers_the_same_in_memory_and_on_disk():
    small, spilled = KeySet(), KeySet(spill_at=3)
    keys = ["a", "b", "b", "\udcff lone surrogate", "é", "a", "c", "d"]
    assert [small.add(k) for k in keys] == [spilled.add(k) for k in keys]
    assert not small.on_disk
    assert spilled.on_disk
    assert len(small) == len(spilled) == 6
    probe = ["a", "z", "\udcff lone surrogate", "E\u0301"]
    assert small.lookup(probe) == spilled.lookup(probe) == {"a": [], "\udcff lone surrogate": []}
    assert "é" in spilled
    assert "x" not in spilled
    spilled.close()
    assert len(spilled) == 0
    assert not spilled.on_disk


def test_values_survive_the_move_to_disk_and_the_first_value_wins():
    keys = KeySet(spill_at=2)
    keys.add_many([("k1", ["K1"]), ("k2", ["K2", "x"])])
    keys.add_many([("k1", ["other"]), ("k3", ["K3"])])
    assert keys.on_disk
    assert len(keys) == 3
    assert keys.lookup(["k1", "k3"]) == {"k1": ["K1"], "k3": ["K3"]}
    pages = list(keys.iter_items(page=2))
    assert [len(p) for p in pages] == [2, 1]
    assert sorted(item for page in pages for item in page) == [
        ("k1", ["K1"]),
        ("k2", ["K2", "x"]),
        ("k3", ["K3"]),
    ]


def test_preflight_finds_duplicates_after_its_keys_moved_to_disk(monkeypatch):
    monkeypatch.setattr("sync.keyset.SPILL_AT", 2)
    pf = Preflight([EMAIL], ["Email"])
    monkeypatch.setattr(pf, "seen", KeySet(spill_at=2))
    rows = [{"Email": f"d{i}@x.org"} for i in range(5)] + [{"Email": "D3@X.org"}]
    outcomes = [pf.check(r) for r in rows]
    assert pf.seen.on_disk
    assert [o and o.error_type for o in outcomes] == [None] * 5 + ["DuplicateKey"]


def test_the_des_keys_are_read_by_independent_rowset_pages_in_parallel(sim):
    client = SfmcClient(
        credentials=SfmcCredentials(sim.auth_uri, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
        allow_local=True,
    )
    key = "keys-by-pages"
    client.create_data_extension(
        DataExtension(name=key, customer_key=key, category_id=ROOT_FOLDER, fields=(EMAIL,))
    )
    emails = [f"Donor{i}@Example.org" if i % 3 else f"donor{i}@example.org" for i in range(6_001)]
    requests.post(
        f"{sim.base_url}/_sim/dataextensions/{key}/rows",
        json={"items": [{"Email": e} for e in emails]},
        timeout=30,
    ).raise_for_status()
    before = client.api_calls
    remote = plan.read_remote_keys(client, key, [EMAIL])
    assert client.api_calls - before == 3  # 2,500 rows per page: pages 2 and 3 by token
    assert len(remote) == len(emails)
    found = remote.lookup(["donor1@example.org", "donor3@example.org", "nobody@example.org"])
    # Keys compare ignoring case; the values kept are the DE's own (what a delete must name).
    assert found == {
        "donor1@example.org": ["Donor1@Example.org"],
        "donor3@example.org": ["donor3@example.org"],
    }
    remote.close()


def test_a_chunk_claims_its_keys_at_once_like_row_by_row_checks():
    rows = ["a", "b", "", "A2", "b", "c", "", "a", "d", "c"]
    by_row, by_chunk = KeySet(spill_at=2), KeySet(spill_at=2)
    one_by_one = [bool(k) and not by_row.add(k) for k in rows[:5]]
    one_by_one += [bool(k) and not by_row.add(k) for k in rows[5:]]
    pf = Preflight([EMAIL], ["Email"])
    pf.seen = by_chunk
    assert pf.claim(rows[:5]) + pf.claim(rows[5:]) == one_by_one
    assert one_by_one == [False, False, False, False, True, False, False, True, False, True]
    assert by_chunk.on_disk
