"""`python -m bench live`: a data set that changes, and three pathways that follow it.

Steps, each against the simulator in its own process (`python -m simulator`): a generated file
v1 is imported; one audience (tier = in) with three pathways on it (a Data Extension with Mirror,
a membership flag on a shared DE, a journey entry event), each run once in a worker child
(`bench.child`); then v2 (5% of rows changed, 2% removed, 2% added, 1% moved out of the audience
by a changed tier) is applied with `python -m store refresh` (the refresh the page and schedules
use) in a child; the three pathways run again, and each is compared row by row with the
simulator's state. Then the same with a database source (a SQLite file, `store.sql_source`),
changed the same way in SQL and refreshed with `python -m store refresh --source`.

Figures: first_seconds (the three first runs), refresh_seconds, resync_seconds (the three runs
after the refresh), resync_rows_sent (rows sent + deleted by those runs) against
expected_changes (what they must send: changed and added members, and each leaver once for
Mirror and the flag; only the added members for the journey), peak_rss_mb (the largest product
child: worker runs and refreshes; the simulator and this driver are other processes).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import common
from bench.common import BenchStore, SimProcess, SimSettings
from bench.live_rows import (
    COLUMNS,
    FLAG,
    added,
    compare_all,
    expected_changes,
    row,
    rows_of,
    write_csv,
)

KINDS = ("data_extension_mirror", "membership_flag", "journey_event")


# ------------------------------------------------------------------------------ the store side


def refresh_child(store: BenchStore, args: list[str]) -> float:
    """`python -m store refresh ...` in a child process; its seconds."""
    started = time.perf_counter()
    common.run_python(
        ["-m", "store", "refresh", "--who", "bench", *args],
        "The refresh",
        DATABASE_URL=store.database_url,
    )
    return time.perf_counter() - started


def add_pathways(
    store: BenchStore, sim: SimProcess, tag: str, category_id: int, audience_id: int
) -> dict[str, tuple[int, str]]:
    """The three pathways on the audience: kind -> (pathway id, DE or event key)."""
    from sqlmodel import Session

    from bench.push import naive_client
    from sfmc.types import DataExtension, DeField
    from store.pathways import create_pathway, set_mapping

    shared = f"shared_{tag}"
    naive_client(sim).create_data_extension(
        DataExtension(
            shared,
            shared,
            category_id=category_id,
            fields=(
                DeField("ContactKey", "Text", 50, is_primary_key=True, is_required=True),
                DeField("Email", "EmailAddress", 254),
            ),
        )
    )
    event = f"APIEvent-live-{tag}"
    fields = [
        {"name": "ContactKey", "type": "Text", "maxLength": 50, "isRequired": True},
        {"name": "EmailAddress", "type": "EmailAddress", "maxLength": 254},
        {"name": "FirstName", "type": "Text", "maxLength": 100},
    ]
    sim.http.post(
        f"{sim.base_url}/_sim/eventdefinitions",
        json={"eventDefinitionKey": event, "dataExtensionKey": f"entry_{tag}", "fields": fields},
        timeout=60,
    ).raise_for_status()
    key = {"source_column": "id", "is_primary_key": True, "required": True, "length": 50}
    email = {"source_column": "email", "field_type": "EmailAddress", "length": 254}
    first = {"source_column": "first_name", "length": 100}
    plans = {
        "data_extension_mirror": (
            f"mirror_{tag}", "data_extension", "mirror", {},
            [{**key, "destination_field": "Id"}, {**email, "destination_field": "Email"},
             {**first, "destination_field": "FirstName"}],
        ),
        "membership_flag": (
            shared, "membership_flag", "upsert", {"flag_field": FLAG},
            [{**key, "destination_field": "ContactKey"}, {**email, "destination_field": "Email"}],
        ),
        "journey_event": (
            "", "journey_event", "upsert", {"event_definition_key": event},
            [{**key, "destination_field": "ContactKey"},
             {**email, "destination_field": "EmailAddress"},
             {**first, "destination_field": "FirstName"}],
        ),
    }  # fmt: skip
    made: dict[str, tuple[int, str]] = {}
    with Session(store.engine) as session:
        for kind, (de_key, dest, method, options, mapping) in plans.items():
            p = create_pathway(
                audience_id,
                store.connection_id,
                f"Live {kind} {tag}",
                de_key,
                session=session,
                destination_kind=dest,
                method=method,
                options=options,
                category_id=category_id,
                delete_guard_share=0.5,
            )
            set_mapping(p.id, [{"ordinal": i, **m} for i, m in enumerate(mapping)], session=session)
            made[kind] = (int(p.id), de_key or event)
    return made


def run_all(store: BenchStore, pathways: dict[str, tuple[int, str]]) -> dict[str, Any]:
    """Run the three pathways one after the other in worker children."""
    out: dict[str, Any] = {"seconds": 0.0, "peak": 0.0, "runs": {}, "peaks": {}}
    for kind, (pathway_id, _key) in pathways.items():
        child = common.run_worker_child(store, pathway_id)
        run = child["run"]
        if run.state != "succeeded":
            msg = f"The {kind} run ended {run.state}: {run.error or run.message}"
            raise RuntimeError(msg)
        out["seconds"] += child["seconds"]
        out["peak"] = max(out["peak"], child["peak_rss_mb"])
        out["peaks"][kind] = child["peak_rss_mb"]
        out["runs"][kind] = run
    return out


# ------------------------------------------------------------------------------ the two parts


def sql_source(path: Path, rows: int) -> str:
    """A SQLite database standing in for the organisation's CRM, holding v1."""
    with sqlite3.connect(path) as db:
        db.execute(f"CREATE TABLE donors ({', '.join(COLUMNS)})")
        db.executemany(
            f"INSERT INTO donors VALUES ({', '.join('?' * len(COLUMNS))})",
            (tuple(r.values()) for r in rows_of(rows, "S", v2=False)),
        )
    return f"sqlite:///{path}"


