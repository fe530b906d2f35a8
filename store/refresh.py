"""New versions of a data set: one refresh for the Audiences page, the shell, schedules and bench.

The new rows go through the importer as they do for a new data set (encoding, delimiter, types,
problem rows with line numbers) into a staging data set. Then, in ONE transaction, the data
set's own table is brought to the new version: rows matched on the key column(s) are updated
only where a value differs, rows missing from the file are deleted (replace mode, or upsert with
`remove_missing`) and new rows are inserted with row numbers never used before. Until that
commit, audiences and runs read the old version; a failed refresh changes nothing.

Rows keep their `_row` and an updated row gets a new `_rev` (`store.revisions`), so the sync
ledger sees exactly the added and changed rows: a run after a refresh sends only those. Without
a key column, a replace swaps every row (runs then compare every row with the ledger's hashes).

Everything that would make the new version break an audience or a pathway is checked before
the transaction: a file with none of the columns, a missing key column, duplicate or empty keys,
and a column that disappears while a filter or a mapping uses it (named).

Convention: Core with an engine (see `store/__init__.py`): the switch is set-based SQL.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import update
from sqlalchemy.engine import Connection as DbConnection
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from store import dataset_versions
from store.crypto import decrypt_secret, encrypt_secret
from store.datasets import ROW_COLUMN, STAGING_PREFIX, drop_dataset_table
from store.errors import DataSetError
from store.importer import ImportProgress, ImportReport, import_file
from store.models import DataSet
from store.refresh_checks import RefreshPlan, plan_refresh, resolve_keys
from store.revisions import REV_COLUMN, ensure_row_revisions
from store.sql_source import DEFAULT_TIMEOUT_S, check_query, parse_url, write_csv
from store.typed_columns import fill_shadows

SQL_SOURCE = "database query"  # the source a database-source version names in its history

_DATASET = DataSet.__table__  # type: ignore[attr-defined]


@dataclass
class RefreshReport:
    """What a refresh did: the version it made and its row counts, plus the import's report."""

    dataset_id: int
    name: str
    version: int
    mode: str
    rows_added: int
    rows_changed: int
    rows_removed: int
    row_count: int
    columns_added: list[str] = field(default_factory=list)
    columns_removed: list[str] = field(default_factory=list)
    rows_refused: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        """One sentence for the page and the shell."""
        text = (
            f"{self.name!r} is now version {self.version}: +{self.rows_added:,} new · "
            f"{self.rows_changed:,} changed · {self.rows_removed:,} removed "
            f"({self.row_count:,} rows)"
        )
        if self.columns_added:
            text += f"; new columns: {', '.join(self.columns_added)}"
        if self.columns_removed:
            text += f"; columns removed: {', '.join(self.columns_removed)}"
        if self.rows_refused:
            text += f"; {self.rows_refused:,} rows of the file refused (listed with line numbers)"
        return text + "."


