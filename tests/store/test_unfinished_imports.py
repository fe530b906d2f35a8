"""A data set exists only once its import has succeeded; what a crash leaves is removed at start.

The audit (issue 21 item 2) found an empty "d2 (0 rows)" after a restart, selected by default on
Audiences and failing with OperationalError for every staff user: the `DataSet` row was
committed before its table existed. Now the table is written first and the row last.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest
from sqlalchemy import inspect, text
from sqlmodel import Session, func, select

from store.audiences import create_audience
from store.datasets import delete_dataset, list_datasets, remove_unfinished
from store.db import create_db_and_tables
from store.errors import DataSetError, InUseError
from store.importer import ImportProgress, import_file
from store.models import DataSet
from tests.fixtures import ROOT

CSV = b"email,name\n" + b"".join(b"p%d@example.org,N%d\n" % (i, i) for i in range(40))


def _tables(engine) -> set[str]:
    return {t for t in inspect(engine).get_table_names() if t.startswith("ds_")}


def _datasets(engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(DataSet)).one()


def test_data_set_is_not_listed_while_importing(engine, monkeypatch):
    monkeypatch.setattr("store.importer.BATCH_ROWS", 10)
    listed: list[int] = []

    def look(_progress: ImportProgress) -> None:
        with Session(engine) as session:
            listed.append(len(list_datasets(session=session)))

    report = import_file(engine, CSV, name="d2", filename="d2.csv", on_progress=look)
    assert listed
    assert set(listed) == {0}  # was 1 (an empty "d2 (0 rows)") before
    with Session(engine) as session:
        assert [d.name for d in list_datasets(session=session)] == ["d2"]
    assert report.rows_imported == 40


def test_name_taken_during_the_import_leaves_only_the_other(engine, monkeypatch):
    monkeypatch.setattr("store.importer.BATCH_ROWS", 10)
    monkeypatch.setattr("store.importer.COMMIT_EVERY_ROWS", 10)  # SQLite: one writer at a time

    def race(progress: ImportProgress) -> None:
        if progress.rows_imported == 10:
            import_file(engine, b"email\nz@example.org\n", name="same", filename="b.csv")

    with pytest.raises(DataSetError, match="'same' exists already"):
        import_file(engine, CSV, name="same", filename="a.csv", on_progress=race)
    assert _datasets(engine) == 1
    assert len(_tables(engine)) == 1


def _leave(engine, **fields) -> None:
    """A `DataSet` row as versions before this one left it after a crash (no rows)."""
    with Session(engine) as session:
        session.add(DataSet(source_filename="d2.csv", **fields))
        session.commit()


def test_start_up_removes_what_old_versions_left(engine):
    kept = import_file(engine, CSV, name="kept", filename="k.csv")
    _leave(engine, name="d2", table_name="ds_0123456789abcdef")  # row, no table
    _leave(engine, name="half", table_name="ds_fedcba9876543210")  # row, table, no row count
    with engine.begin() as conn:
        conn.execute(text('CREATE TABLE "ds_fedcba9876543210" (_row INTEGER)'))
        conn.execute(text('CREATE TABLE "ds_00000000000000aa" (_row INTEGER)'))  # no row
    used = import_file(engine, CSV, name="used", filename="u.csv")
    with Session(engine) as session:
        create_audience("Everyone", used.dataset_id, [], session=session)
    with engine.begin() as conn:  # an audience's data set without its table is kept (visible)
        conn.execute(text(f'DROP TABLE "{used.table_name}"'))
    create_db_and_tables(engine)  # start-up
    with Session(engine) as session:
        assert sorted(d.name for d in list_datasets(session=session)) == ["kept", "used"]
    assert _tables(engine) == {kept.table_name}


def test_tables_without_a_data_set_are_dropped_once_their_import_is_over(engine):
    now = int(time.time())
    running = f"ds_{now:08x}_0000abcd"  # an import started now, perhaps in another process
    crashed = f"ds_{now - 3 * 3600:08x}_0000abcd"  # older than any import may run
    with engine.begin() as conn:
        for name in (running, crashed, "other_table"):
            conn.execute(text(f'CREATE TABLE "{name}" (_row INTEGER)'))
    with Session(engine) as session:
        removed = remove_unfinished(session=session, older_than=960)
    assert removed == [f"table {crashed}"]
    assert _tables(engine) == {running}
    assert "other_table" in inspect(engine).get_table_names()


CRASH = textwrap.dedent(
    """
    import os, sys
    from store.db import create_db_and_tables, make_engine
    from store.importer import import_file
    import store.importer
    store.importer.BATCH_ROWS = store.importer.COMMIT_EVERY_ROWS = 10
    engine = make_engine(sys.argv[1])
    create_db_and_tables(engine)
    def die(progress):
        if progress.rows_imported >= 20:
            os._exit(9)  # a killed server: no clean-up runs
    import_file(engine, sys.stdin.buffer.read(), name="d2", filename="d2.csv", on_progress=die)
    """
)


def test_a_killed_import_leaves_no_data_set_and_its_table_goes_at_start_up(
    engine, tmp_path, monkeypatch
):
    url = str(engine.url)
    done = subprocess.run(
        [sys.executable, "-c", CRASH, url], input=CSV, cwd=ROOT, timeout=60, check=False
    )
    assert done.returncode == 9
    assert _datasets(engine) == 0  # nothing listed, nothing to select by default
    (left,) = _tables(engine)
    create_db_and_tables(engine)  # a restart right away: the import might still be running
    assert _tables(engine) == {left}
    later = time.time() + 3 * 3600
    monkeypatch.setattr("store.datasets.time.time", lambda: later)
    create_db_and_tables(engine)  # a restart once no import can still be running
    assert _tables(engine) == set()
    assert _datasets(engine) == 0


def test_deleting_a_data_set_in_use_names_its_audiences(engine):
    report = import_file(engine, CSV, name="donors", filename="d.csv")
    with Session(engine) as session:
        for name in ("Zeta", "Alpha"):
            create_audience(name, report.dataset_id, [], session=session)
        with pytest.raises(InUseError, match=r"used by 2 audience\(s\): 'Alpha', 'Zeta'"):
            delete_dataset(report.dataset_id, session=session)
