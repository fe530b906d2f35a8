"""Actions refuse users without the role, even when the page itself may be viewed (AppTest).

Page-level refusals for every role are in tests/pages/test_pages_roles.py; this file covers the
actions inside pages and forged session state.
"""

from __future__ import annotations

import pytest
from sqlmodel import Session, func, select

from store.audiences import create_audience
from store.connections import create_connection
from store.datasets import get_dataset_by_name
from store.db import create_db_and_tables, make_engine
from store.importer import import_file
from store.models import Connection, Pathway, SyncRun
from store.pathways import create_pathway
from store.queue import enqueue_run, finish_run
from tests.pages.conftest import page_app
from ui import state as deps

URI = "https://mc0123456789.auth.marketingcloudapis.com/"


@pytest.fixture
def workspace(store_env):
    """A store with one audience, connection, pathway and finished run."""
    engine = make_engine(f"sqlite:///{store_env / 'test.db'}")
    create_db_and_tables(engine)
    import_file(engine, b"email,name\na@example.org,A\n", name="Donors", filename="d.csv")
    with Session(engine) as session:
        ds = get_dataset_by_name("Donors", session=session)
        audience = create_audience("Everyone", ds.id, session=session)
        conn = create_connection("Main", URI, "client-id", "secret-1", session=session)
        pathway = create_pathway(
            audience.id, conn.id, "AVID - Everyone", "avid_roles_test", session=session,
            category_id=1000,
        )  # fmt: skip
        ids = {"audience": audience.id, "connection": conn.id, "pathway": pathway.id}
    run = enqueue_run(engine, ids["pathway"], "manual")
    finish_run(engine, run.id, "succeeded", message="Sync finished.")
    yield engine, ids
    engine.dispose()


def _counts(engine) -> tuple[int, int, int]:
    with Session(engine) as session:
        return (
            session.exec(select(func.count()).select_from(SyncRun)).one(),
            session.exec(select(func.count()).select_from(Pathway)).one(),
            session.exec(select(func.count()).select_from(Connection)).one(),
        )


def test_analyst_sees_pathways_but_no_action_buttons(workspace):
    staff = page_app("pages/manage_pathways.py", "staff").run()
    analyst = page_app("pages/manage_pathways.py", "analyst").run()
    assert not staff.exception
    assert not analyst.exception
    actions = {b.label for b in staff.button}
    assert actions, "staff should have actions (sync now, pause, delete) on a pathway"
    assert "avid_roles_test" in " ".join(m.value for m in analyst.markdown)  # it is shown
    leaked = actions & {b.label for b in analyst.button}
    assert not leaked, f"analyst got staff actions: {leaked}"


@pytest.mark.parametrize("role", ["analyst"])
def test_forged_wizard_state_cannot_push(workspace, role):
    engine, ids = workspace
    before = _counts(engine)
    at = page_app("pages/push_audiences.py", role)
    at.session_state[deps.PUSH_STEP] = 4
    at.session_state[deps.PUSH_AUDIENCE_ID] = ids["audience"]
    at.session_state[deps.PUSH_CONNECTION_ID] = ids["connection"]
    at.session_state[deps.PUSH_PATHWAY_ID] = ids["pathway"]
    at.run()
    assert not at.exception
    assert any("needs the" in e.value for e in at.error)
    assert not at.button
    assert _counts(engine) == before  # no run queued, no pathway made


@pytest.mark.parametrize("role", ["staff", "analyst"])
def test_forged_edit_state_cannot_touch_connections(workspace, role):
    engine, ids = workspace
    before = _counts(engine)
    at = page_app("pages/connections.py", role)
    at.session_state[deps.CONN_EDIT_ID] = ids["connection"]
    at.run()
    assert not at.exception
    assert any("needs the admin role" in e.value for e in at.error)
    assert not at.text_input
    assert not at.button
    assert "client-id" not in " ".join(m.value for m in at.markdown)
    assert _counts(engine) == before


@pytest.mark.parametrize("role", ["analyst"])
def test_forged_mapping_state_cannot_edit_a_mapping(workspace, role):
    engine, ids = workspace
    at = page_app("pages/column_mapping.py", role)
    at.session_state[deps.MAPPING_PATHWAY_ID] = ids["pathway"]
    at.run()
    assert not at.exception
    assert any("needs the" in e.value for e in at.error)
    assert not at.button
    assert not at.get("arrow_data_frame")
