"""Row identity is exact: keys are compared as strings, row hashes never join two rows alike.

The engine once keyed the DE's keys, Mirror's audience keys and membership leavers by Python's
`hash()` of the key string, so two keys whose hashes collide were one row: Append skipped a new
row, Mirror kept a stale one, a leaver was never flagged. The tests force every `hash()` call to
collide (`builtins.hash` patched; dicts and sets use the type's hash slot, not this name) and
check that nothing is lost.
"""

from __future__ import annotations

import builtins
import hashlib

import pytest

from sfmc.errors import SfmcAuthError, SfmcRetriableError
from sfmc.types import DeField
from sync.keyset import KeySet
from sync.mapping import FieldMap, RowHasher, key_string
from sync.membership import _leavers
from sync.plan import audience_keys, stale_keys
from sync.preflight import Preflight
from sync.types import RunError, RunIO, SetupError

EMAIL = DeField("Email", "EmailAddress", 254, is_primary_key=True, is_required=True)
KEY_MAP = FieldMap("email", "Email", "EmailAddress", 254, is_primary_key=True)


def remote_keys(*emails: str, spill_at: int) -> KeySet:
    """The DE's keys as `read_remote_keys` keeps them (key string -> stored values)."""
    remote = KeySet(spill_at=spill_at)
    remote.add_many((key_string({"Email": e}, [EMAIL]), [e]) for e in emails)
    return remote


@pytest.fixture
def colliding_hash(monkeypatch):
    """Every explicit `hash()` call returns 0: the old scheme saw one key where there are many."""
    monkeypatch.setattr(builtins, "hash", lambda _value: 0)


def test_remote_keys_keep_every_key_when_hashes_collide(colliding_hash):
    for spill_at in (100, 1):  # in memory, on disk
        remote = remote_keys("a@x.org", "B@x.org", "c@x.org", spill_at=spill_at)
        assert len(remote) == 3
        assert remote.lookup(["a@x.org", "b@x.org", "c@x.org", "d@x.org"]) == {
            "a@x.org": ["a@x.org"],
            "b@x.org": ["B@x.org"],
            "c@x.org": ["c@x.org"],
        }


def test_mirror_deletes_exactly_the_keys_the_audience_lacks_when_hashes_collide(colliding_hash):
    rows = [{"_row": 1, "email": "A@x.org"}, {"_row": 2, "email": "c@x.org"}]
    io = RunIO(lambda after: [rows] if after == 0 else [])
    audience = audience_keys(io, [KEY_MAP], Preflight([EMAIL], ["Email"]), method="mirror")
    assert audience is not None
    assert sorted(k for page in audience.iter_items() for k, _ in page) == ["a@x.org", "c@x.org"]
    for spill_at in (100, 1):  # in memory, on disk
        remote = remote_keys("a@x.org", "b@x.org", "c@x.org", spill_at=spill_at)
        stale = stale_keys(remote, audience)
        assert [item for page in stale.iter_items() for item in page] == [("b@x.org", ["b@x.org"])]


def test_membership_leavers_are_exact_when_hashes_collide(colliding_hash):
    audience = [[{"_row": 1, "email": "stays@x.org"}]]
    ledger = ["stays@x.org", "left@x.org", ""]
    assert _leavers(audience, ledger, EMAIL, KEY_MAP) == ["left@x.org"]


def test_row_hash_tells_apart_rows_whose_values_hold_the_separator():
    hasher = RowHasher(["A", "B"])
    one, _ = hasher({"A": "a\x1fb", "B": "c"})
    two, _ = hasher({"A": "a", "B": "b\x1fc"})
    assert one != two
    # Rows without the separator keep the digest the ledger already holds.
    plain, size = hasher({"A": "a", "B": "b"})
    expected = hashlib.blake2b(b"A\x1fB", digest_size=12)
    expected.update(b"a\x1fb")
    assert plain == expected.hexdigest()
    assert size == len(b"a\x1fb") + hasher.overhead


def test_composite_keys_stay_exact_when_a_part_holds_the_separator():
    fields = [DeField("Id", "Text", 50, is_primary_key=True), DeField("Code", "Text", 50)]
    one = key_string({"Id": "a\x1fb", "Code": "c"}, fields)
    two = key_string({"Id": "a", "Code": "b\x1fc"}, fields)
    three = key_string({"Id": "a\x1e1b", "Code": "c"}, fields)
    assert len({one, two, three}) == 3
    assert key_string({"Id": "A", "Code": "b"}, fields) == "a\x1fb"  # the usual key: unchanged


def test_run_error_keeps_the_kind_and_facts_of_each_error_class():
    setup = SetupError("Pick a folder.", kind="folder_missing", detail={"category_id": 7})
    error = RunError.from_exception(setup)
    assert (error.kind, error.message) == ("folder_missing", "Pick a folder.")
    assert error.detail["category_id"] == 7
    assert error.detail["error_class"] == "SetupError"
    scope = RunError.from_exception(SfmcAuthError("No scope.", operation="x", kind="scope"))
    assert (scope.kind, scope.detail["operation"]) == ("scope", "x")
    busy = RunError.from_exception(SfmcRetriableError("Busy.", status=503))
    assert (busy.kind, busy.detail["status"]) == ("retriable", 503)
    assert RunError.from_exception(LookupError("gone")).kind == "missing"
    bug = RunError.from_exception(ZeroDivisionError("division by zero"))
    assert (bug.kind, bug.message) == ("internal", "ZeroDivisionError: division by zero")
