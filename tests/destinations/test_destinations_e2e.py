"""Each destination kind end to end: real simulator over HTTP, real SQLite store, row by row."""

from __future__ import annotations

from sqlmodel import Session, select

from sfmc.types import DeField
from simulator.state import SimDE
from store.audiences import update_audience
from store.models import RejectedRow
from tests.destinations.conftest import LIMITED, WELCOME, inspect, post_sim, run

KEY = {
    "source_column": "id",
    "destination_field": "ContactKey",
    "field_type": "Text",
    "length": 254,
    "is_primary_key": True,
    "required": True,
}


def donors(n: int) -> list[dict[str, str]]:
    groups = ["alpha", "beta", "both"]
    return [
        {
            "id": f"D-{i:03d}",
            "email": f"donor{i}@example.org",
            "first": f"Pat{i}",
            "grp": groups[i % 3],
            "html": "true",
            "amount": f"{10 * i}.50",
            "gift": f"2024-0{1 + i % 9}-15",
        }
        for i in range(n)
    ]


def rejected(engine, run_id: int) -> list[RejectedRow]:
    with Session(engine) as session:
        return list(session.exec(select(RejectedRow).where(RejectedRow.run_id == run_id)).all())


def set_filters(engine, audience_id: int, filters) -> None:
    with Session(engine) as session:
        update_audience(audience_id, filters=filters, session=session)


# ------------------------------------------------------------------------- membership flag


def shared_de(sim) -> None:
    de = SimDE(
        "shared_supporters",
        "Shared Supporters",
        sim.state.root_folder_id,
        [
            DeField("ContactKey", "Text", 254, is_primary_key=True, is_required=True),
            DeField("Email", "EmailAddress", 254),
        ],
    )
    de.save_row({"ContactKey": "D-999", "Email": "old@example.org"}, mode="upsert")
    with sim.state.lock:
        sim.state.add_de(de)


def test_membership_flags_share_one_de_and_leavers_turn_false(engine, sim, make_pathway):
    shared_de(sim)
    rows = donors(12)
    email = {"source_column": "email", "destination_field": "Email", "field_type": "EmailAddress"}
    a_filters = [{"column": "grp", "op": "in", "value": ["alpha", "both"]}]
    pa, aud_a = make_pathway(
        rows,
        kind="membership_flag",
        mapping=[KEY, email],
        options={"flag_field": "In Lapsed"},
        filters=a_filters,
        de_key="shared_supporters",
    )
    pb, _ = make_pathway(
        rows,
        kind="membership_flag",
        mapping=[KEY],
        options={"flag_field": "In Monthly"},
        filters=[{"column": "grp", "op": "in", "value": ["beta", "both"]}],
        de_key="shared_supporters",
    )
    first, _ = run(engine, pa)
    second, _ = run(engine, pb)
    assert (first.state, second.state) == ("succeeded", "succeeded"), (first.error, second.error)

    def table() -> dict[str, dict[str, str | None]]:
        got = inspect(sim, "dataextensions/shared_supporters/rows")["items"]
        return {r["ContactKey"]: r for r in got}

    def expected(in_a, in_b) -> dict[str, dict[str, str | None]]:
        out = {
            "D-999": {
                "ContactKey": "D-999",
                "Email": "old@example.org",
                "In Lapsed": "False",
                "In Monthly": "False",
            }
        }
        for i, r in enumerate(rows):
            if not (in_a(i) or in_b(i) or r["id"] in had_a):
                continue
            out[r["id"]] = {
                "ContactKey": r["id"],
                "Email": r["email"] if r["id"] in had_a else None,
                "In Lapsed": "True" if in_a(i) else "False",
                "In Monthly": "True" if in_b(i) else "False",
            }
        return out

    had_a = {r["id"] for i, r in enumerate(rows) if i % 3 != 1}
    assert table() == expected(lambda i: i % 3 != 1, lambda i: i % 3 != 0)
    assert first.rows_succeeded == 8

    # Two members leave audience A: flagged False, never deleted; unchanged members are skipped.
    set_filters(
        engine, aud_a, [*a_filters, {"column": "id", "op": "not_in", "value": ["D-000", "D-002"]}]
    )
    third, result = run(engine, pa)
    assert third.state == "succeeded", third.error
    assert table() == expected(lambda i: i % 3 != 1 and i not in (0, 2), lambda i: i % 3 != 0)
    assert result.plan["left"] == 2
    assert third.rows_sent == 2  # only the leavers: unchanged members are not re-sent

    # A member who comes back is flagged True again.
    set_filters(engine, aud_a, a_filters)
    fourth, _ = run(engine, pa)
    assert fourth.state == "succeeded", fourth.error
    assert table() == expected(lambda i: i % 3 != 1, lambda i: i % 3 != 0)


