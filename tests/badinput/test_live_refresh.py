"""Bad new versions of a data set (issue 14): each a clear error, and the store unchanged.

Through `store.refresh.refresh_dataset` (what the Audiences page, the shell and schedules call)
and through `python -m store refresh`, whose exit status is 2 with the same message.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlmodel import Session, select

from store.__main__ import main as store_main
from store.audiences import create_audience
from store.connections import create_connection
from store.errors import DataSetError
from store.importer import import_file
from store.models import DataSet, DataSetVersion
from store.pathways import create_pathway, set_mapping
from store.refresh import refresh_dataset

V1 = b"id,email,region,amount\n1,a@x.org,N,10\n2,b@x.org,S,20\n3,c@x.org,N,30\n"


def store_state(engine) -> dict[str, Any]:
    """Everything a refused refresh must leave as it was: data sets, tables, rows, versions."""
    with Session(engine) as s:
        sets = [
            (d.name, d.table_name, d.columns, d.row_count, d.source_filename, d.refresh_keys)
            for d in s.exec(select(DataSet).order_by(DataSet.id))
        ]
        versions = len(s.exec(select(DataSetVersion)).all())
    tables = sorted(t for t in inspect(engine).get_table_names() if t.startswith("ds_"))
    rows = {}
    with engine.connect() as conn:
        for t in tables:
            rows[t] = sorted(map(tuple, conn.execute(text(f'SELECT * FROM "{t}"')).all()), key=str)
    return {"sets": sets, "versions": versions, "tables": tables, "rows": rows}


@pytest.fixture
def live(engine):
    """A data set with an audience filtering on `region` and a pathway mapping `email`."""
    rep = import_file(engine, V1, name="donors", filename="v1.csv")
    with Session(engine) as s:
        aud = create_audience(
            "North", rep.dataset_id, [{"column": "region", "op": "equals", "value": "N"}], session=s
        )
        conn = create_connection(
            "c", "https://x.auth.marketingcloudapis.com/", "id", "sec", session=s
        )
        path = create_pathway(aud.id, conn.id, "North DE", "north_de", session=s)
        set_mapping(
            path.id,
            [{"source_column": "email", "destination_field": "Email", "is_primary_key": True}],
            session=s,
        )
    return engine


CASES = {
    "other columns": (
        b"name,town\nAnn,York\n",
        {},
        "none of the columns",
    ),
    "without the key column": (
        b"email,region,amount\na@x.org,N,10\n",
        {"keys": ["id"]},
        "no key column id",
    ),
    "duplicate keys in upsert mode": (
        b"id,email,region,amount\n1,a@x.org,N,10\n1,z@x.org,S,11\n2,b@x.org,S,20\n",
        {"mode": "upsert", "keys": ["id"]},
        "Duplicate keys: 1 value",
    ),
    "empty key": (
        b"id,email,region,amount\n,a@x.org,N,10\n2,b@x.org,S,20\n",
        {"keys": ["id"]},
        "no value in the key column",
    ),
    "filtered column disappears": (
        b"id,email,amount\n1,a@x.org,10\n",
        {"keys": ["id"]},
        "audience 'North' filters on region",
    ),
    "mapped column disappears": (
        b"id,region,amount\n1,N,10\n",
        {"keys": ["id"]},
        "pathway 'North DE' (audience 'North') maps email",
    ),
    "upsert without a column": (
        b"id,email,region\n1,a@x.org,N\n",
        {"mode": "upsert", "keys": ["id"]},
        "lacks the column(s) amount",
    ),
    "upsert without key": (V1, {"mode": "upsert"}, "Upsert needs the key column"),
    "unknown key": (V1, {"keys": ["donor_no"]}, "has no column 'donor_no'"),
    "header only": (b"id,email,region,amount\n", {"keys": ["id"]}, "no data rows"),
    "unknown mode": (V1, {"mode": "merge"}, "Unknown refresh mode"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_new_version_is_refused_and_changes_nothing(live, case):
    body, options, words = CASES[case]
    before = store_state(live)
    with pytest.raises(DataSetError, match=re.escape(words)):
        refresh_dataset(live, "donors", body, filename="v2.csv", **options)
    assert store_state(live) == before


def test_unknown_data_set_is_named(engine):
    with pytest.raises(DataSetError, match="There is no data set 'nope'"):
        refresh_dataset(engine, "nope", V1, filename="v2.csv")


def test_shell_refuses_with_exit_2_and_the_same_message(live, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", str(live.url))
    bad = tmp_path / "v2.csv"
    bad.write_bytes(CASES["duplicate keys in upsert mode"][0])
    before = store_state(live)
    status = store_main(
        ["refresh", "--dataset", "donors", str(bad), "--mode", "upsert", "--key", "id"]
    )
    assert status == 2
    assert "Nothing changed: Duplicate keys" in capsys.readouterr().err
    assert store_state(live) == before
    assert store_main(["refresh", "--dataset", "donors", str(tmp_path / "missing.csv")]) == 2
    assert "No file at" in capsys.readouterr().err


def test_shell_refresh_prints_the_counts_and_refused_lines(live, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", str(live.url))
    good = tmp_path / "v2.csv"
    good.write_bytes(b"id,email,region,amount\n1,a@x.org,N,11\n4,d@x.org,N,40\n5,e@x.org\n")
    status = store_main(["refresh", "--dataset", "donors", str(good), "--key", "id"])
    out = capsys.readouterr().out
    assert status == 0
    assert "version 2: +1 new · 1 changed · 2 removed (2 rows)" in out
    assert "line 4:" in out
