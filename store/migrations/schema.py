"""What belongs to the migrated schema, and how a store's schema differs from the models.

Each data set keeps its rows in a table of its own (`store.datasets.dataset_table`), created
at import and not part of the models: migrations and comparisons leave those tables alone.
"""

from __future__ import annotations

import hashlib
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlmodel import SQLModel

from store import models  # noqa: F401  (registers the tables)


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic filter: only the models' tables (a reflected table the models lack is a data set's)."""
    del obj, name
    return not (type_ == "table" and reflected and compare_to is None)


def schema_differences(conn: Connection) -> list[Any]:
    """Alembic's list of differences between the store behind `conn` and the current models.

    Empty when the store has exactly the models' tables, columns, types, indexes and keys.
    """
    context = MigrationContext.configure(
        conn, opts={"include_object": include_object, "compare_type": True}
    )
    return compare_metadata(context, SQLModel.metadata)


def schema_digest() -> str:
    """A short digest of the models' DDL (tables and indexes, in a stable order)."""
    dialect = sqlite.dialect()
    parts = []
    for table in sorted(SQLModel.metadata.tables.values(), key=lambda t: t.name):
        parts.append(str(CreateTable(table).compile(dialect=dialect)))
        parts += sorted(str(CreateIndex(i).compile(dialect=dialect)) for i in table.indexes)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]
