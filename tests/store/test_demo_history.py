"""A new demo signs in at once, then gets its donors and history in a thread: real runs pushed
by the worker to the embedded simulator."""

from __future__ import annotations

import requests
from sqlmodel import Session, select

from simulator import start_simulator
from store.demo import start_demo_workspace
from store.demo_history import DEMO_FOLDER_ID, DEMO_FOLDER_PATH, DEMO_PATHWAYS
from store.models import AppUser, Pathway, RejectedRow, SyncRun
from sync.worker import Worker
from tests.fixtures import fast_sim_config

ROWS = 1_500


def test_demo_folder_is_the_demo_simulators_fundraising_folder():
    sim = start_simulator(fast_sim_config(seed="demo"), port=0)
    try:
        folders = requests.get(f"{sim.base_url}/_sim/folders", timeout=10).json()["items"]
    finally:
        sim.stop()
    by_id = {f["id"]: f for f in folders}
    parent = by_id[by_id[DEMO_FOLDER_ID]["parentId"]]
    assert f"{parent['name']}/{by_id[DEMO_FOLDER_ID]['name']}" == DEMO_FOLDER_PATH


def test_new_demo_has_a_clean_a_rejecting_and_a_waiting_pathway(engine, monkeypatch):
    monkeypatch.setenv("PATHWAYS_DEMO", "1")
    monkeypatch.setattr("store.demo.BUILD_AT_ONCE_ROWS", ROWS - 1)  # the app's path: a thread
    sim = start_simulator(fast_sim_config(seed="demo"), port=0)
    worker = Worker(engine, poll_interval=0.05, schedules=False)
    try:
        thread = start_demo_workspace(engine, simulator_auth_uri=sim.auth_uri, rows=ROWS)
        assert thread is not None
        with Session(engine) as session:  # sign-in works before the donors exist
            users = session.exec(select(AppUser.username)).all()
        assert set(users) == {"admin", "staff", "analyst"}
        while thread.is_alive():
            worker.run_once()
            thread.join(timeout=0.05)
        while worker.run_once():  # the Mirror's second run, queued last
            pass
    finally:
        sim.stop()
    with Session(engine) as session:
        states = {}
        for _name, key, *_rest in DEMO_PATHWAYS:
            pathway = session.exec(select(Pathway).where(Pathway.de_customer_key == key)).one()
            runs = session.exec(
                select(SyncRun).where(SyncRun.pathway_id == pathway.id).order_by(SyncRun.id)
            ).all()
            states[key] = [(r.state, r.rows_failed) for r in runs]
            if key == "demo_lapsed_donors":
                rejected = session.exec(
                    select(RejectedRow).where(RejectedRow.run_id == runs[0].id)
                ).all()
    assert states["demo_monthly_givers"] == [("succeeded", 0)]
    ((state, failed),) = states["demo_lapsed_donors"]
    assert state == "succeeded"
    assert failed > 0
    assert {r.error_type for r in rejected} >= {"InvalidEmailAddress"}
    first, second = states["demo_likely_donors"]
    assert first == ("succeeded", 0)
    assert second[0] == "needs_confirm"
