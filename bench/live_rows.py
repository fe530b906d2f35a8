"""The rows of `python -m bench live` (v1, v2) and the row-by-row check of the simulator.

v2 changes 5% of the rows, removes 2%, adds 2% and moves 1% out of the audience; the check
compares each pathway kind's state in the simulator with what v2 must have left there.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.common import SimProcess

COLUMNS = ("id", "n", "email", "first_name", "tier", "total")
FLAG = "Is Donor"


# ------------------------------------------------------------------------------ the rows


def out_v1(i: int) -> bool:
    return i % 20 == 19  # outside the audience from the start (5%)


def changed(i: int) -> bool:
    return i % 20 == 0  # 5%: new e-mail and first name


def removed(i: int) -> bool:
    return i % 50 == 1  # 2%


def moved(i: int) -> bool:
    return i % 100 == 2  # 1%: tier changes to "out"


def row(i: int, prefix: str, *, v2: bool) -> dict[str, str]:
    new = v2 and changed(i)
    out = out_v1(i) or (v2 and moved(i))
    return {
        "id": f"{prefix}{i}",
        "n": str(i),
        "email": f"donor{i}.v2@example.org" if new else f"donor{i}@example.org",
        "first_name": f"New {i}" if new else f"Pat {i}",
        "tier": "out" if out else "in",
        "total": f"{(i % 1000) * 1.25:.2f}",
    }


def added(rows: int) -> range:
    return range(rows, rows + rows // 50)


def rows_of(rows: int, prefix: str, *, v2: bool) -> Iterator[dict[str, str]]:
    for i in range(rows):
        if not (v2 and removed(i)):
            yield row(i, prefix, v2=v2)
    if v2:
        for i in added(rows):
            yield row(i, prefix, v2=True)


def exists(i: int, rows: int, *, v2: bool) -> bool:
    if i < rows:
        return not (v2 and removed(i))
    return v2 and i < added(rows).stop


def member(i: int, rows: int, *, v2: bool) -> bool:
    """Whether row `i` is in the audience (tier = in) in that version."""
    return exists(i, rows, v2=v2) and row(i, "", v2=v2)["tier"] == "in"


def ever(i: int, rows: int) -> bool:
    return member(i, rows, v2=False) or member(i, rows, v2=True)


def write_csv(path: Path, rows: int, prefix: str, *, v2: bool) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows_of(rows, prefix, v2=v2))


def expected_changes(rows: int) -> dict[str, int]:
    """What each pathway's second run must send (and delete) after v2."""
    joiners = changed_members = leavers = 0
    for i in range(added(rows).stop):
        before, after = member(i, rows, v2=False), member(i, rows, v2=True)
        joiners += after and not before
        changed_members += before and after and changed(i)
        leavers += before and not after
    return {
        "data_extension_mirror": joiners + changed_members + leavers,
        "membership_flag": joiners + changed_members + leavers,
        "journey_event": joiners,
    }


# ------------------------------------------------------------------------------ comparison


def _index(key: str | None) -> int:
    try:
        return int((key or "")[1:])
    except ValueError:
        return -1


def compare_all(
    sim: SimProcess, pathways: dict[str, tuple[int, str]], rows: int, examples: list[str]
) -> int:
    """Rows of the simulator that differ from what v2 must have left there (all three kinds)."""
    size = added(rows).stop
    bad = 0

    def note(text: str) -> None:
        nonlocal bad
        bad += 1
        if len(examples) < 5:
            examples.append(text)

    seen = bytearray(size)
    for item in sim.iter_rows(pathways["data_extension_mirror"][1]):
        i = _index(item.get("Id"))
        want = row(i, "", v2=True) if 0 <= i < size and member(i, rows, v2=True) else None
        if want is None or seen[i]:
            note(f"mirror: unexpected row {item}")
            continue
        seen[i] = 1
        if (item.get("Email"), item.get("FirstName")) != (want["email"], want["first_name"]):
            note(f"mirror: row {i} differs: {item}")
    _missing(seen, lambda i: member(i, rows, v2=True), "mirror", note)
    seen = bytearray(size)
    for item in sim.iter_rows(pathways["membership_flag"][1]):
        i = _index(item.get("ContactKey"))
        was = 0 <= i < size and ever(i, rows)
        if not was or seen[i]:
            note(f"flag: unexpected row {item}")
            continue
        seen[i] = 1
        now = member(i, rows, v2=True)
        email = row(i, "", v2=now)["email"]
        if (item.get(FLAG), item.get("Email")) != ("True" if now else "False", email):
            note(f"flag: row {i} differs: {item}")
    _missing(seen, lambda i: ever(i, rows), "flag", note)
    seen = bytearray(size)
    key = pathways["journey_event"][1]
    events = sim.http.get(
        f"{sim.base_url}/_sim/events", params={"eventDefinitionKey": key}, timeout=600
    ).json()["items"]
    for event in events:
        i = _index(event.get("contactKey"))
        if not (0 <= i < size and ever(i, rows)) or seen[i]:
            note(f"journey: unexpected entry {event.get('contactKey')}")
            continue
        seen[i] = 1
    _missing(
        seen,
        lambda i: ever(i, rows),
        "journey",
        note,
    )
    return bad


def _missing(
    seen: bytearray, wanted: Callable[[int], bool], what: str, note: Callable[[str], None]
) -> None:
    for i, got in enumerate(seen):
        if not got and wanted(i):
            note(f"{what}: row {i} is missing")