def refresh_dataset(
    engine: Engine,
    dataset: int | str,
    source: str | os.PathLike[str] | bytes | IO[bytes],
    *,
    filename: str,
    mode: str = "replace",
    keys: Sequence[str] = (),
    remove_missing: bool = False,
    who: str = "",
    source_label: str | None = None,
    on_progress: Callable[[ImportProgress], None] | None = None,
) -> RefreshReport:
    """Bring a data set to a new version of its rows, atomically.

    Args:
        engine: the store.
        dataset: the data set's id or name.
        source: the new file (path, bytes or binary file object), read like an upload.
        filename: the file's name (`.xlsx` is read as a workbook).
        mode: "replace" (the file is the whole data set) or "upsert" (the file's rows are
            added or updated by key; other rows stay unless `remove_missing`).
        keys: the column(s) that identify a row (names or headers); replace without keys
            swaps every row. Default: the keys of the last refresh.
        remove_missing: in upsert mode, delete the rows whose key is not in the file.
        who: the user (or "schedule") for the version history.
        source_label: what the history names as the source (default: `filename`).
        on_progress: the importer's progress callback.

    Raises:
        DataSetError: the file or the options cannot make a new version (what to fix is in
            the message); the data set is unchanged then.
    """
    started = time.monotonic()
    ds = _load(engine, dataset)
    keys = resolve_keys(ds, list(keys) or list(ds.refresh_keys or []), mode)
    staging_name = f"{STAGING_PREFIX}{ds.id} {secrets.token_hex(4)}"
    imported = import_file(
        engine, source, name=staging_name, filename=filename, on_progress=on_progress
    )
    try:
        with Session(engine) as session:
            new = session.get(DataSet, imported.dataset_id)
            assert new is not None
            session.expunge(new)
        plan = plan_refresh(engine, ds, new, mode=mode, keys=keys, remove_missing=remove_missing)
        label = source_label if source_label is not None else filename
        ensure_row_revisions(engine, ds.table_name)  # what the first sync would add
        report = _switch(engine, ds, new, plan, mode=mode, who=who, label=label)
    finally:
        _drop_new(engine, imported.dataset_id)
    if plan.refill:
        fill_shadows(engine, _final(ds, plan), plan.held)
    return _finish(report, imported, started)


def _finish(report: RefreshReport, imported: ImportReport, started: float) -> RefreshReport:
    report.rows_refused = imported.rows_refused
    report.problems = imported.problems
    report.notes = imported.notes
    report.seconds = round(time.monotonic() - started, 3)
    return report


def _load(engine: Engine, dataset: int | str) -> DataSet:
    with Session(engine) as session:
        if isinstance(dataset, int):
            ds = session.get(DataSet, dataset)
        else:
            ds = session.exec(select(DataSet).where(DataSet.name == dataset)).first()
        if ds is None:
            msg = f"There is no data set {dataset!r}; check its name on the Audiences page."
            raise DataSetError(msg)
        session.expunge(ds)
    return ds


def _switch(
    engine: Engine, ds: DataSet, new: DataSet, plan: RefreshPlan, *, mode: str, who: str, label: str
) -> RefreshReport:
    """Apply the new version to the data set's table and describe it, in one transaction."""
    q = engine.dialect.identifier_preparer.quote
    assert ds.id is not None
    with engine.begin() as conn:
        for name in plan.added:
            conn.exec_driver_sql(f"ALTER TABLE {q(ds.table_name)} ADD COLUMN {q(name)} TEXT")
        _, high = dataset_versions.last_version(conn, ds.id)
        high = max(high, _max_row(conn, ds.table_name))
        if plan.keys:
            changed, removed, added = _match_and_apply(conn, ds, new, plan, high)
        else:
            removed = conn.exec_driver_sql(f"DELETE FROM {q(ds.table_name)}").rowcount
            added = _insert_new(conn, ds, new, plan, high, only_unmatched=False)
            changed = 0
        for name in plan.removed + plan.drop_shadows:
            conn.exec_driver_sql(f"ALTER TABLE {q(ds.table_name)} DROP COLUMN {q(name)}")
        row_count = int(
            conn.exec_driver_sql(f"SELECT COUNT(*) FROM {q(ds.table_name)}").scalar_one()
        )
        high = max(high, _max_row(conn, ds.table_name))
        values: dict[str, Any] = {
            "columns": plan.columns,
            "row_count": row_count,
            "problems": new.problems,
            "refresh_keys": plan.keys or None,
        }
        if not ds.sql_query:
            values["source_filename"] = new.source_filename
        conn.execute(update(_DATASET).where(_DATASET.c.id == ds.id).values(**values))
        counts = {
            "rows_added": added,
            "rows_changed": changed,
            "rows_removed": removed,
            "row_count": row_count,
            "high_row": high,
        }
        if dataset_versions.last_version(conn, ds.id)[0] == 0:
            _record_first(conn, ds, who)
        version = dataset_versions.record_version(
            conn, ds.id, who=who, source=label, mode=mode, counts=counts
        )
    return RefreshReport(
        dataset_id=ds.id,
        name=ds.name,
        version=version,
        mode=mode,
        rows_added=added,
        rows_changed=changed,
        rows_removed=removed,
        row_count=row_count,
        columns_added=plan.added,
        columns_removed=plan.removed,
    )


