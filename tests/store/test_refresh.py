"""New versions of a data set (`store.refresh`): replace, upsert, history, row identity.

Run on SQLite here and on PostgreSQL by `test_refresh_postgres.py`.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session

from store.audience_rows import count_rows
from store.audiences import create_audience
from store.dataset_versions import list_versions
from store.datasets import get_dataset, list_datasets
from store.importer import import_file
from store.refresh import refresh_dataset
from store.revisions import ensure_row_revisions

V1 = b"id,name,amount\n1,Ann,10\n2,Bob,20\n3,Cy,30\n4,Di,40\n"


def _rows(engine, ds_id):
    with Session(engine) as s:
        ds = get_dataset(ds_id, session=s)
        cols = ", ".join(c["name"] for c in ds.columns)
        table = ds.table_name
    with engine.connect() as conn:
        return {
            r[1]: (r[0], r[-1], *r[2:-1])
            for r in conn.execute(text(f"SELECT _row, {cols}, _rev FROM {table} ORDER BY _row"))
        }


def _v1(engine):
    rep = import_file(engine, V1, name="supporters", filename="v1.csv")
    ensure_row_revisions(engine, rep.table_name)  # as the first sync does
    return rep.dataset_id


def test_replace_by_key_updates_only_changed_rows_and_keeps_row_numbers(engine):
    ds_id = _v1(engine)
    refresh_dataset(engine, ds_id, b"id,name,amount\n1,Ann,10\n", filename="x.csv", keys=["id"])
    rep = refresh_dataset(
        engine,
        "supporters",
        b"id,name,amount\n1,Ann,10\n2,Bob,25\n4,Di,40\n5,Ed,50\n",
        filename="v2.csv",
        keys=["id"],
        who="admin",
    )
    assert (rep.rows_added, rep.rows_changed, rep.rows_removed) == (3, 0, 0)
    # Rows 2, 3, 4 left in the first refresh; their numbers are never given again.
    rows = _rows(engine, ds_id)
    assert rows["1"][:2] == (1, 0)  # untouched: same number, same revision
    assert min(r[0] for k, r in rows.items() if k != "1") > 4
    with Session(engine) as s:
        versions = list_versions(ds_id, session=s)
        ds = get_dataset(ds_id, session=s)
    assert [v.version for v in versions] == [3, 2, 1]
    assert versions[0].who == "admin"
    assert versions[0].source == "v2.csv"
    assert versions[1].rows_removed == 3
    assert versions[2].mode == "import"
    assert ds.row_count == 4
    assert ds.source_filename == "v2.csv"
    assert ds.refresh_keys == ["id"]


def test_changed_row_gets_new_revision_removed_rows_go(engine):
    ds_id = _v1(engine)
    before = _rows(engine, ds_id)
    rep = refresh_dataset(
        engine,
        ds_id,
        b"id,name,amount\n1,Ann,10\n2,Bob,21\n4,Di,40\n9,Flo,90\n",
        filename="v2.csv",
        keys=["id"],
    )
    assert (rep.rows_added, rep.rows_changed, rep.rows_removed, rep.row_count) == (1, 1, 1, 4)
    after = _rows(engine, ds_id)
    assert after["1"] == before["1"]
    assert after["2"][0] == before["2"][0]
    assert after["2"][1] == before["2"][1] + 1
    assert after["2"][3] == "21"
    assert "3" not in after
    assert after["9"][0] == 5
    assert "+1 new · 1 changed · 1 removed" in rep.summary()


def test_upsert_keeps_rows_missing_from_the_file_unless_asked(engine):
    ds_id = _v1(engine)
    rep = refresh_dataset(
        engine,
        ds_id,
        b"id,name,amount\n2,Bob,22\n7,Gus,70\n",
        filename="p.csv",
        mode="upsert",
        keys=["id"],
    )
    assert (rep.rows_added, rep.rows_changed, rep.rows_removed, rep.row_count) == (1, 1, 0, 5)
    rep = refresh_dataset(
        engine,
        ds_id,
        b"id,name,amount\n2,Bob,22\n7,Gus,70\n",
        filename="p.csv",
        mode="upsert",
        keys=["id"],
        remove_missing=True,
    )
    assert (rep.rows_added, rep.rows_changed, rep.rows_removed, rep.row_count) == (0, 0, 3, 2)
    assert set(_rows(engine, ds_id)) == {"2", "7"}


def test_new_column_becomes_available_and_filters_follow(engine):
    ds_id = _v1(engine)
    with Session(engine) as s:
        aud = create_audience(
            "big", ds_id, [{"column": "amount", "op": "greater_than", "value": "15"}], session=s
        )
        aud_id = aud.id
    assert count_rows(engine, aud_id) == 3
    rep = refresh_dataset(
        engine,
        ds_id,
        b"id,name,amount,region\n1,Ann,100,N\n2,Bob,5,S\n3,Cy,30,N\n4,Di,40,S\n",
        filename="v2.csv",
        keys=["id"],
    )
    assert rep.columns_added == ["region"]
    assert rep.rows_changed == 4
    assert count_rows(engine, aud_id) == 3  # Ann joined, Bob left: the audience follows
    with Session(engine) as s:
        assert "region" in [c["name"] for c in get_dataset(ds_id, session=s).columns]


def test_type_change_recomputes_typed_companions(engine):
    ds_id = _v1(engine)
    with Session(engine) as s:
        aud_id = create_audience(
            "d", ds_id, [{"column": "name", "op": "equals", "value": "ann"}], session=s
        ).id
    rep = refresh_dataset(
        engine,
        ds_id,
        b"id,name,amount\n1,Ann,2021-01-05\n2,Bob,2022-03-01\n",
        filename="v2.csv",
        keys=["id"],
    )
    assert rep.rows_changed == 2
    with Session(engine) as s:
        ds = get_dataset(ds_id, session=s)
    assert {c["name"]: c["type"] for c in ds.columns}["amount"] == "date"
    with engine.connect() as conn:
        got = conn.execute(text(f"SELECT amount__d FROM {ds.table_name} ORDER BY _row")).all()
    assert [r[0] for r in got] == ["2021-01-05", "2022-03-01"]
    assert count_rows(engine, aud_id) == 1


def test_replace_without_key_swaps_all_rows(engine):
    ds_id = _v1(engine)
    rep = refresh_dataset(engine, ds_id, b"id,name,amount\n8,Hal,80\n", filename="v2.csv")
    assert (rep.rows_added, rep.rows_removed, rep.row_count) == (1, 4, 1)
    assert _rows(engine, ds_id)["8"][0] == 5


def test_staging_data_set_is_never_listed_and_is_gone_after(engine):
    ds_id = _v1(engine)
    seen = []

    def look(_progress):
        with Session(engine) as s:
            seen.append([d.name for d in list_datasets(session=s)])

    refresh_dataset(engine, ds_id, V1, filename="v1.csv", keys=["id"], on_progress=look)
    assert seen
    assert all(names == ["supporters"] for names in seen)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM dataset")).scalar_one() == 1
