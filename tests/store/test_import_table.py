"""The table an import writes: on SQLite, `_row` is the table's own rowid (no second index)."""

from __future__ import annotations

from store.importer import import_file


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
