"""Writing a new data set's table: created with its first batch, then rows in batches.

The table is created once the first batch has been read, with typed companion columns for the
types that batch suggests (`store.typed_columns`), so most files need no second pass over their
rows. Rows go in with the driver's executemany; the caller owns the transaction.

Convention: Core on a connection the importer holds (see `store/__init__.py`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Float, String, Table
from sqlalchemy.engine import Connection as SAConnection

from store.datasets import dataset_table
from store.inference import ColumnStats
from store.models import DataSet
from store.typed_columns import shadow_specs, shadow_value

ShadowSpecs = dict[str, tuple[int, str, bool]]  # shadow name -> (column index, "n"/"d", day-first)


def _insert_sql(conn: SAConnection, table: Table) -> str:
    """INSERT with driver placeholders; identifiers are our own safe names, quoted."""
    quote = conn.dialect.identifier_preparer.quote
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    cols = ", ".join(quote(c.name) for c in table.columns)
    marks = ", ".join(marker for _ in table.columns)
    return f"INSERT INTO {quote(table.name)} ({cols}) VALUES ({marks})"


class TableWriter:
    """Writes a new data set's rows, creating its table with the first batch."""

    def __init__(self, conn: SAConnection, ds: DataSet, stats: list[ColumnStats]) -> None:
        self.conn, self.ds, self.stats = conn, ds, stats
        self.specs: ShadowSpecs | None = None
        self.plan: list[tuple[int, str, bool]] = []  # (column index, "n"/"d", day-first)
        self._sql = ""

    def row(self, number: int, values: list[Any]) -> list[Any]:
        """The table row of a record: its number, values, then typed companions once known.

        The record's values are counted in the column statistics (the types inferred).
        """
        stats = self.stats
        row: list[Any] = [number]
        classes: list[str | None] = []
        for i, value in enumerate(values):
            if value is None or value == "":
                stats[i].empty += 1
                row.append(None)
                classes.append(None)
            else:
                classes.append(stats[i].add(value))
                row.append(value)
        if self.specs is not None:
            row.extend(
                shadow_value(row[i + 1], classes[i], kind, dayfirst)
                for i, kind, dayfirst in self.plan
            )
        return row

    def write(self, batch: list[list[Any]]) -> None:
        """Insert a batch of rows (creating the table first, with the first batch)."""
        if self.specs is None:
            self._create_table(batch)
        if batch:
            self.conn.exec_driver_sql(self._sql, [tuple(r) for r in batch])

    def _create_table(self, batch: list[list[Any]]) -> None:
        self.specs = shadow_specs(self.stats, [c["name"] for c in self.ds.columns])
        self.plan = list(self.specs.values())
        table = dataset_table(self.ds, with_shadows=False)
        for shadow, (_i, kind, _d) in self.specs.items():
            table.append_column(Column(shadow, Float if kind == "n" else String(10)))
        table.create(self.conn)
        self._sql = _insert_sql(self.conn, table)
        for row in batch:  # rows read before the types were known
            row.extend(
                shadow_value(row[i + 1], None, kind, dayfirst) for i, kind, dayfirst in self.plan
            )
