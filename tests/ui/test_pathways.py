"""Pathway use cases against a real store: one transaction per change, audit written by them."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlmodel import Session, func, select

from store import pathways
from store.models import AuditEvent, ColumnMapping, Pathway
from sync import destinations as dest
from ui import pathways as upath

MAPPING = [
    {"source_column": "email", "destination_field": "Email", "field_type": "EmailAddress"},
    {"source_column": "first_name", "destination_field": "First Name", "field_type": "Text"},
]


def _settings(**changes):
    settings = {
        "kind": dest.DATA_EXTENSION,
        "de_name": "AVID - Everyone",
        "de_key": "avid_everyone",
        "primary_keys": ["email"],
        "category_id": 100,
        "category_path": "Data Extensions / Pathways",
        "method": "upsert",
        "guard_pct": 30,
        "mapping": MAPPING,
    }
    return settings | changes


def _count(engine, table) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(table)).one()


def _audit(engine) -> list[tuple[str, str, str]]:
    with Session(engine) as session:
        events = session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()
        return [(e.who, e.action, e.detail) for e in events]


def test_create_pathway_writes_pathway_mapping_and_audit(workspace):
    ws = workspace
    pid = upath.create_pathway(ws.engine, ws.audience, ws.connection, _settings(), "sam")
    with Session(ws.engine) as session:
        p = pathways.get_pathway(pid, session=session)
        assert (p.de_customer_key, p.category_id, p.created_by) == ("avid_everyone", 100, "sam")
        assert p.delete_guard_share == pytest.approx(0.3)
        mapped = [m.destination_field for m in pathways.get_mapping(pid, session=session)]
    assert mapped == ["Email", "First Name"]
    assert _audit(ws.engine) == [("sam", "create pathway", "Everyone -> Main")]


def test_create_pathway_writes_nothing_when_the_mapping_is_refused(workspace):
    """Bug: pathway, mapping and audit were three commits; a refused mapping left a pathway."""
    ws = workspace
    twice = [*MAPPING, {"source_column": "amount", "destination_field": "email"}]
    with pytest.raises(ValueError, match="mapped twice"):
        upath.create_pathway(ws.engine, ws.audience, ws.connection, _settings(mapping=twice), "sam")
    assert (_count(ws.engine, Pathway), _count(ws.engine, ColumnMapping)) == (0, 0)
    assert _audit(ws.engine) == []


def test_create_pathway_reuses_the_pathway_of_the_same_kind(workspace):
    ws = workspace
    first = upath.create_pathway(ws.engine, ws.audience, ws.connection, _settings(), "sam")
    again = upath.create_pathway(ws.engine, ws.audience, ws.connection, _settings(), "kim")
    contacts = _settings(kind=dest.CONTACTS, de_name="Contacts", de_key="")
    other = upath.create_pathway(ws.engine, ws.audience, ws.connection, contacts, "sam")
    assert again == first
    assert other != first
    aud_id, conn_id = ws.audience["id"], ws.connection["id"]
    assert upath.existing_pathway(ws.engine, aud_id, conn_id, dest.CONTACTS) == other
    assert upath.existing_pathway(ws.engine, aud_id, conn_id, dest.JOURNEY_EVENT) is None
    assert upath.pushed_pairs(ws.engine) == {(aud_id, conn_id)}
    assert [a[1] for a in _audit(ws.engine)] == ["create pathway", "create pathway"]


def test_saved_settings_read_back_what_was_created(workspace):
    ws = workspace
    pid = upath.create_pathway(ws.engine, ws.audience, ws.connection, _settings(), "sam")
    saved = upath.saved_settings(ws.engine, pid)
    assert saved["de_key"] == "avid_everyone"
    assert saved["primary_keys"] == ["email"]
    assert [m["source_column"] for m in saved["mapping"]] == ["email", "first_name"]
    with pytest.raises(LookupError, match="no longer exists"):
        upath.saved_settings(ws.engine, pid + 1)


def test_pathway_changes_are_audited(workspace):
    ws = workspace
    pid = upath.create_pathway(ws.engine, ws.audience, ws.connection, _settings(), "sam")
    upath.set_paused(ws.engine, pid, True, label="L", who="kim")
    upath.set_paused(ws.engine, pid, False, label="L", who="kim")
    upath.change_folder(ws.engine, pid, 200, "Data Extensions / New", label="L", who="kim")
    with Session(ws.engine) as session:
        p = pathways.get_pathway(pid, session=session)
        assert (p.paused, p.category_id) == (False, 200)
    upath.delete_pathway(ws.engine, pid, label="L", who="kim")
    assert _count(ws.engine, Pathway) == 0
    assert [a[1] for a in _audit(ws.engine)] == [
        "create pathway",
        "pause",
        "resume",
        "change folder",
        "delete pathway",
    ]


def test_changes_of_a_missing_pathway_write_nothing(workspace):
    ws = workspace
    with pytest.raises(LookupError, match="no longer exists"):
        upath.set_paused(ws.engine, 99, True, label="Gone", who="kim")
    assert _audit(ws.engine) == []


def test_save_mapping_refuses_problems_and_saves_with_audit(workspace):
    ws = workspace
    pid = upath.create_pathway(ws.engine, ws.audience, ws.connection, _settings(), "sam")
    problems = upath.save_mapping(ws.engine, pid, MAPPING[1:], ["email"], label="L", who="kim")
    assert problems == ["Primary key column 'email' must also be mapped."]
    assert upath.save_mapping(ws.engine, pid, MAPPING[:1], ["email"], label="L", who="kim") == []
    with Session(ws.engine) as session:
        assert [m.source_column for m in pathways.get_mapping(pid, session=session)] == ["email"]
    assert [a[1] for a in _audit(ws.engine)] == ["create pathway", "edit mapping"]


def _frame(*rows):
    return pd.DataFrame(
        [
            {
                "Source column": s,
                "Destination field": d,
                "Type": t,
                "Length": None,
                "Required": False,
            }
            for s, d, t in rows
        ]
    )


def test_data_extension_settings_say_what_to_fix():
    choice = upath.DataExtensionChoice(
        method="upsert",
        de_name=" AVID - X ",
        de_key="avid_x",
        primary_keys=["email"],
        category_id=None,
        category_path=None,
        guard_pct=50,
        mapping=_frame(("email", "Email", "EmailAddress")),
    )
    settings, problems = upath.data_extension_settings(choice)
    assert problems == ["Choose a Category (the Data Extension folder) at the top of this step."]
    assert settings["de_name"] == "AVID - X"
    assert settings["mapping"][0]["is_primary_key"]


def test_generated_key_replaces_the_primary_keys():
    choice = upath.DataExtensionChoice(
        method="append",
        de_name="AVID - X",
        de_key="avid_x",
        primary_keys=["email"],
        category_id=5,
        category_path="F",
        guard_pct=50,
        mapping=_frame(("email", "Email", "EmailAddress")),
        generated_key=True,
        title_case=True,
    )
    settings, problems = upath.data_extension_settings(choice)
    assert problems == []
    assert settings["primary_keys"] == [dest.GENERATED_KEY_COLUMN]
    assert settings["options"] == {"generated_key": True, "title_case": True}
    key = settings["mapping"][-1]
    assert (key["destination_field"], key["length"], key["is_primary_key"]) == (
        "Pathways ID",
        36,
        True,
    )
    assert not settings["mapping"][0]["is_primary_key"]
