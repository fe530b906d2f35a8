"""Key values with spaces around them: count them, and trim them in a data set on request.

Marketing Cloud keeps a primary key value exactly as sent, so `" ann@example.org "` and
`"ann@example.org"` would be two rows of one Data Extension, and the spaced one matches no
contact. The wizard counts such values in the key columns it is offered and lets the user trim
them in the data set; the row revision trigger (`store.revisions`) marks each trimmed row as
changed, so the next sync sends it again.

Convention: Core with an engine (see `store/__init__.py`): one count or one UPDATE per column.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table, func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from store.datasets import dataset_table
from store.models import DataSet
from store.revisions import ensure_row_revisions


def _table_and_columns(
    engine: Engine, dataset_id: int, columns: Sequence[str]
) -> tuple[DataSet, Table]:
    with Session(engine) as session:
        ds = session.get(DataSet, dataset_id)
        if ds is None:
            msg = f"Data set {dataset_id} no longer exists: choose the audience again."
            raise LookupError(msg)
        session.expunge(ds)
    known = {c["name"] for c in ds.columns}
    unknown = [c for c in columns if c not in known]
    if unknown:
        msg = f"The data set has no column {', '.join(unknown)}: pick its columns again."
        raise ValueError(msg)
    return ds, dataset_table(ds, with_shadows=False)


def spaced_counts(engine: Engine, dataset_id: int, columns: Sequence[str]) -> dict[str, int]:
    """Column -> how many of its values start or end with a space (only columns that have some).

    Raises:
        LookupError: the data set is gone.
        ValueError: a column is not one of the data set's.
    """
    _ds, table = _table_and_columns(engine, dataset_id, columns)
    counts = {}
    with engine.connect() as conn:
        for name in columns:
            col = table.c[name]
            n = conn.execute(
                select(func.count()).select_from(table).where(col != func.trim(col))
            ).scalar_one()
            if n:
                counts[name] = int(n)
    return counts


def trim_values(engine: Engine, dataset_id: int, columns: Sequence[str]) -> int:
    """Remove the spaces around the values of `columns` in the data set; the rows changed.

    Raises:
        LookupError: the data set is gone.
        ValueError: a column is not one of the data set's.
    """
    ds, table = _table_and_columns(engine, dataset_id, columns)
    ensure_row_revisions(engine, ds.table_name)  # trimmed rows count as changed for the ledger
    changed = 0
    with engine.begin() as conn:
        for name in columns:
            col = table.c[name]
            result = conn.execute(
                table.update().where(col != func.trim(col)).values({name: func.trim(col)})
            )
            changed += result.rowcount or 0
    return changed
