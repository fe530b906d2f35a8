"""Audiences that can change (`ui.audiences`): edit name and filters, delete unless in use."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from store.audience_rows import count_rows
from store.audiences import create_audience
from store.errors import InUseError
from store.filters import AudienceFilterError, ops_for
from store.models import Audience
from store.pathways import create_pathway
from ui import audiences as uaud


def test_edit_renames_and_refilters(workspace):
    engine = workspace.engine
    aud_id = workspace.audience["id"]
    assert (
        uaud.edit_audience(
            engine,
            aud_id,
            name="Big givers",
            filters=[{"column": "amount", "op": "greater_than", "value": "5"}],
            who="staff",
        )
        == []
    )
    with Session(engine) as s:
        aud = s.get(Audience, aud_id)
    assert aud.name == "Big givers"
    assert count_rows(engine, aud_id) == 1


def test_edit_refuses_a_taken_name_and_a_bad_filter(workspace):
    engine = workspace.engine
    with Session(engine) as s:
        create_audience("Other", workspace.dataset_id, [], session=s)
    problems = uaud.edit_audience(
        engine, workspace.audience["id"], name="Other", filters=[], who="s"
    )
    assert problems == ["Give the audience a name no other audience has."]
    with pytest.raises(AudienceFilterError, match="not a number"):
        uaud.edit_audience(
            engine,
            workspace.audience["id"],
            name="Kept",
            filters=[{"column": "amount", "op": "greater_than", "value": "lots"}],
            who="s",
        )
    with Session(engine) as s:
        assert s.get(Audience, workspace.audience["id"]).name == workspace.audience["name"]


def test_delete_refused_while_a_pathway_uses_it_naming_it(workspace):
    engine = workspace.engine
    with Session(engine) as s:
        create_pathway(
            workspace.audience["id"],
            workspace.connection["id"],
            "Donors DE",
            "donors_de",
            session=s,
        )
    with pytest.raises(InUseError, match="pushed by 1 pathway\\(s\\): 'Donors DE'"):
        uaud.delete_audience(engine, workspace.audience["id"], who="s")
    with Session(engine) as s:
        spare = create_audience("Spare", workspace.dataset_id, [], session=s).id
    assert uaud.delete_audience(engine, spare, who="s") == "Spare"


def test_operators_per_column_type():
    assert "contains" in ops_for({"type": "email"})
    assert "greater_than" not in ops_for({"type": "text"})
    assert "between" in ops_for({"type": "decimal"})
    assert "contains" not in ops_for({"type": "integer"})
    assert set(ops_for({"type": "date"})) >= {"before", "after", "between"}
    assert ops_for({"type": "boolean"}) == ("equals", "not_equals", "is_empty", "is_not_empty")
