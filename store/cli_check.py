"""`python -m store check [--json]`: verify a store and count what it holds.

It changes nothing (not even an upgrade). Problems are printed one a line, each saying what to
do; with `--json` the output ends with one JSON line (counts, `secrets_ok`, `schema_ok`,
`problems`). The exit status is 1 when anything is wrong, 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from sqlalchemy import column as sa_column
from sqlalchemy import func, inspect, select, table, text
from sqlalchemy.engine import Connection

from store.crypto import SecretKeyError, decrypt_secret, load_key, stored_secrets
from store.db import make_engine
from store.migrations.apply import head_revision, store_revision
from store.migrations.schema import schema_differences

# JSON name -> table of the models it counts.
COUNTED = {
    "users": "appuser",
    "connections": "connection",
    "datasets": "dataset",
    "audiences": "audience",
    "pathways": "pathway",
    "runs": "syncrun",
}


def _count(conn: Connection, name: str) -> int:
    return int(conn.execute(select(func.count()).select_from(table(name))).scalar_one())


def _schema(conn: Connection, problems: list[str]) -> bool:
    revision, head = store_revision(conn), head_revision()
    if revision != head:
        problems.append(
            f"The store is at schema revision {revision or 'none'}, this version expects {head}: "
            "run `python -m store upgrade`."
        )
        return False
    diffs = schema_differences(conn)
    if diffs:
        problems.append(
            f"The store's schema differs from the models in {len(diffs)} place(s) although it is "
            "stamped current; restore a backup or report it (first: "
            f"{str(diffs[0])[:200]})."
        )
    return not diffs


def _datasets(conn: Connection, problems: list[str]) -> int:
    """Sum of rows over data sets, checking each one's own table against its row count."""
    tables = set(inspect(conn).get_table_names())
    ds = table("dataset", sa_column("name"), sa_column("table_name"), sa_column("row_count"))
    total = 0
    for name, table_name, row_count in conn.execute(
        select(ds.c.name, ds.c.table_name, ds.c.row_count)
    ):
        if table_name not in tables:
            problems.append(
                f"Data set {name!r} has lost its rows table {table_name}; delete the data set and upload it again."
            )
            continue
        found = _count(conn, table_name)
        if found != row_count:
            problems.append(
                f"Data set {name!r} says {row_count} rows but holds {found}; upload a new version of it."
            )
        total += found
    return total


def _secrets(conn: Connection, problems: list[str]) -> bool:
    try:
        load_key()
    except SecretKeyError as exc:
        problems.append(str(exc))
        return False
    ok = True
    for secret in stored_secrets(conn):
        try:
            decrypt_secret(secret.token, what=f"secret ({secret.where})")
        except SecretKeyError as exc:
            problems.append(str(exc))
            ok = False
    return ok


def _integrity(conn: Connection, problems: list[str]) -> None:
    if conn.dialect.name != "sqlite":
        return  # PostgreSQL enforces its keys and checksums itself
    result = conn.execute(text("PRAGMA integrity_check")).scalars().all()
    if result != ["ok"]:
        problems.append(f"SQLite reports damage ({'; '.join(result[:3])}); restore a backup.")
    broken = conn.execute(text("PRAGMA foreign_key_check")).all()
    if broken:
        problems.append(
            f"{len(broken)} row(s) point at rows that do not exist (first in table "
            f"{broken[0][0]}); restore a backup."
        )


def check_store(conn: Connection) -> dict[str, Any]:
    """The report of `python -m store check` (see the module docstring)."""
    problems: list[str] = []
    schema_ok = _schema(conn, problems)
    present = set(inspect(conn).get_table_names())
    report: dict[str, Any] = {
        key: _count(conn, name) if name in present else 0 for key, name in COUNTED.items()
    }
    report["dataset_rows"] = _datasets(conn, problems) if "dataset" in present else 0
    report["secrets_ok"] = _secrets(conn, problems)
    _integrity(conn, problems)
    report.update(schema_ok=schema_ok, problems=problems, ok=not problems)
    return report


def run(args: argparse.Namespace) -> int:
    """Check; 0 when the store is sound, 1 when anything is wrong."""
    engine = make_engine(args.database_url)
    try:
        with engine.connect() as conn:
            report = check_store(conn)
    finally:
        engine.dispose()
    for problem in report["problems"]:
        sys.stdout.write(f"problem: {problem}\n")
    if args.json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        counts = ", ".join(f"{k} {report[k]}" for k in (*COUNTED, "dataset_rows"))
        sys.stdout.write(f"{counts}; secrets {'ok' if report['secrets_ok'] else 'NOT ok'}\n")
    return 0 if report["ok"] else 1


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `check` to `python -m store`."""
    parser = subparsers.add_parser("check", help=__doc__.splitlines()[0], description=__doc__)
    parser.add_argument("--database-url", default=None, help="default: DATABASE_URL or ./data")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.set_defaults(func=run)
