"""Writing a new data set's table: created with its first batch, then rows in batches.

The table is created once the first batch has been read, with typed companion columns for the
types that batch suggests (`store.typed_columns`), so most files need no second pass over their
rows. Rows go in with the driver's executemany, many to a statement; the caller owns the
transaction.

Convention: Core on a connection the importer holds (see `store/__init__.py`).
"""

from __future__ import annotations

from itertools import chain, islice
from typing import Any

from sqlalchemy import Column, Float, String, Table
from sqlalchemy.engine import Connection as SAConnection

from store.datasets import dataset_table
from store.inference import ColumnStats
from store.models import DataSet
from store.typed_columns import shadow_specs, shadow_values

_NULL_IF_EMPTY: dict[Any, None] = {"": None}  # .get(v, v): None for "", else v
KNOWN_VALUES = 65_536  # typed values remembered per companion column (dates repeat a lot)
ShadowSpecs = dict[str, tuple[int, str, bool]]  # shadow name -> (column index, "n"/"d", day-first)


# Rows per INSERT statement: each statement costs the driver about 1 us besides its values
# (16 % of the inserts of 1M rows of 19 values go when 50 rows share one), and stays under
# SQLite's 32,766 and PostgreSQL's 65,535 parameters per statement.
ROWS_PER_INSERT = 50
MAX_PARAMETERS = 30_000


def _insert_sql(conn: SAConnection, table: Table, rows: int) -> str:
    """INSERT of `rows` rows with driver placeholders; identifiers are our own safe names."""
    quote = conn.dialect.identifier_preparer.quote
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    cols = ", ".join(quote(c.name) for c in table.columns)
    row = "(" + ", ".join(marker for _ in table.columns) + ")"
    return f"INSERT INTO {quote(table.name)} ({cols}) VALUES " + ", ".join([row] * rows)


class TableWriter:
    """Writes a new data set's rows, creating its table with the first batch."""

    def __init__(self, conn: SAConnection, ds: DataSet, stats: list[ColumnStats]) -> None:
        self.conn, self.ds, self.stats = conn, ds, stats
        self.specs: ShadowSpecs | None = None
        self.plan: list[tuple[int, str, bool]] = []  # (column index, "n"/"d", day-first)
        self.rows = 0  # rows written so far: the next row's `_row` is one more
        self._known: list[dict[str, Any]] = []  # per companion: value -> typed value, so far
        self.width = self.per = 0  # values per row, rows per statement
        self._sql_many = self._sql_one = ""

    def write(self, columns: list[Any]) -> None:
        """Count a batch of rows, given as its columns, in the statistics and insert them.

        The table is created with the first batch, with the typed companions its types suggest.
        Works column by column: a column's values are counted, typed and emptied of "" in C
        loops (`ColumnStats.add_column`, `map`), which is what keeps a large import fast.
        """
        count = len(columns[0])
        empty = [s.empty for s in self.stats]
        classes = [s.add_column(c) for s, c in zip(self.stats, columns, strict=True)]
        if self.specs is None:
            self._create_table()
        if not count:
            return
        shadows = []
        for (i, kind, dayfirst), known in zip(self.plan, self._known, strict=True):
            if len(known) > KNOWN_VALUES:
                known.clear()  # a column of unique values: keep memory bounded
            seen = classes[i]
            fresh = {v: seen[v] for v in seen.keys() - known.keys()}  # a set difference in C
            known.update(shadow_values(fresh, kind, dayfirst))
            shadows.append(list(map(known.get, columns[i])))
        for i, (column, stat, before) in enumerate(zip(columns, self.stats, empty, strict=True)):
            if stat.empty > before:  # empty cells ("" or None) are stored as NULL
                columns[i] = list(map(_NULL_IF_EMPTY.get, column, column))
        numbers = range(self.rows + 1, self.rows + count + 1)
        self.rows += count
        rows = zip(numbers, *columns, *shadows, strict=True)
        # Iterators, not lists: the driver binds each statement's values and lets them go, so
        # `zip` reuses one tuple (a list of 10,000 tuples cost 1 s per 1M rows to build).
        # SQLAlchemy takes only lists, so the driver's cursor is used directly, in the
        # connection's transaction all the same. `zip(*[flat] * n)` cuts the rows' values
        # into statements of `self.per` rows; the rows left over go in one by one.
        flat = chain.from_iterable(islice(rows, count - count % self.per))
        cursor = self.conn.connection.cursor()
        try:
            cursor.executemany(self._sql_many, zip(*[flat] * (self.per * self.width), strict=True))
            cursor.executemany(self._sql_one, rows)
        finally:
            cursor.close()

    def _create_table(self) -> None:
        self.specs = shadow_specs(self.stats, [c["name"] for c in self.ds.columns])
        self.plan = list(self.specs.values())
        self._known = [{} for _ in self.plan]
        table = dataset_table(self.ds, with_shadows=False)
        for shadow, (_i, kind, _d) in self.specs.items():
            table.append_column(Column(shadow, Float if kind == "n" else String(10)))
        table.create(self.conn)
        self.width = len(table.columns)
        self.per = max(1, min(ROWS_PER_INSERT, MAX_PARAMETERS // self.width))
        self._sql_many = _insert_sql(self.conn, table, self.per)
        self._sql_one = _insert_sql(self.conn, table, 1)
