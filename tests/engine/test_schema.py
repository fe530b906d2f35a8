"""Ensuring the DE: creation, new fields, refused changes, drift made in SFMC behind our back."""

from __future__ import annotations

import requests
from sqlmodel import Session

from store.models import Pathway
from store.pathways import set_mapping
from tests.engine.conftest import text_mapping
from tests.engine.test_push_e2e import de_key, people, run, table


def test_de_created_with_mapping_fields_key_and_folder(engine, sim, make_pathway):
    pid = make_pathway(people(3))
    done, _ = run(engine, pid)
    assert done.state == "succeeded", done.error
    de = sim.state.get_de(de_key(engine, pid))
    assert de.category_id == 1000
    assert [(f.name, f.field_type, f.max_length, f.is_primary_key) for f in de.fields] == [
        ("Email", "EmailAddress", 254, True),
        ("Name", "Text", 20, False),
        ("City", "Text", 20, False),
    ]
    with Session(engine) as session:
        pathway = session.get(Pathway, pid)
        assert [f["name"] for f in pathway.remote_fields] == ["Email", "Name", "City"]
        assert pathway.de_object_id


def test_new_mapped_field_is_added_and_type_change_is_refused(engine, sim, make_pathway):
    pid = make_pathway(people(3))
    run(engine, pid)
    key = de_key(engine, pid)
    mapping = text_mapping(["email", "name", "city"])
    mapping.append({**mapping[2], "ordinal": 3, "destination_field": "Town"})
    with Session(engine) as session:
        set_mapping(pid, mapping, session=session)
    second, _ = run(engine, pid, full_resend=True)
    assert second.state == "succeeded", second.error
    assert "Town" in second.message
    assert table(sim, key)["user1@example.org"]["Town"] == "City 1"
    mapping[1] = {**mapping[1], "field_type": "Number", "length": None}
    with Session(engine) as session:
        set_mapping(pid, mapping, session=session)
    third, _ = run(engine, pid)
    assert third.state == "failed"
    assert "Field 'Name' is Text(20)" in third.error
    assert "cannot change a field's type" in third.error
    assert third.error_kind == "field_type_change"
    assert third.error_detail["field"] == "Name"
    assert (third.error_detail["de"], third.error_detail["mapping"]) == ("Text", "Number")


def test_de_deleted_in_sfmc_is_recreated_and_every_row_sent_again(engine, sim, make_pathway):
    pid = make_pathway(people(5))
    run(engine, pid)
    key = de_key(engine, pid)
    requests.delete(f"{sim.base_url}/_sim/dataextensions/{key}", timeout=10).raise_for_status()
    again, _ = run(engine, pid)
    assert again.state == "succeeded", again.error
    assert "was deleted in Marketing Cloud since the last sync" in again.message
    assert again.rows_sent == 5  # the ledger was forgotten with the DE
    assert len(table(sim, key)) == 5


def test_field_removed_in_sfmc_is_reported_and_added_back(engine, sim, make_pathway):
    pid = make_pathway(people(4))
    run(engine, pid)
    key = de_key(engine, pid)
    requests.delete(
        f"{sim.base_url}/_sim/dataextensions/{key}/fields/City", timeout=10
    ).raise_for_status()
    again, _ = run(engine, pid, full_resend=True)
    assert again.state == "succeeded", again.error
    assert "Field 'City' was removed" in again.message
    assert table(sim, key)["user2@example.org"]["City"] == "City 2"
