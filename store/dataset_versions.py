"""Version history of data sets: when, who, from what, rows added, changed and removed.

A data set's first import is version 1; every refresh (`store.refresh`) adds the next one in the
same transaction that switches the rows, so the history never names a version that did not
land. Each version also keeps the highest row number ever given (`high_row`): a refresh numbers
new rows above it, so a row number the sync ledger remembers is never handed to another row.

Convention: Core on the caller's connection for writes (inside the refresh's transaction); ORM
with a keyword-only `session` for reads (see `store/__init__.py`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Connection as DbConnection
from sqlmodel import Session, col
from sqlmodel import select as select_rows

from store.models import DataSetVersion, utcnow

_VERSION = DataSetVersion.__table__  # type: ignore[attr-defined]


def last_version(conn: DbConnection, dataset_id: int) -> tuple[int, int]:
    """(number, highest row number) of the data set's latest version; (0, 0) when none."""
    row = conn.execute(
        select(_VERSION.c.version, _VERSION.c.high_row)
        .where(_VERSION.c.dataset_id == dataset_id)
        .order_by(_VERSION.c.version.desc())
        .limit(1)
    ).first()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def record_version(
    conn: DbConnection,
    dataset_id: int,
    *,
    who: str,
    source: str,
    mode: str,
    counts: dict[str, int],
) -> int:
    """Add the data set's next version; returns its number.

    Args:
        conn: a connection inside the transaction that changed the rows.
        dataset_id: the data set.
        who: the user, or "schedule".
        source: the file's name, or "database query".
        mode: "import", "replace" or "upsert".
        counts: rows_added, rows_changed, rows_removed, row_count and high_row.
    """
    number = int(
        conn.execute(
            select(func.coalesce(func.max(_VERSION.c.version), 0)).where(
                _VERSION.c.dataset_id == dataset_id
            )
        ).scalar_one()
    )
    conn.execute(
        insert(_VERSION).values(
            dataset_id=dataset_id,
            version=number + 1,
            at=utcnow(),
            who=who,
            source=source,
            mode=mode,
            **{k: int(counts.get(k, 0)) for k in _COUNTS},
        )
    )
    return number + 1


_COUNTS = ("rows_added", "rows_changed", "rows_removed", "row_count", "high_row")


def list_versions(dataset_id: int, *, session: Session) -> list[DataSetVersion]:
    """The data set's versions, newest first."""
    stmt = (
        select_rows(DataSetVersion)
        .where(DataSetVersion.dataset_id == dataset_id)
        .order_by(col(DataSetVersion.version).desc())
    )
    return list(session.exec(stmt))


def forget_versions(conn: DbConnection, dataset_id: int) -> None:
    """Delete a data set's history (the data set itself is being deleted)."""
    conn.execute(delete(_VERSION).where(_VERSION.c.dataset_id == dataset_id))


def version_rows(versions: list[DataSetVersion]) -> list[dict[str, Any]]:
    """The history as table rows for the page: version, when, who, source and the counts."""
    return [
        {
            "Version": v.version,
            "When": v.at,
            "Who": v.who or "—",
            "From": v.source,
            "How": v.mode,
            "Added": v.rows_added,
            "Changed": v.rows_changed,
            "Removed": v.rows_removed,
            "Rows": v.row_count,
        }
        for v in versions
    ]
