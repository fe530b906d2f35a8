"""Audiences page: a data set can be deleted after confirming (issue 21 item 2).

The dialog asks first; a data set that audiences use names them and offers no Delete. (AppTest
does not rerun a dialog as a fragment, so the confirmation click itself is covered in the use
case's tests, `tests/ui/test_dataset_delete.py`.)
"""

from __future__ import annotations

from store.audiences import create_audience
from store.importer import import_file
from tests.pages.conftest import page_app

CSV = b"email,name\na@example.org,Ann\nb@example.org,Bob\n"


def _dialog_text(at) -> str:
    return " ".join(str(e.value) for e in (*at.markdown, *at.warning))


def test_delete_asks_first_and_in_use_names_the_audiences(store_env):
    from ui import state as deps

    page_app("pages/audiences.py", "staff").run()  # creates the store
    engine = deps.get_engine()
    used = import_file(engine, CSV, name="Donors", filename="d.csv")
    spare = import_file(engine, CSV, name="Spare", filename="s.csv")
    with deps.session() as session:
        create_audience("Everyone", used.dataset_id, [], session=session)

    at = page_app("pages/audiences.py", "staff")
    at.session_state["aud_dataset_id"] = spare.dataset_id
    at.run()
    next(b for b in at.button if b.key == "ds_delete").click().run()
    assert not at.exception
    assert any(b.key == "ds_delete_yes" for b in at.button)
    assert "Delete **Spare (2 rows)** and its rows?" in _dialog_text(at)

    at = page_app("pages/audiences.py", "staff")
    at.session_state["aud_dataset_id"] = used.dataset_id
    at.run()
    next(b for b in at.button if b.key == "ds_delete").click().run()
    assert not at.exception
    assert not any(b.key == "ds_delete_yes" for b in at.button)
    assert "used by 1 audience(s): **Everyone**" in _dialog_text(at)
