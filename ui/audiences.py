"""Data set and audience use cases: import or delete a data set, define audiences, list them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

from sqlmodel import Session

from store import audience_rows, audiences, audit, dataset_versions, datasets, refresh
from store.importer import ImportProgress, import_file
from store.models import Audience
from store.sql_source import Preview, preview
from ui.transaction import transaction

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


def audience_rows_for_wizard(engine: Engine) -> list[dict[str, Any]]:
    """Audiences as plain dicts with their data set's name and columns and their record count."""
    with Session(engine) as session:
        sets = {d.id: d for d in datasets.list_datasets(session=session, limit=1000)}
        rows = [
            {
                "id": a.id,
                "name": a.name,
                "modeled": a.modeled,
                "dataset_id": a.dataset_id,
                "dataset": sets[a.dataset_id].name if a.dataset_id in sets else "",
                "columns": sets[a.dataset_id].columns if a.dataset_id in sets else [],
            }
            for a in audiences.list_audiences(session=session)
        ]
    for row in rows:
        row["count"] = audience_rows.count_rows(engine, row["id"], remembered=True)
    return rows


def import_dataset(
    engine: Engine,
    source: IO[bytes] | bytes,
    *,
    name: str,
    filename: str,
    who: str,
    on_progress: Callable[[ImportProgress], None] | None = None,
) -> dict[str, Any]:
    """Import a CSV/XLSX file as a new data set and record it in the audit log.

    Returns:
        `dataset_id`, `summary`, `notes` and `problems` (rows that could not be imported).

    Raises:
        DataSetError: the file cannot be imported or the name is taken; says what to fix.
    """
    report = import_file(
        engine, source, name=name.strip(), filename=filename, on_progress=on_progress
    )
    with Session(engine) as session:
        audit.record_audit(who, "import data set", name.strip(), session=session)
    with engine.begin() as conn:
        counts = {"rows_added": report.rows_imported, "row_count": report.rows_imported}
        counts["high_row"] = report.rows_imported
        dataset_versions.record_version(
            conn, report.dataset_id, who=who, source=filename, mode="import", counts=counts
        )
    return {
        "dataset_id": report.dataset_id,
        "summary": report.summary(),
        "notes": list(report.notes),
        "problems": list(report.problems),
    }


def delete_dataset(engine: Engine, dataset_id: int, *, who: str) -> str:
    """Delete a data set that no audience uses, with its audit entry; returns its name.

    Raises:
        InUseError: audiences are built on it (the message names them).
        LookupError: the data set no longer exists.
    """
    with transaction(engine) as session:
        ds = datasets.delete_dataset(dataset_id, session=session)
        if ds is None:
            msg = f"Data set {dataset_id} no longer exists."
            raise LookupError(msg)
        name = ds.name
        audit.record_audit(who, "delete data set", name, session=session)
    return name


def create_audience(
    engine: Engine,
    name: str,
    dataset_id: int,
    filters: Sequence[Mapping[str, Any]],
    *,
    modeled: bool,
    who: str,
) -> list[str]:
    """Save an audience unless its name is empty or taken.

    Returns:
        What to fix (nothing saved then), or an empty list once saved.

    Raises:
        AudienceFilterError: a filter does not fit the data set's columns.
    """
    name = name.strip()
    with Session(engine) as session:
        if not name or audiences.get_audience_by_name(name, session=session):
            return ["Give the audience a new, unique name."]
        audiences.create_audience(name, dataset_id, filters, modeled, session=session)
        audit.record_audit(who, "create audience", name, session=session)
    return []


def set_modeled(engine: Engine, audience_id: int, modeled: bool, *, who: str) -> None:
    """Mark an audience as modeled (built from a score) or not, with its audit entry.

    The flag decides which connections may receive the audience (`sync.run_store.check_modeled`),
    so every change is audited: who, when (the entry's time), and old -> new. Setting the
    value it already has writes nothing.

    Raises:
        LookupError: the audience no longer exists.
    """
    with transaction(engine) as session:
        audience = session.get(Audience, audience_id)
        if audience is None:
            msg = f"Audience {audience_id} no longer exists."
            raise LookupError(msg)
        old, name = audience.modeled, audience.name
        if old == modeled:
            return
        audiences.update_audience(audience_id, modeled=modeled, session=session)
        detail = f"{name}: {_flag(old)} -> {_flag(modeled)}"
        audit.record_audit(who, "set modeled", detail, session=session)


def _flag(modeled: bool) -> str:
    return "modeled" if modeled else "not modeled"


