"""Typed companion columns of data-set tables: numbers and dates that filters compare on.

A number column `amount` gets `amount__n` (a float) and a date column `joined` gets `joined__d`
(ISO text), so that "10" > "9" and "03/04/2021" < "2021-05-01" hold in SQL. The import writes
them with the rows when the first batch shows the column's type (`shadow_specs`,
`shadow_values`) and fills the rest in a second pass (`fill_shadows`) when it guessed wrong.

Convention: Core with an engine (see `store/__init__.py`): bulk updates of a whole table.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from store.datasets import ROW_COLUMN, dataset_table, shadow_name
from store.inference import ColumnStats, parse_date, parse_number
from store.models import DataSet


def shadow_specs(stats: list[ColumnStats], names: list[str]) -> dict[str, tuple[int, str, bool]]:
    """Shadow column name -> (column index, "n" or "d", day-first) for the types seen so far."""
    specs: dict[str, tuple[int, str, bool]] = {}
    for i, (stat, name) in enumerate(zip(stats, names, strict=True)):
        info = stat.describe(name, name)
        shadow = shadow_name(info)
        if shadow:
            specs[shadow] = (i, shadow[-1], bool(info.get("dayfirst")))
    return specs


def shadow_value(value: str | None, kind: str, dayfirst: bool) -> Any:
    """The typed companion of one cell: its number ("n") or ISO date ("d"), else None."""
    if value is None:
        return None
    if kind == "n":
        return parse_number(value)
    return parse_date(value, dayfirst=dayfirst)


def shadow_values(classes: dict[str, str], kind: str, dayfirst: bool) -> dict[str, Any]:
    """Distinct value -> typed companion (None when it has none), from the values' classes."""
    if kind == "n":
        return {
            v: float(v) if cls in ("integer", "decimal") else None for v, cls in classes.items()
        }
    return {
        v: parse_date(v, dayfirst=dayfirst) if cls.startswith("date_") else None
        for v, cls in classes.items()
    }


def fill_shadows(
    engine: Engine, ds: DataSet, made: dict[str, tuple[int, str, bool]], chunk: int = 20_000
) -> None:
    """Second pass, only for typed companions the first batch did not predict correctly.

    Number and date columns get companions so that filters compare values, not text.
    """
    todo: list[tuple[dict[str, Any], str, bool]] = []  # (column, shadow name, must add it)
    for c in ds.columns:
        shadow = shadow_name(c)
        if not shadow:
            continue
        wanted = (shadow[-1], bool(c.get("dayfirst")))
        if shadow not in made:
            todo.append((c, shadow, True))
        elif made[shadow][1:] != wanted:
            todo.append((c, shadow, False))
    if not todo:
        return
    table = dataset_table(ds)
    quote = engine.dialect.identifier_preparer.quote
    with engine.begin() as conn:
        for _c, shadow, must_add in todo:
            if must_add:
                kind = table.c[shadow].type.compile(dialect=engine.dialect)
                conn.exec_driver_sql(
                    f"ALTER TABLE {quote(table.name)} ADD COLUMN {quote(shadow)} {kind}"
                )
    marker = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    assignments = ", ".join(f"{quote(shadow)} = {marker}" for _c, shadow, _m in todo)
    update_sql = (
        f"UPDATE {quote(table.name)} SET {assignments} WHERE {quote(ROW_COLUMN)} = {marker}"
    )
    plan = [(shadow[-1], bool(c.get("dayfirst"))) for c, shadow, _m in todo]
    source_cols = [table.c[ROW_COLUMN]] + [table.c[c["name"]] for c, _s, _m in todo]
    last = 0
    while True:
        with engine.begin() as conn:
            rows = conn.execute(
                select(*source_cols)
                .where(table.c[ROW_COLUMN] > last)
                .order_by(table.c[ROW_COLUMN])
                .limit(chunk)
            ).all()
            if not rows:
                return
            params = [
                (
                    *(
                        shadow_value(v, kind, dayfirst)
                        for (kind, dayfirst), v in zip(plan, row[1:], strict=True)
                    ),
                    row[0],
                )
                for row in rows
            ]
            conn.exec_driver_sql(update_sql, params)
            last = rows[-1][0]