def test_membership_flag_needs_an_existing_shared_de(engine, sim, make_pathway):
    pid, _ = make_pathway(
        donors(3),
        kind="membership_flag",
        mapping=[KEY],
        options={"flag_field": "In X"},
        de_key="nope",
    )
    done, _ = run(engine, pid)
    assert done.state == "failed"
    assert "was not found" in done.error


# -------------------------------------------------------------------------------- contacts

CONTACT_MAP = [
    KEY,
    {
        "source_column": "email",
        "destination_field": "Email Addresses.Email Address",
        "field_type": "EmailAddress",
    },
    {
        "source_column": "html",
        "destination_field": "Email Addresses.HTML Enabled",
        "field_type": "Boolean",
    },
    {"source_column": "first", "destination_field": "Email Demographics.First Name"},
    {
        "source_column": "amount",
        "destination_field": "Donor Profile.Lifetime Giving",
        "field_type": "Decimal",
    },
    {
        "source_column": "gift",
        "destination_field": "Donor Profile.Last Gift Date",
        "field_type": "Date",
    },
]


def test_contacts_upserted_with_attribute_sets_and_bad_keys_rejected(engine, sim, make_pathway):
    rows = donors(9)
    rows[2]["id"] = "D:002"  # colon breaks keys
    rows[4]["id"] = "K" * 255  # longer than 254
    rows[6]["email"] = "not-an-email"
    pid, _ = make_pathway(rows, kind="contacts", mapping=CONTACT_MAP)
    done, _ = run(engine, pid)
    assert done.state == "succeeded", done.error
    got = {c["contactKey"]: c["attributeSets"] for c in inspect(sim, "contacts")["items"]}
    expected = {
        r["id"]: {
            "Email Addresses": {"Email Address": r["email"], "HTML Enabled": "True"},
            "Email Demographics": {"First Name": r["first"]},
            "Donor Profile": {
                "Lifetime Giving": r["amount"],
                "Last Gift Date": got.get(r["id"], {})
                .get("Donor Profile", {})
                .get("Last Gift Date"),
            },
        }
        for i, r in enumerate(rows)
        if i not in (2, 4, 6)
    }
    assert got == expected
    assert got["D-000"]["Donor Profile"]["Last Gift Date"] == "1/15/2024 12:00:00 AM"
    rej = {(r.row_values["id"][:6], r.error_type) for r in rejected(engine, done.id)}
    assert rej == {
        ("D:002", "ContactKeyInvalid"),
        ("KKKKKK", "ContactKeyInvalid"),
        ("D-006", "InvalidEmailAddress"),
    }
    assert (done.rows_succeeded, done.rows_failed) == (6, 3)

    # Re-sync: only the changed contact is sent.
    before = inspect(sim, "stats")
    done2, _ = run(engine, pid)
    assert done2.state == "succeeded", done2.error
    assert done2.rows_skipped == 6
    assert done2.rows_sent == 0
    assert before is not None


def test_contacts_refused_by_sfmc_land_in_rejected_rows(engine, sim, make_pathway):
    post_sim(sim, "contacts_journeys/faults", {"rejected_contacts": ["D-001"]})
    pid, _ = make_pathway(donors(3), kind="contacts", mapping=CONTACT_MAP)
    done, _ = run(engine, pid)
    assert done.state == "succeeded", done.error
    rej = rejected(engine, done.id)
    assert [(r.row_values["id"], r.error_type) for r in rej] == [("D-001", "InvalidValue")]
    assert sorted(c["contactKey"] for c in inspect(sim, "contacts")["items"]) == ["D-000", "D-002"]


def test_contacts_need_the_contacts_scopes(engine, sim, make_pathway):
    pid, _ = make_pathway(
        donors(2), kind="contacts", mapping=CONTACT_MAP, client=(LIMITED, "limited-secret")
    )
    done, _ = run(engine, pid)
    assert done.state == "failed"
    assert "list_and_subscribers_read" in done.error
    assert inspect(sim, "contacts")["count"] == 0


def test_contacts_unknown_attribute_fails_before_sending(engine, sim, make_pathway):
    mapping = [KEY, {"source_column": "first", "destination_field": "Email Demographics.Nickname"}]
    pid, _ = make_pathway(donors(2), kind="contacts", mapping=mapping)
    done, _ = run(engine, pid)
    assert done.state == "failed"
    assert "Email Demographics.Nickname" in done.error
    assert inspect(sim, "contacts")["count"] == 0


