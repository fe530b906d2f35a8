"""Live data on the pages (AppTest, demo workspace of its own): a new version of a data set is
synced and Manage Pathways says what changed; the Audiences page shows the versions and edits
and deletes audiences.

AppTest cannot drive a file upload, so the new version goes through the use case the "Upload
new version" button calls (`ui.audiences.refresh_dataset`); the browser test uploads one for
real (`tests/browser/test_refresh_browser.py`).
"""

from __future__ import annotations

import pytest

from store.connections import list_connections
from store.pathways import create_pathway, set_mapping
from store.queue import enqueue_run
from tests.pages.conftest import page_app
from tests.pages.test_pages_demo import _wait_for_run

V1 = b"id,email,tier\n1,a@x.org,in\n2,b@x.org,in\n3,c@x.org,in\n"
V2 = b"id,email,tier\n1,a@x.org,in\n2,b+new@x.org,in\n4,d@x.org,in\n"


@pytest.fixture
def demo_dir(tmp_path):
    return tmp_path / "demo"


def _live_pathway() -> tuple[int, int, int]:
    """A small data set, its audience and a Mirror DE pathway on the demo connection."""
    from store.audiences import create_audience
    from ui import audiences as uaud
    from ui import state as deps

    engine = deps.get_engine()
    ds_id = uaud.import_dataset(engine, V1, name="Live donors", filename="v1.csv", who="t")[
        "dataset_id"
    ]
    with deps.session() as s:
        conn = list_connections(session=s)[0]
        aud = create_audience("Live in", ds_id, [], session=s)
        p = create_pathway(
            aud.id,
            conn.id,
            "Live DE",
            "live_de",
            session=s,
            method="mirror",
            category_id=deps.get_simulator().state.root_folder_id,
        )
        set_mapping(
            p.id,
            [
                {
                    "source_column": "id",
                    "destination_field": "Id",
                    "is_primary_key": True,
                    "required": True,
                    "length": 50,
                },
                {"source_column": "email", "destination_field": "Email", "length": 254},
            ],
            session=s,
        )
        return ds_id, aud.id, p.id


def _sync(pathway_id: int):
    from ui import state as deps

    queued = enqueue_run(deps.get_engine(), pathway_id, "manual")
    deps.get_worker()  # what "Sync now" starts
    return _wait_for_run(queued.id, timeout=60)


def test_new_version_synced_shows_the_change_counts(demo_env):
    from ui import audiences as uaud
    from ui import state as deps

    at = page_app("pages/manage_pathways.py", "staff", timeout=60).run()
    ds_id, _, pathway_id = _live_pathway()
    assert _sync(pathway_id).state == "succeeded"
    uaud.refresh_dataset(
        deps.get_engine(),
        ds_id,
        V2,
        filename="v2.csv",
        mode="replace",
        keys=["id"],
        remove_missing=False,
        who="test-staff",
    )
    second = _sync(pathway_id)
    assert second.state == "succeeded", second.error
    at.run()
    assert not at.exception
    assert any(c.value == "+1 new · 1 changed · 1 left" for c in at.caption)
    runs = next(df.value for df in at.dataframe if "New" in df.value.columns)
    assert [tuple(r) for r in runs[["New", "Changed", "Left"]].itertuples(index=False)] == [
        (1, 1, 1),
        (3, 0, 0),
    ]

    aud_page = page_app("pages/audiences.py", "staff", timeout=60)
    aud_page.session_state["aud_dataset_id"] = ds_id
    aud_page.run()
    assert not aud_page.exception
    history = next(df.value for df in aud_page.dataframe if "Version" in df.value.columns)
    assert list(history["Version"]) == [2, 1]
    assert list(history["Who"]) == ["test-staff", "t"]
    assert (history.iloc[0]["Added"], history.iloc[0]["Changed"], history.iloc[0]["Removed"]) == (
        1,
        1,
        1,
    )


def test_audience_in_use_cannot_be_deleted_and_opens_for_editing(demo_env):
    page_app("pages/audiences.py", "staff", timeout=60).run()  # makes the demo workspace
    ds_id, aud_id, _ = _live_pathway()
    at = page_app("pages/audiences.py", "staff", timeout=60)
    at.session_state["aud_dataset_id"] = ds_id
    at.run()
    assert any("Used by pathway(s): **Live DE**" in c.value for c in at.caption)
    next(b for b in at.button if b.label == "Delete" and b.key == "aud_del").click().run()
    assert any("pushed by 1 pathway(s): **Live DE**" in w.value for w in at.warning)
    at.run()
    next(b for b in at.button if b.key == "aud_edit").click().run()
    assert not at.exception
    # The dialog opens with the audience's name; saving is `ui.audiences.edit_audience` (AppTest
    # does not rerun a dialog as a fragment: tests/ui/test_audience_edit.py clicks through it).
    assert next(t for t in at.text_input if t.key == "aud_e_name").value == "Live in"
    assert any(b.key == "aud_e_save" for b in at.button)


def test_operators_follow_the_column_type(demo_env):
    at = page_app("pages/audiences.py", "staff", timeout=60).run()
    column = next(s for s in at.selectbox if s.label == "Column")
    dated = next(c for c in column.options if "date" in c.lower() or "gift" in c.lower())
    column.set_value(dated).run()
    ops = next(s for s in at.selectbox if s.label == "Operator").options
    assert "contains" not in ops
    column.set_value("email" if "email" in column.options else column.options[0]).run()
    ops = next(s for s in at.selectbox if s.label == "Operator").options
    assert "contains" in ops
