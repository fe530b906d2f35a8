"""Pages with content: the demo workspace, real simulator, real worker (AppTest).

One store per test (the tests write to it; a 400-row demo workspace takes about a second), and
caches are cleared after every test so each test starts its own simulator and worker.
"""

from __future__ import annotations

import time

import pytest

from store.status import run_outcome
from tests.pages.conftest import PAGES, ROLES, page_app


@pytest.fixture
def demo_dir(tmp_path):
    """A demo workspace of this test's own: the tests write to it."""
    return tmp_path / "demo"


def _wait_for_run(run_id: int, timeout: float = 30) -> object:
    from store.queue import ACTIVE_STATES, get_run
    from ui import state as deps

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = get_run(deps.get_engine(), run_id)
        if run.state not in ACTIVE_STATES:
            return run
        time.sleep(0.1)
    pytest.fail(f"run {run_id} did not finish in {timeout}s")


def _pick_audience(at, name: str) -> None:
    box = at.selectbox[0]
    box.select_index(next(i for i, o in enumerate(box.options) if o.startswith(name))).run()


def test_modeled_audience_is_blocked_on_refusing_connection(demo_env):
    at = page_app("pages/push_audiences.py", "staff", timeout=60).run()
    _pick_audience(at, "High propensity")
    next(b for b in at.button if b.label.startswith("Next")).click().run()
    assert not at.exception
    assert any(
        e.value == "You cannot push modeled audiences to this destination." for e in at.error
    )
    assert next(b for b in at.button if b.label.startswith("Next")).disabled


def test_push_wizard_end_to_end(demo_env):
    at = page_app("pages/push_audiences.py", "staff", timeout=60).run()
    assert not at.exception
    _pick_audience(at, "Monthly givers")
    [b for b in at.button if b.label.startswith("Next")][0].click().run()
    assert at.session_state["push_step"] == 2
    [b for b in at.button if b.label.startswith("Next")][0].click().run()
    assert not at.exception
    assert at.session_state["push_step"] == 3
    assert any("verified" in s.value for s in at.success)
    category = next(s for s in at.selectbox if s.label.startswith("Category"))
    assert category.options, "no folders offered"
    # Submitting without a category says what to fix.
    next(b for b in at.button if b.label == "Next: summary").click().run()
    assert any("Category" in e.value for e in at.error)
    category = next(s for s in at.selectbox if s.label.startswith("Category"))
    category.select_index(0)
    next(b for b in at.button if b.label == "Next: summary").click().run()
    assert not at.exception
    assert at.session_state["push_step"] == 4
    markdown = " ".join(m.value for m in at.markdown)
    assert "Pathways - " in markdown
    assert "Estimated record count" in markdown
    next(b for b in at.button if b.label == "Confirm and push").click().run()
    assert not at.exception
    run_id = at.session_state["push_run_id"]
    assert run_id
    run = _wait_for_run(run_id)
    assert run.state == "succeeded", run.error
    assert run.rows_succeeded > 0
    at.run()
    assert not at.exception
    # The same words on every page: what the run did (9 of the demo's rows are refused).
    word = run_outcome(run).word
    assert word == ("Partly failed" if run.rows_failed else "Synced")
    assert any(f"**{word}**" in m.value for m in at.markdown)

    # The pathway now shows up everywhere, and re-pushing reuses it.
    mp = page_app("pages/manage_pathways.py", "analyst", timeout=60).run()
    assert not mp.exception
    assert any(f"**{word}**" in m.value for m in mp.markdown if "Sync status" in m.value)
    assert not [b for b in mp.button if b.label == "Sync now"]  # analysts only look
    staff = page_app("pages/manage_pathways.py", "staff", timeout=60).run()
    next(b for b in staff.button if b.label == "Sync now").click().run()
    assert not staff.exception
    cm = page_app("pages/column_mapping.py", "staff", timeout=60).run()
    assert not cm.exception
    assert any("fixed" in m.value for m in cm.markdown)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("title", list(PAGES))
def test_pages_with_demo_content(demo_env, title, role):
    path, allowed = PAGES[title]
    at = page_app(path, role, timeout=60).run()
    assert not at.exception, at.exception
    refused = any("needs the" in e.value for e in at.error)
    assert refused == (role not in allowed)


def test_connection_test_shows_report_and_scopes(demo_env):
    at = page_app("pages/connections.py", "admin", timeout=60).run()
    next(b for b in at.button if b.label == "Test").click().run()
    assert not at.exception
    assert any("Connection works" in s.value for s in at.success)
    assert at.table, "scope checklist missing"


def test_connection_form_refuses_non_sfmc_host(demo_env, monkeypatch):
    monkeypatch.setenv("PATHWAYS_DEMO", "1")
    at = page_app("pages/connections.py", "admin", timeout=60).run()
    form_inputs = {t.label: t for t in at.text_input}
    form_inputs["Name"].input("Bad one")
    form_inputs["Auth Base URI"].input("http://evil.example.com/")
    form_inputs["Client ID"].input("abc")
    form_inputs["Client Secret"].input("def")
    next(b for b in at.button if b.label == "Save connection").click().run()
    assert not at.exception
    assert at.error, "an invalid Auth Base URI was accepted"
    assert any("The Auth Base URI must start with https://" in e.value for e in at.error)


def test_audience_filter_builder_counts_live(demo_env):
    at = page_app("pages/audiences.py", "staff", timeout=60).run()
    assert not at.exception
    before = next(m.value for m in at.metric if m.label == "Matching records")
    op = next(s for s in at.selectbox if s.label == "Operator")
    op.set_value("is_empty")
    next(b for b in at.button if b.label == "Add filter").click().run()
    assert not at.exception
    after = next(m.value for m in at.metric if m.label == "Matching records")
    assert after != before


