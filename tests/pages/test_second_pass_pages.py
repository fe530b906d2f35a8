"""Issue 16 on the pages (AppTest, demo workspace, real simulator): the wizard never traps, a
connection without a needed scope is not verified, required choices show their problems
before Next, one owner per Data Extension, spaced keys, the connection form keeps its values,
and the Mirror safety stop is confirmed where it is shown."""

from __future__ import annotations

import pytest

from tests.pages.conftest import page_app
from tests.pages.test_pages_demo import _add_connection, _pick_audience


@pytest.fixture
def demo_dir(tmp_path):
    """A demo workspace of this test's own: the tests write to it."""
    return tmp_path / "demo"


def _next(at) -> None:
    next(b for b in at.button if b.label.startswith("Next")).click().run()
    assert not at.exception


def _back(at) -> None:
    next(b for b in at.button if b.label == "Back").click().run()
    assert not at.exception


def _to_step3(at, audience: str = "Monthly givers", connection_id: int | None = None) -> None:
    _pick_audience(at, audience)
    _next(at)
    if connection_id is not None:
        at.radio[0].set_value(connection_id).run()
    _next(at)
    assert at.session_state["push_step"] == 3


def test_back_on_every_step_even_when_the_connection_check_fails(demo_env):
    from store.connections import list_connections
    from ui import state as deps

    at = page_app("pages/push_audiences.py", "staff", timeout=60).run()
    with deps.session() as session:
        demo_id = list_connections(session=session)[0].id
    conn_id = _add_connection("Typo secret", deps.get_simulator().auth_uri, "pathways-demo", "x")
    at.run()
    _to_step3(at, connection_id=conn_id)
    assert any("cannot be used yet" in e.value for e in at.error)
    assert any(b.label == "Check again" for b in at.button)
    _back(at)
    assert at.session_state["push_step"] == 2
    _back(at)
    assert at.session_state["push_step"] == 1
    # Leaving and coming back with the working connection shows no stale error.
    _pick_audience(at, "Monthly givers")
    _next(at)
    at.radio[0].set_value(demo_id).run()
    _next(at)
    assert not at.error
    assert any("verified" in s.value for s in at.success)


def test_step3_of_an_existing_pathway_has_back(demo_env):
    at = page_app("pages/push_audiences.py", "staff", timeout=60).run()
    _to_step3(at)
    next(s for s in at.selectbox if s.label.startswith("Category")).select_index(0).run()
    _next(at)
    next(b for b in at.button if b.label == "Confirm and push").click().run()
    at.session_state["push_step"] = 1
    at.session_state["push_run_id"] = None
    at.run()
    _to_step3(at)
    assert any("already has this kind of pathway" in i.value for i in at.info)
    _back(at)
    assert at.session_state["push_step"] == 2


def test_a_package_that_cannot_write_is_not_verified(demo_env):
    from simulator import SimulatorConfig, start_simulator

    read_only = ("ro-pkg", "ro-secret", frozenset({"data_extensions_read", "saved_content_read"}))
    config = SimulatorConfig(
        clients=[read_only], seed="demo", latency_ms=0, soap_latency_ms=0, rate_limit=0
    )
    with start_simulator(config) as sim:
        at = page_app("pages/push_audiences.py", "staff", timeout=60).run()
        conn_id = _add_connection("Read only", sim.auth_uri, *read_only[:2])
        at.run()
        _to_step3(at, connection_id=conn_id)
        assert not at.success, "a package without Data Extensions: Write was verified"
        (error,) = [e.value for e in at.error]
        assert "Data Extensions: Write" in error
        assert not at.get("form")
        admin = page_app("pages/connections.py", "admin", timeout=60).run()
        assert any("missing a required scope" in m.value for m in admin.markdown)


def test_required_choices_show_their_problems_before_next(demo_env):
    at = page_app("pages/push_audiences.py", "staff", timeout=60).run()
    _to_step3(at)
    inline = " ".join(m.value for m in at.markdown)
    assert "Choose the folder the Data Extension goes in." in inline
    keys = next(m for m in at.multiselect if m.label.startswith("Primary key"))
    assert keys.value == ["email"]
    keys.set_value([]).run()
    inline = " ".join(m.value for m in at.markdown)
    assert "Choose the column(s) that identify each supporter" in inline