def edit_audience(
    engine: Engine,
    audience_id: int,
    *,
    name: str,
    filters: Sequence[Mapping[str, Any]],
    who: str,
) -> list[str]:
    """Rename an audience and replace its filters, with its audit entry.

    Pathways that push it follow: their next run reads the audience anew (the ledger's basis
    includes the filters), sends who joined and, for Mirror and membership flags, removes who
    left.

    Returns:
        What to fix (nothing saved then), or an empty list once saved.

    Raises:
        AudienceFilterError: a filter does not fit the data set's columns.
        LookupError: the audience no longer exists.
    """
    name = name.strip()
    with transaction(engine) as session:
        audience = session.get(Audience, audience_id)
        if audience is None:
            msg = f"Audience {audience_id} no longer exists."
            raise LookupError(msg)
        other = audiences.get_audience_by_name(name, session=session)
        if not name or (other is not None and other.id != audience_id):
            return ["Give the audience a name no other audience has."]
        old = audience.name
        audiences.update_audience(audience_id, name=name, filters=filters, session=session)
        audit.record_audit(who, "edit audience", f"{old} -> {name}", session=session)
    return []


def delete_audience(engine: Engine, audience_id: int, *, who: str) -> str:
    """Delete an audience no pathway pushes, with its audit entry; returns its name.

    Raises:
        InUseError: pathways push it (the message names them).
        LookupError: the audience no longer exists.
    """
    with transaction(engine) as session:
        gone = audiences.delete_audience(audience_id, session=session)
        if gone is None:
            msg = f"Audience {audience_id} no longer exists."
            raise LookupError(msg)
        audit.record_audit(who, "delete audience", gone.name, session=session)
        return gone.name


def refresh_dataset(
    engine: Engine,
    dataset_id: int,
    source: IO[bytes] | bytes,
    *,
    filename: str,
    mode: str,
    keys: Sequence[str],
    remove_missing: bool,
    who: str,
    on_progress: Callable[[ImportProgress], None] | None = None,
) -> dict[str, Any]:
    """A new version of a data set from a file (`store.refresh`), with its audit entry.

    Returns:
        `dataset_id`, `summary`, `notes` and `problems`, like `import_dataset`.

    Raises:
        DataSetError: the file cannot be the new version; nothing changed (says what to fix).
    """
    report = refresh.refresh_dataset(
        engine,
        dataset_id,
        source,
        filename=filename,
        mode=mode,
        keys=keys,
        remove_missing=remove_missing,
        who=who,
        on_progress=on_progress,
    )
    return _refreshed(engine, report, who)


def refresh_sql(engine: Engine, dataset_id: int, *, who: str) -> dict[str, Any]:
    """Read a database-source data set again now (as a scheduled run does first).

    Raises:
        SqlSourceError: the database or the query refuse; nothing changed.
        DataSetError: the rows cannot be the new version; nothing changed.
    """
    report = refresh.refresh_source(engine, dataset_id, who=who)
    if report is None:
        msg = "This data set was uploaded from a file: upload a new version of the file instead."
        raise ValueError(msg)
    return _refreshed(engine, report, who)


def _refreshed(engine: Engine, report: refresh.RefreshReport, who: str) -> dict[str, Any]:
    with Session(engine) as session:
        audit.record_audit(who, "refresh data set", report.summary(), session=session)
    return {
        "dataset_id": report.dataset_id,
        "summary": report.summary(),
        "notes": list(report.notes),
        "problems": list(report.problems),
    }


def preview_sql(url: str, query: str) -> Preview:
    """The first rows of a database query and their inferred types (nothing is saved).

    Raises:
        SqlSourceError: bad URL, a query that is not one SELECT, the database refuses.
    """
    return preview(url, query)


def create_sql_dataset(
    engine: Engine, name: str, url: str, query: str, *, keys: Sequence[str], who: str
) -> dict[str, Any]:
    """A data set read from a database query; the URL is kept encrypted, never shown again.

    Raises:
        SqlSourceError: bad URL, a query that is not one SELECT, the database refuses.
        DataSetError: the rows cannot be imported (no rows, name taken, unknown key).
    """
    report = refresh.create_sql_dataset(engine, name.strip(), url, query, who=who, keys=keys)
    with Session(engine) as session:
        audit.record_audit(who, "create database data set", name.strip(), session=session)
    return {
        "dataset_id": report.dataset_id,
        "summary": report.summary(),
        "notes": list(report.notes),
        "problems": list(report.problems),
    }


def dataset_history(engine: Engine, dataset_id: int) -> list[dict[str, Any]]:
    """The data set's versions as table rows, newest first."""
    with Session(engine) as session:
        return dataset_versions.version_rows(
            dataset_versions.list_versions(dataset_id, session=session)
        )