def _add_connection(name: str, auth_uri: str, client_id: str, secret: str) -> int:
    from store.connections import create_connection
    from ui import state as deps

    with deps.session() as session:
        return create_connection(name, auth_uri, client_id, secret, session=session).id


def test_review_step_stops_on_bad_credentials_with_the_fix(demo_env):
    from ui import state as deps

    at = page_app("pages/push_audiences.py", "staff", timeout=60).run()
    sim = deps.get_simulator()
    conn_id = _add_connection("Typo secret", sim.auth_uri, "pathways-demo", "wrong")
    at.run()
    _pick_audience(at, "Monthly givers")
    next(b for b in at.button if b.label.startswith("Next")).click().run()
    at.radio[0].set_value(conn_id).run()
    next(b for b in at.button if b.label.startswith("Next")).click().run()
    assert not at.exception
    assert any("cannot be used" in e.value for e in at.error)
    assert not at.get("form")  # no Advanced Settings until the connection works


def test_category_dropdown_falls_back_without_folder_scope(demo_env):
    from simulator import SimulatorConfig, start_simulator

    limited = (
        "limited-pkg",
        "limited-secret",
        frozenset({"data_extensions_read", "data_extensions_write"}),
    )
    config = SimulatorConfig(
        clients=[limited], seed="demo", latency_ms=0, soap_latency_ms=0, rate_limit=0
    )
    with start_simulator(config) as sim:
        at = page_app("pages/push_audiences.py", "staff", timeout=60).run()
        conn_id = _add_connection("No folder scope", sim.auth_uri, *limited[:2])
        at.run()
        _pick_audience(at, "Monthly givers")
        next(b for b in at.button if b.label.startswith("Next")).click().run()
        at.radio[0].set_value(conn_id).run()
        next(b for b in at.button if b.label.startswith("Next")).click().run()
        assert not at.exception
        assert at.warning, "no notice that the folder list is a fallback"
        assert any("cannot read Data Extension folders" in w.value for w in at.warning)
        category = next(s for s in at.selectbox if s.label.startswith("Category"))
        assert category.options  # the folders of existing DEs


def test_deleted_folder_can_be_repicked_on_manage_pathways(demo_env):
    import dataclasses

    from store.audiences import get_audience_by_name
    from store.connections import list_connections
    from store.datasets import get_dataset
    from store.pathways import create_pathway, get_pathway, set_mapping
    from store.queue import enqueue_run
    from sync.mapping import suggest_mapping
    from ui import state as deps

    page_app("pages/manage_pathways.py", "staff", timeout=60).run()  # builds the workspace
    with deps.session() as session:
        aud = get_audience_by_name("Monthly givers", session=session)
        ds = get_dataset(aud.dataset_id, session=session)
        conn = list_connections(session=session)[0]
        pathway = create_pathway(
            aud.id,
            conn.id,
            "AVID - lost folder",
            "avid_lost_folder",
            category_id=987654,
            category_path="Data Extensions / Deleted",
            primary_keys=["email"],
            session=session,
        )
        pathway_id = pathway.id
        set_mapping(
            pathway_id,
            [dataclasses.asdict(f) for f in suggest_mapping(ds.columns)],
            session=session,
        )
    deps.get_worker()
    run = enqueue_run(deps.get_engine(), pathway_id, "manual")
    finished = _wait_for_run(run.id)
    assert finished.state == "failed"
    at = page_app("pages/manage_pathways.py", "staff", timeout=60).run()
    assert not at.exception
    assert [m.value for m in at.markdown if "Sync status" in m.value][-1].count("**Failed**")
    picker = next(s for s in at.selectbox if s.label == "New folder")
    picker.select_index(0)
    next(b for b in at.button if b.label == "Use this folder").click().run()
    assert not at.exception
    with deps.session() as session:
        assert get_pathway(pathway_id, session=session).category_id != 987654


def test_pause_resume_and_delete_asks_first(demo_env):
    from store.audiences import get_audience_by_name
    from store.connections import list_connections
    from store.pathways import create_pathway, get_pathway
    from ui import state as deps

    page_app("pages/manage_pathways.py", "staff", timeout=60).run()
    with deps.session() as session:
        aud = get_audience_by_name("All donors", session=session)
        conn = list_connections(session=session)[0]
        pathway_id = create_pathway(
            aud.id, conn.id, "AVID - All donors", "avid_pause_test", session=session
        ).id
    at = page_app("pages/manage_pathways.py", "staff", timeout=60).run()
    next(b for b in at.button if b.key == f"pw_pause_{pathway_id}").click().run()
    assert not at.exception
    with deps.session() as session:
        assert get_pathway(pathway_id, session=session).paused
    assert next(b for b in at.button if b.key == f"pw_sync_{pathway_id}").disabled
    next(b for b in at.button if b.key == f"pw_pause_{pathway_id}").click().run()
    with deps.session() as session:
        assert not get_pathway(pathway_id, session=session).paused
    # Delete asks first: a confirmation dialog, and nothing is deleted yet. (AppTest does not
    # rerun a dialog as a fragment, so the confirmation click itself is covered in a browser.)
    next(b for b in at.button if b.key == f"pw_del_{pathway_id}").click().run()
    assert not at.exception
    assert any(b.key == "pw_delete_yes" for b in at.button)
    with deps.session() as session:
        assert get_pathway(pathway_id, session=session) is not None