def test_a_data_extension_another_pathway_owns_is_refused(demo_env):
    at = page_app("pages/push_audiences.py", "staff", timeout=60).run()
    _to_step3(at)
    next(s for s in at.selectbox if s.label.startswith("Category")).select_index(0).run()
    owned = next(t for t in at.text_input if t.label == "Data Extension external key").value
    _next(at)
    next(b for b in at.button if b.label == "Confirm and push").click().run()
    at.session_state["push_step"] = 1
    at.session_state["push_run_id"] = None
    at.run()
    _to_step3(at, audience="All donors")
    next(t for t in at.text_input if t.label == "Data Extension external key").input(owned).run()
    inline = " ".join(m.value for m in at.markdown)
    assert "already belongs to the pathway" in inline
    assert "Monthly givers" in inline
    next(s for s in at.selectbox if s.label.startswith("Category")).select_index(0).run()
    next(b for b in at.button if b.label == "Next: summary").click().run()
    assert at.session_state["push_step"] == 3
    assert any("already belongs" in e.value for e in at.error)


def test_spaced_key_values_are_warned_about_and_trimmed(demo_env):
    from store.audiences import create_audience
    from store.importer import import_file
    from ui import state as deps

    page_app("pages/push_audiences.py", "staff", timeout=60).run()
    data = b"email,name\n  spaced@example.org  ,A\nok@example.org,B\n"
    report = import_file(deps.get_engine(), data, name="Spaced", filename="spaced.csv")
    with deps.session() as session:
        create_audience("Spaced people", report.dataset_id, session=session)
    at = page_app("pages/push_audiences.py", "staff", timeout=60).run()
    _to_step3(at, audience="Spaced people")
    keys = next(m for m in at.multiselect if m.label.startswith("Primary key"))
    keys.set_value(["email"]).run()
    assert any("1 value(s) of email" in w.value for w in at.warning)
    next(b for b in at.button if b.label == "Trim the spaces in the data set").click().run()
    assert not at.exception
    assert not any("value(s) of email" in w.value for w in at.warning)


def test_the_connection_form_keeps_its_values_when_refused(demo_env):
    at = page_app("pages/connections.py", "admin", timeout=60).run()
    inputs = {t.label: t for t in at.text_input}
    inputs["Name"].input("Second tenant")
    inputs["Auth Base URI"].input("http://127.0.0.1:9/")
    inputs["Client ID"].input("abc")
    inputs["Client Secret"].input("s3cret")
    next(b for b in at.button if b.label == "Save connection").click().run()
    assert not at.exception
    (error,) = [e.value for e in at.error]
    assert "local address" in error
    assert "while trying" not in error
    assert "ask an admin" not in error
    kept = {t.label: t.value for t in at.text_input}
    assert (kept["Name"], kept["Client Secret"]) == ("Second tenant", "s3cret")


def _stopped_mirror_run() -> tuple[int, int]:
    from store.audiences import get_audience_by_name
    from store.connections import list_connections
    from store.pathways import create_pathway
    from store.queue import enqueue_run, finish_run
    from ui import state as deps

    with deps.session() as session:
        aud = get_audience_by_name("All donors", session=session)
        conn = list_connections(session=session)[0]
        pid = create_pathway(
            aud.id, conn.id, "Pathways - All donors", "pw_mirror", method="mirror",
            session=session,
        ).id  # fmt: skip
    run = enqueue_run(deps.get_engine(), pid, "manual")
    message = "Mirror would delete 900 of the 1,000 rows. Nothing was changed."
    finish_run(deps.get_engine(), run.id, "needs_confirm", message=message,
               plan={"delete": 900, "de_rows": 1000})  # fmt: skip
    return pid, run.id


