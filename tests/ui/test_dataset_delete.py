"""Deleting a data set (issue 21 item 2): staff can remove one that no audience uses.

Before, no page could delete a data set, so a broken or mistaken upload stayed selected on
Audiences for good.
"""

from __future__ import annotations

import pytest
from sqlalchemy import inspect
from sqlmodel import Session

from store import audiences, audit
from store.errors import InUseError
from store.importer import import_file
from tests.ui.conftest import CSV
from ui import audiences as uaud


def test_unused_data_set_is_deleted_with_its_table_and_an_audit_entry(engine):
    report = import_file(engine, CSV, name="Mistake", filename="m.csv")
    assert uaud.delete_dataset(engine, report.dataset_id, who="staff1") == "Mistake"
    assert report.table_name not in inspect(engine).get_table_names()
    with Session(engine) as session:
        entries = audit.list_audit(session=session)
    assert (entries[0].who, entries[0].action, entries[0].detail) == (
        "staff1",
        "delete data set",
        "Mistake",
    )
    with pytest.raises(LookupError, match="no longer exists"):
        uaud.delete_dataset(engine, report.dataset_id, who="staff1")


def test_data_set_in_use_says_which_audiences_use_it(engine):
    report = import_file(engine, CSV, name="Donors", filename="d.csv")
    with Session(engine) as session:
        audiences.create_audience("Big givers", report.dataset_id, [], False, session=session)
    with pytest.raises(InUseError, match="used by 1 audience\\(s\\): 'Big givers'"):
        uaud.delete_dataset(engine, report.dataset_id, who="staff1")
    assert report.table_name in inspect(engine).get_table_names()
