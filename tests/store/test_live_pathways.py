"""Pathways follow a refreshed data set (issue 14, item 4), on a real simulator over HTTP.

One data set, one audience, three pathways (a Data Extension with Mirror, a membership flag, a
journey entry event). After a refresh with changed, removed, added rows and one row moved out of
the audience, each run sends only what changed: Mirror deletes the leavers, flags turn false
for leavers and true for joiners, only new members enter the journey, and each run records
"+N new · N changed · N left".
"""

from __future__ import annotations

import pytest
from sqlmodel import Session

from sfmc.types import DeField
from simulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from simulator.state import SimDE
from store.audiences import create_audience
from store.connections import create_connection
from store.importer import import_file
from store.pathways import create_pathway, set_mapping
from store.refresh import refresh_dataset
from tests.destinations.conftest import WELCOME, inspect, run, sim  # noqa: F401
from tests.engine.conftest import csv_bytes

KEY = {
    "source_column": "id",
    "destination_field": "ContactKey",
    "field_type": "Text",
    "length": 254,
    "is_primary_key": True,
    "required": True,
}
EMAIL = {"source_column": "email", "destination_field": "Email", "field_type": "EmailAddress"}


@pytest.fixture(autouse=True)
def _demo(monkeypatch):
    monkeypatch.setenv("PATHWAYS_DEMO", "1")  # the simulator runs on this machine


def donors(n: int) -> list[dict[str, str]]:
    return [
        {
            "id": f"D-{i:03d}",
            "email": f"d{i}@example.org",
            "first": f"Pat{i}",
            "tier": "out" if i % 10 == 9 else "in",
        }
        for i in range(n)
    ]


def setup(engine, running, rows) -> tuple[int, dict[str, int]]:
    shared = SimDE(
        "shared_supporters",
        "Shared Supporters",
        running.state.root_folder_id,
        [
            DeField("ContactKey", "Text", 254, is_primary_key=True, is_required=True),
            DeField("Email", "EmailAddress", 254),
        ],
    )
    with running.state.lock:
        running.state.add_de(shared)
    rep = import_file(engine, csv_bytes(rows), name="donors", filename="v1.csv")
    kinds = {
        "data_extension": ("live_mirror", {}, [KEY, EMAIL], "mirror"),
        "membership_flag": (
            "shared_supporters",
            {"flag_field": "Is Donor"},
            [KEY, EMAIL],
            "upsert",
        ),
        "journey_event": (
            "",
            {"event_definition_key": WELCOME},
            [
                KEY,
                {**EMAIL, "destination_field": "EmailAddress"},
                {"source_column": "first", "destination_field": "FirstName"},
            ],
            "upsert",
        ),
    }
    ids = {}
    with Session(engine) as s:
        aud = create_audience(
            "Donors in",
            rep.dataset_id,
            [{"column": "tier", "op": "equals", "value": "in"}],
            session=s,
        )
        conn = create_connection(
            "sim", running.auth_uri, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, session=s
        )
        for kind, (de_key, options, mapping, method) in kinds.items():
            p = create_pathway(
                aud.id,
                conn.id,
                f"Live {kind}",
                de_key,
                session=s,
                destination_kind=kind,
                options=options,
                method=method,
                category_id=running.state.root_folder_id if kind == "data_extension" else None,
            )
            set_mapping(p.id, [{"ordinal": i, **m} for i, m in enumerate(mapping)], session=s)
            ids[kind] = p.id
    return rep.dataset_id, ids


def test_runs_after_a_refresh_send_only_the_changes(engine, sim):  # noqa: F811
    rows = donors(40)
    _, ids = setup(engine, sim, rows)
    first = {kind: run(engine, pid)[0] for kind, pid in ids.items()}
    assert all(r.state == "succeeded" for r in first.values()), [r.error for r in first.values()]
    members = [r for r in rows if r["tier"] == "in"]
    assert first["data_extension"].rows_new == len(members) == 36
    assert first["journey_event"].rows_new == 36

    v2 = [dict(r) for r in rows]
    for r in v2[:3]:
        r["email"] = r["email"].replace("@", "+new@")  # 3 changed members
    v2[4]["tier"] = "out"  # 1 moved out of the audience
    del v2[5:7]  # 2 removed
    v2 += donors(42)[40:]  # 2 added
    rep = refresh_dataset(engine, "donors", csv_bytes(v2), filename="v2.csv", keys=["id"])
    assert (rep.rows_added, rep.rows_changed, rep.rows_removed) == (2, 4, 2)

    again = {kind: run(engine, pid)[0] for kind, pid in ids.items()}
    assert all(r.state == "succeeded" for r in again.values()), [r.error for r in again.values()]
    now = {r["id"]: r for r in v2 if r["tier"] == "in"}

    mirror = again["data_extension"]
    assert (mirror.rows_new, mirror.rows_changed, mirror.rows_left) == (2, 3, 3)
    assert mirror.rows_sent == 5
    de = {
        r["ContactKey"]: r["Email"]
        for r in inspect(sim, "dataextensions/live_mirror/rows")["items"]
    }
    assert de == {k: r["email"] for k, r in now.items()}

    flag = again["membership_flag"]
    assert (flag.rows_new, flag.rows_changed, flag.rows_left) == (2, 3, 3)
    shared = {
        r["ContactKey"]: r["Is Donor"]
        for r in inspect(sim, "dataextensions/shared_supporters/rows")["items"]
    }
    assert {k for k, v in shared.items() if v == "True"} == set(now)
    assert {k for k, v in shared.items() if v == "False"} == {"D-004", "D-005", "D-006"}

    journey = again["journey_event"]
    assert (journey.rows_new, journey.rows_changed, journey.rows_left) == (2, 0, 0)
    entered = [
        e["contactKey"] for e in inspect(sim, f"events?eventDefinitionKey={WELCOME}")["items"]
    ]
    assert entered[36:] == ["D-040", "D-041"]
    assert len(entered) == 38