def _record_first(conn: DbConnection, ds: DataSet, who: str) -> None:
    """Version 1 for a data set imported before versions were kept."""
    assert ds.id is not None
    counts = {"rows_added": ds.row_count, "row_count": ds.row_count, "high_row": ds.row_count}
    dataset_versions.record_version(
        conn, ds.id, who="", source=ds.source_filename, mode="import", counts=counts
    )


def _max_row(conn: DbConnection, table: str) -> int:
    q = conn.dialect.identifier_preparer.quote
    found = conn.exec_driver_sql(f"SELECT MAX({q(ROW_COLUMN)}) FROM {q(table)}").scalar()
    return int(found or 0)


def _match_and_apply(
    conn: DbConnection, ds: DataSet, new: DataSet, plan: RefreshPlan, high: int
) -> tuple[int, int, int]:
    """Update changed rows, delete leavers, insert newcomers; (changed, removed, added)."""
    q = conn.dialect.identifier_preparer.quote
    old_t, new_t = q(ds.table_name), q(new.table_name)
    key_cols = ", ".join(q(k) for k in plan.keys)
    index_old, index_new = q(f"{ds.table_name}_refresh_key"), q(f"{new.table_name}_key")
    conn.exec_driver_sql(f"CREATE INDEX {index_old} ON {old_t} ({key_cols})")
    conn.exec_driver_sql(f"CREATE INDEX {index_new} ON {new_t} ({key_cols})")
    differs = "IS NOT" if conn.dialect.name == "sqlite" else "IS DISTINCT FROM"
    names = [c["name"] for c in plan.columns]
    match = " AND ".join(f"{old_t}.{q(k)} = s.{q(k)}" for k in plan.keys)
    sets = ", ".join(f"{q(n)} = s.{q(n)}" for n in names + plan.copy_shadows)
    diff = " OR ".join(f"{old_t}.{q(n)} {differs} s.{q(n)}" for n in names if n not in plan.keys)
    changed = 0
    if diff:
        changed = conn.exec_driver_sql(
            f"UPDATE {old_t} SET {sets} FROM {new_t} AS s WHERE {match} AND ({diff})"
        ).rowcount
    removed = 0
    if plan.remove_missing:
        removed = conn.exec_driver_sql(
            f"DELETE FROM {old_t} WHERE NOT EXISTS (SELECT 1 FROM {new_t} AS s WHERE {match})"
        ).rowcount
    added = _insert_new(conn, ds, new, plan, high, only_unmatched=True)
    conn.exec_driver_sql(f"DROP INDEX {index_old}")
    return changed, removed, added


def _insert_new(
    conn: DbConnection,
    ds: DataSet,
    new: DataSet,
    plan: RefreshPlan,
    high: int,
    *,
    only_unmatched: bool,
) -> int:
    """Insert the new file's rows (only those without a match) numbered above `high`."""
    q = conn.dialect.identifier_preparer.quote
    old_t, new_t = q(ds.table_name), q(new.table_name)
    cols = [q(c["name"]) for c in plan.columns] + [q(s) for s in plan.copy_shadows]
    where = ""
    if only_unmatched:
        match = " AND ".join(f"o.{q(k)} = s.{q(k)}" for k in plan.keys)
        where = f"WHERE NOT EXISTS (SELECT 1 FROM {old_t} AS o WHERE {match})"
    number = f"{high} + ROW_NUMBER() OVER (ORDER BY s.{q(ROW_COLUMN)})"
    return conn.exec_driver_sql(
        f"INSERT INTO {old_t} ({q(ROW_COLUMN)}, {q(REV_COLUMN)}, {', '.join(cols)}) "
        f"SELECT {number}, 0, {', '.join('s.' + c for c in cols)} FROM {new_t} AS s {where}"
    ).rowcount