def sql_v2(path: Path, rows: int) -> None:
    """The same changes as the file's v2, made in SQL by the CRM."""
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE donors SET email = 'donor' || n || '.v2@example.org', "
            "first_name = 'New ' || n WHERE n % 20 = 0"
        )
        db.execute("DELETE FROM donors WHERE n % 50 = 1")
        db.execute("UPDATE donors SET tier = 'out' WHERE n % 100 = 2")
        db.executemany(
            f"INSERT INTO donors VALUES ({', '.join('?' * len(COLUMNS))})",
            (tuple(row(i, "S", v2=True).values()) for i in added(rows)),
        )


def one_part(
    store: BenchStore,
    sim: SimProcess,
    rows: int,
    *,
    sql: Path | None,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """v1, three first runs, the refresh to v2, three runs again, the comparison.

    `sql`: the folder of the database source (outside the store's data directory, which a
    source may not read), or None for the file part.
    """
    from sqlmodel import Session

    from store.audiences import create_audience
    from store.importer import import_file
    from store.refresh import create_sql_dataset

    tag = "sql" if sql else "file"
    name = f"live {tag}"
    started = time.perf_counter()
    if sql:
        url = sql_source(sql / "crm.db", rows)
        ds_id = create_sql_dataset(
            store.engine, name, url, "SELECT * FROM donors", who="bench", keys=["id"]
        ).dataset_id
    else:
        v1 = store.directory / "v1.csv"
        write_csv(v1, rows, "F", v2=False)
        ds_id = import_file(store.engine, v1, name=name, filename="v1.csv").dataset_id
    say(f"{tag}: v1 of {rows:,} rows in the store in {time.perf_counter() - started:.1f} s")
    with Session(store.engine) as session:
        audience_id = int(
            create_audience(
                f"members {tag}",
                ds_id,
                [{"column": "tier", "op": "equals", "value": "in"}],
                session=session,
            ).id
        )
    pathways = add_pathways(store, sim, tag, common.root_folder_id(sim), audience_id)
    first = run_all(store, pathways)
    say(f"{tag}: first runs {first['seconds']:.1f} s")
    if sql:
        sql_v2(sql / "crm.db", rows)
        refresh_s = refresh_child(store, ["--dataset", name, "--source"])
    else:
        v2 = store.directory / "v2.csv"
        write_csv(v2, rows, "F", v2=True)
        refresh_s = refresh_child(store, ["--dataset", name, str(v2), "--key", "id"])
    say(f"{tag}: refresh {refresh_s:.1f} s")
    again = run_all(store, pathways)
    say(f"{tag}: runs after the refresh {again['seconds']:.1f} s")
    examples: list[str] = []
    mismatched = compare_all(sim, pathways, rows, examples)
    sent = {k: r.rows_sent + r.rows_deleted for k, r in again["runs"].items()}
    return {
        "first_seconds": first["seconds"],
        "refresh_seconds": refresh_s,
        "resync_seconds": again["seconds"],
        "resync_rows_sent": sum(sent.values()),
        "sent_by_kind": sent,
        "changes_by_kind": {
            k: [r.rows_new, r.rows_changed, r.rows_left] for k, r in again["runs"].items()
        },
        "mismatched_rows": mismatched,
        "examples": examples,
        "peak": max(first["peak"], again["peak"]),
        "peaks": {k: max(first["peaks"][k], again["peaks"][k]) for k in first["peaks"]},
    }


def run_live(
    rows: int, settings: SimSettings, say: Callable[[str], None] = print
) -> dict[str, Any]:
    """Both parts against one simulator process; returns the JSON line's content."""
    import resource

    from sqlmodel import Session

    from simulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
    from store.connections import create_connection
    from store.db import create_db_and_tables, make_engine

    with common.temp_dir() as tmp, common.temp_dir() as crm, SimProcess(settings) as sim:
        directory = Path(tmp)
        common.prepare_environment(directory)
        load_before = os.getloadavg()[0]
        url = f"sqlite:///{directory / 'bench.db'}"
        engine = make_engine(url)
        create_db_and_tables(engine)
        with Session(engine) as session:
            conn = create_connection(
                "bench simulator", sim.auth_uri, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, session=session
            )
            conn_id = int(conn.id)
        store = BenchStore(directory, url, engine, 0, 0, conn_id, "", 0.0)
        file_part = one_part(store, sim, rows, sql=None, say=say)
        sql_part = one_part(store, sim, rows, sql=Path(crm), say=say)
        children_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        engine.dispose()
    expected = expected_changes(rows)
    return {
        "rows": rows,
        "kinds": list(KINDS),
        "first_seconds": round(file_part["first_seconds"], 2),
        "refresh_seconds": round(file_part["refresh_seconds"], 2),
        "resync_seconds": round(file_part["resync_seconds"], 2),
        "resync_rows_sent": file_part["resync_rows_sent"],
        "expected_changes": sum(expected.values()),
        "sent_by_kind": file_part["sent_by_kind"],
        "expected_by_kind": expected,
        "changes_by_kind": file_part["changes_by_kind"],
        "mismatched_rows": file_part["mismatched_rows"],
        "sql_source_mismatched_rows": sql_part["mismatched_rows"],
        "sql_first_seconds": round(sql_part["first_seconds"], 2),
        "sql_refresh_seconds": round(sql_part["refresh_seconds"], 2),
        "sql_resync_seconds": round(sql_part["resync_seconds"], 2),
        "sql_resync_rows_sent": sql_part["resync_rows_sent"],
        "peak_rss_mb": round(max(file_part["peak"], sql_part["peak"], children_peak), 1),
        "peak_rss_mb_by_run": file_part["peaks"],
        "mismatch_examples": file_part["examples"] + sql_part["examples"],
        "default_sim_settings": settings.is_default(),
        "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        **common.machine(),
    }


def human(result: dict[str, Any]) -> list[str]:
    lines = [
        f"live {result['rows']:,} rows, 3 pathways ({', '.join(result['kinds'])}): first runs "
        f"{result['first_seconds']:.1f} s, refresh {result['refresh_seconds']:.1f} s, runs "
        f"after it {result['resync_seconds']:.1f} s",
        f"  re-sync sent {result['resync_rows_sent']:,} (expected {result['expected_changes']:,}), "
        f"mismatched {result['mismatched_rows']:,}, database source mismatched "
        f"{result['sql_source_mismatched_rows']:,}, peak RSS {result['peak_rss_mb']:.0f} MB",
    ]
    lines += [f"  mismatch: {e}" for e in result["mismatch_examples"]]
    return lines


def _main(args: Any) -> int:
    result = run_live(args.rows, SimSettings.from_args(args))
    common.emit(result, args.json, human(result))
    ok = result["mismatched_rows"] == 0 and result["sql_source_mismatched_rows"] == 0
    return 0 if ok else 1


def register(subparsers: Any) -> None:
    """Add `live` to `python -m bench`."""
    parser = subparsers.add_parser(
        "live", help="a data set refreshed under three pathways (file and database source)"
    )
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    common.add_sim_args(parser)
    parser.set_defaults(func=_main)