def test_contacts_incomplete_attribute_set_fails_before_sending(engine, sim, make_pathway):
    # "Email Addresses" needs "HTML Enabled" for new contacts: the wizard's rule, in the run too.
    pid, _ = make_pathway(donors(2), kind="contacts", mapping=CONTACT_MAP[:2])
    done, _ = run(engine, pid)
    assert done.state == "failed"
    assert done.error_kind == "contacts_mapping"
    assert done.error_detail["fields"] == ["HTML Enabled"]
    assert "Attribute set 'Email Addresses' also needs HTML Enabled" in done.error
    assert inspect(sim, "contacts")["count"] == 0


# --------------------------------------------------------------------------- journey events

EVENT_MAP = [
    KEY,
    {"source_column": "email", "destination_field": "EmailAddress", "field_type": "EmailAddress"},
    {"source_column": "first", "destination_field": "FirstName"},
]


def events(sim) -> list[dict]:
    return inspect(sim, f"events?eventDefinitionKey={WELCOME}")["items"]


def test_journey_events_only_for_new_members(engine, sim, make_pathway):
    rows = donors(12)
    first_filters = [{"column": "grp", "op": "in", "value": ["alpha", "beta"]}]
    pid, aud = make_pathway(
        rows,
        kind="journey_event",
        mapping=EVENT_MAP,
        options={"event_definition_key": WELCOME},
        filters=first_filters,
    )
    done, _ = run(engine, pid)
    assert done.state == "succeeded", done.error
    members = [r for i, r in enumerate(rows) if i % 3 != 2]
    got = [(e["contactKey"], e["data"], e["source"], e["status"]) for e in events(sim)]
    assert got == [
        (
            r["id"],
            {"ContactKey": r["id"], "EmailAddress": r["email"], "FirstName": r["first"]},
            "async",
            "processed",
        )
        for r in members
    ]
    de_rows = inspect(sim, "dataextensions/pathways_welcome_entry/rows")["items"]
    assert de_rows == [
        {
            "ContactKey": r["id"],
            "EmailAddress": r["email"],
            "FirstName": r["first"],
            "AudienceName": None,
        }
        for r in members
    ]

    # Everyone joins: only the 4 new members enter the journey.
    set_filters(engine, aud, [])
    done2, _ = run(engine, pid)
    assert done2.state == "succeeded", done2.error
    new = [e["contactKey"] for e in events(sim)][len(members) :]
    assert new == [r["id"] for i, r in enumerate(rows) if i % 3 == 2]
    assert (done2.rows_succeeded, done2.rows_skipped) == (4, 8)


def test_journey_events_every_member_and_single_fallback(engine, sim, make_pathway):
    post_sim(
        sim, "contacts_journeys/faults", {"async_unavailable": True, "inactive_contacts": ["D-001"]}
    )
    pid, _ = make_pathway(
        donors(3),
        kind="journey_event",
        mapping=EVENT_MAP,
        options={"event_definition_key": WELCOME, "send_to": "all"},
    )
    for _ in range(2):
        done, _ = run(engine, pid)
        assert done.state == "succeeded", done.error
        assert [(r.row_values["id"], r.error_type) for r in rejected(engine, done.id)] == [
            ("D-001", "EventRefused")
        ]
    got = [(e["contactKey"], e["source"]) for e in events(sim)]
    assert got == [("D-000", "single"), ("D-002", "single")] * 2


def test_journey_event_definition_not_found(engine, sim, make_pathway):
    pid, _ = make_pathway(
        donors(2),
        kind="journey_event",
        mapping=EVENT_MAP,
        options={"event_definition_key": "APIEvent-gone"},
    )
    done, _ = run(engine, pid)
    assert done.state == "failed"
    assert "APIEvent-gone" in done.error
    assert "does not exist" in done.error


def test_journey_mapping_checked_against_the_event_de(engine, sim, make_pathway):
    mapping = [*EVENT_MAP, {"source_column": "amount", "destination_field": "Amount"}]
    pid, _ = make_pathway(
        donors(2), kind="journey_event", mapping=mapping, options={"event_definition_key": WELCOME}
    )
    done, _ = run(engine, pid)
    assert done.state == "failed"
    assert "'Amount' is not a field of the event's Data Extension" in done.error
    assert events(sim) == []


def test_journey_needs_journeys_scope(engine, sim, make_pathway):
    pid, _ = make_pathway(
        donors(2),
        kind="journey_event",
        mapping=EVENT_MAP,
        options={"event_definition_key": WELCOME},
        client=(LIMITED, "limited-secret"),
    )
    done, _ = run(engine, pid)
    assert done.state == "failed"
    assert "journeys_read" in done.error