def _final(ds: DataSet, plan: RefreshPlan) -> DataSet:
    return DataSet(
        id=ds.id,
        name=ds.name,
        source_filename=ds.source_filename,
        table_name=ds.table_name,
        columns=plan.columns,
    )


def _drop_new(engine: Engine, dataset_id: int) -> None:
    with Session(engine) as session:
        staged = session.get(DataSet, dataset_id)
        if staged is not None:
            drop_dataset_table(session, staged.table_name)
            session.delete(staged)
            session.commit()


def refresh_source(
    engine: Engine, dataset: int | str, *, who: str = "schedule", timeout_s: float | None = None
) -> RefreshReport | None:
    """Read a database-source data set again (on demand, and before every scheduled run).

    A data set uploaded from a file has no source to read: None (nothing to do). Rows are
    matched on the keys of the last refresh (or swapped when there are none).

    Raises:
        SqlSourceError: the database cannot be reached, the query fails or runs out of time;
            the data set is unchanged (a scheduled run stops with this reason).
        DataSetError: the query's rows cannot become the new version (see `refresh_dataset`).
    """
    ds = _load(engine, dataset)
    if not ds.sql_url_encrypted or not ds.sql_query:
        return None
    url = decrypt_secret(ds.sql_url_encrypted, what="database URL")
    with tempfile.TemporaryDirectory(prefix="pathways-sql-") as folder:
        path = Path(folder) / "rows.csv"
        with path.open("w", encoding="utf-8", newline="") as out:
            write_csv(url, ds.sql_query, out, timeout_s=timeout_s or DEFAULT_TIMEOUT_S)
        return refresh_dataset(
            engine, ds.id or 0, path, filename="query.csv", who=who, source_label=SQL_SOURCE
        )


def create_sql_dataset(
    engine: Engine,
    name: str,
    url: str,
    query: str,
    *,
    who: str,
    keys: Sequence[str] = (),
    timeout_s: float | None = None,
) -> ImportReport:
    """A new data set whose rows are the query's; the URL is stored encrypted.

    Raises:
        SqlSourceError: the URL, the query or the database refuse (what to fix is said).
        DataSetError: the rows cannot be imported (no rows, name taken...).
    """
    check_query(query, parse_url(url).get_backend_name())
    with tempfile.TemporaryDirectory(prefix="pathways-sql-") as folder:
        path = Path(folder) / "rows.csv"
        with path.open("w", encoding="utf-8", newline="") as out:
            write_csv(url, query, out, timeout_s=timeout_s or DEFAULT_TIMEOUT_S)
        report = import_file(engine, path, name=name, filename="query.csv")
    resolved = resolve_keys_of(engine, report.dataset_id, keys)
    with engine.begin() as conn:
        conn.execute(
            update(_DATASET)
            .where(_DATASET.c.id == report.dataset_id)
            .values(
                sql_url_encrypted=encrypt_secret(url.strip()),
                sql_query=query.strip(),
                source_filename=SQL_SOURCE,
                refresh_keys=resolved or None,
            )
        )
        counts = {"rows_added": report.rows_imported, "row_count": report.rows_imported}
        counts["high_row"] = report.rows_imported
        dataset_versions.record_version(
            conn, report.dataset_id, who=who, source=SQL_SOURCE, mode="import", counts=counts
        )
    return report


def resolve_keys_of(engine: Engine, dataset_id: int, keys: Sequence[str]) -> list[str]:
    """`resolve_keys` for a data set by id; a bad key drops the new data set (nothing left)."""
    ds = _load(engine, dataset_id)
    try:
        return resolve_keys(ds, list(keys), "replace")
    except DataSetError:
        _drop_new(engine, dataset_id)
        raise
