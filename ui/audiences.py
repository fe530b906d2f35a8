"""Data set and audience use cases: import or delete a data set, define audiences, list them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

from sqlmodel import Session

from store import audience_rows, audiences, audit, datasets
from store.importer import ImportProgress, import_file
from store.models import Audience
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
        row["count"] = audience_rows.count_rows(engine, row["id"])
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
