"""The table an import writes: on SQLite, `_row` is the table's own rowid (no second index)."""

from __future__ import annotations

from sqlmodel import Session

from store.audience_rows import count_matching
from store.datasets import get_dataset
from store.importer import import_file
from store.refresh import refresh_dataset


def test_rows_are_numbered_by_the_rowid_itself(engine):
    data = b"id,name\n" + b"".join(f"{i},n{i}\n".encode() for i in range(1, 2_001))
    report = import_file(engine, data, name="rowid", filename="r.csv")
    table = report.table_name
    with engine.connect() as conn:
        indexes = conn.exec_driver_sql(f"PRAGMA index_list('{table}')").all()
        rows = conn.exec_driver_sql(f'SELECT _row, rowid, id FROM "{table}" ORDER BY _row').all()
    assert indexes == []  # BIGINT PRIMARY KEY would have one (sqlite_autoindex_...)
    assert [r[0] for r in rows] == list(range(1, 2_001))
    assert all(r[0] == r[1] == int(r[2]) for r in rows)


def test_a_table_made_before_with_a_bigint_row_still_refreshes_and_counts(engine):
    """Stores made by earlier versions keep their tables (`_row BIGINT` with its own index)."""
    report = import_file(engine, b"id,name\n1,Ann\n2,Bob\n3,Cy\n", name="old", filename="o.csv")
    table = report.table_name
    with engine.begin() as conn:
        conn.exec_driver_sql(f'ALTER TABLE "{table}" RENAME TO old_layout')
        conn.exec_driver_sql(
            f'CREATE TABLE "{table}" (_row BIGINT NOT NULL, id TEXT, name TEXT, PRIMARY KEY (_row))'
        )
        conn.exec_driver_sql(f'INSERT INTO "{table}" SELECT _row, id, name FROM old_layout')
        conn.exec_driver_sql("DROP TABLE old_layout")
        assert conn.exec_driver_sql(f"PRAGMA index_list('{table}')").all()  # the old layout
    refreshed = refresh_dataset(
        engine, "old", b"id,name\n2,Bo\n4,Di\n", filename="n.csv", mode="upsert", keys=["id"]
    )
    assert (refreshed.rows_added, refreshed.rows_changed) == (1, 1)
    with Session(engine) as session:
        ds = get_dataset(report.dataset_id, session=session)
    assert count_matching(engine, ds, []) == 4
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(f'SELECT _row, id, name FROM "{table}" ORDER BY _row').all()
    assert [tuple(r) for r in rows] == [
        (1, "1", "Ann"),
        (2, "2", "Bo"),
        (3, "3", "Cy"),
        (4, "4", "Di"),
    ]