def test_the_mirror_stop_is_confirmed_where_it_is_shown_once(demo_env):
    from store.queue import list_runs
    from ui import state as deps

    page_app("pages/manage_pathways.py", "staff", timeout=60).run()
    pid, run_id = _stopped_mirror_run()
    analyst = page_app("pages/manage_pathways.py", "analyst", timeout=60).run()
    assert [w.value for w in analyst.warning].count(
        "Mirror would delete 900 of the 1,000 rows. Nothing was changed."
    ) == 1
    assert not [b for b in analyst.button if b.label == "Confirm the deletes and sync"]
    at = page_app("pages/manage_pathways.py", "staff", timeout=60).run()
    warnings = [w.value for w in at.warning if "Mirror would delete" in w.value]
    assert len(warnings) == 1
    assert any("Waiting for confirmation" in m.value for m in at.markdown)
    confirm = next(b for b in at.button if b.label == "Confirm the deletes and sync")
    assert confirm.disabled  # the box must be ticked first
    next(
        c for c in at.checkbox if "delete the rows it no longer has (900)" in c.label
    ).check().run()
    next(b for b in at.button if b.label == "Confirm the deletes and sync").click().run()
    assert not at.exception
    # The worker may have taken it already: the pathway's newest run is the confirmed one.
    newest = list_runs(deps.get_engine(), pid, limit=1)[0]
    assert newest.id != run_id
    assert newest.confirm_deletes


def test_a_membership_flag_on_an_owned_data_extension_needs_share_it(demo_env):
    from store.audiences import get_audience_by_name
    from store.connections import list_connections
    from store.pathways import create_pathway
    from ui import state as deps

    page_app("pages/push_audiences.py", "staff", timeout=60).run()
    with deps.session() as session:
        aud = get_audience_by_name("All donors", session=session)
        conn = list_connections(session=session)[0]
        create_pathway(aud.id, conn.id, "Master", "all_donors_master", session=session)
    at = page_app("pages/push_audiences.py", "staff", timeout=60).run()
    _to_step3(at)
    next(r for r in at.radio if r.label == "Destination Object").set_value("membership_flag").run()
    shared = next(s for s in at.selectbox if s.label.startswith("Shared Data Extension"))
    shared.select("all_donors_master").run()
    assert not at.exception
    # The picker names the owner, and the page asks before sharing it.
    label = shared.format_func("all_donors_master")
    assert "owned by pathway All donors → Master" in label
    assert any(c.label.startswith("Share it") for c in at.checkbox)
    assert "belongs to the pathway" in " ".join(m.value for m in at.markdown)
    next(b for b in at.button if b.label == "Next: summary").click().run()
    assert at.session_state["push_step"] == 3
    assert any("Tick 'Share it'" in e.value for e in at.error)
    next(c for c in at.checkbox if c.label.startswith("Share it")).check().run()
    assert not at.exception, [e.value for e in at.error]
    next(b for b in at.button if b.label == "Next: summary").click().run()
    assert not at.exception
    assert at.session_state["push_step"] == 4, [e.value for e in at.error]
    assert at.session_state["push_settings"]["options"]["shared_de"] is True


def test_the_wizard_confirms_its_own_stopped_mirror_sync_and_follows_the_new_run(demo_env):
    from store.pathways import get_pathway
    from ui import state as deps

    page_app("pages/push_audiences.py", "staff", timeout=60).run()
    pid, run_id = _stopped_mirror_run()
    with deps.session() as session:
        pathway = get_pathway(pid, session=session)
    at = page_app("pages/push_audiences.py", "staff", timeout=60)
    at.session_state["push_step"] = 4
    at.session_state["push_audience_id"] = pathway.audience_id
    at.session_state["push_connection_id"] = pathway.connection_id
    at.session_state["push_pathway_id"] = pid
    at.session_state["push_run_id"] = run_id
    at.run()
    assert not at.exception
    assert any("Waiting for confirmation" in m.value for m in at.markdown)
    assert len([w for w in at.warning if "Mirror would delete" in w.value]) == 1
    next(c for c in at.checkbox if c.label.startswith("I checked the audience")).check().run()
    next(b for b in at.button if b.label == "Confirm the deletes and sync").click().run()
    assert not at.exception
    assert at.session_state["push_run_id"] != run_id
