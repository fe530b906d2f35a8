"""The checks of a refresh (`store.refresh`), made before anything changes, and its plan.

A new version must not break what uses the data set: it needs at least one of its columns, the
key column(s), a filled and unique key on every row, and every column a filter or a mapping uses
(the message names those audiences and pathways). The plan says which columns come and go and
which typed companions (`store.typed_columns`) can be copied with the rows.

Convention: reads only, with an engine; raises `DataSetError` with what to fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from store.datasets import ROW_COLUMN, shadow_name
from store.errors import DataSetError
from store.models import Audience, ColumnMapping, DataSet, Pathway

MODES = ("replace", "upsert")


@dataclass
class RefreshPlan:
    """How the new version meets the old table: keys, columns and typed companions."""

    keys: list[str]
    remove_missing: bool
    columns: list[dict[str, Any]]  # the new version's column descriptions
    added: list[str]
    removed: list[str]
    copy_shadows: list[str]  # typed companions both tables hold alike: copied with the rows
    drop_shadows: list[str]  # companions the new types no longer have
    refill: bool  # companions new or changed: computed again after the switch
    held: dict[str, tuple[int, str, bool]]  # companions the table holds after the switch


def resolve_keys(ds: DataSet, keys: list[str], mode: str) -> list[str]:
    """Key names as the data set's safe column names (headers are accepted too)."""
    if mode not in MODES:
        msg = f"Unknown refresh mode {mode!r}; use {' or '.join(MODES)}."
        raise DataSetError(msg)
    by_any = {c["name"]: c["name"] for c in ds.columns}
    by_any.update({str(c.get("original") or c["name"]): c["name"] for c in ds.columns})
    resolved = []
    for key in keys:
        if key not in by_any:
            names = ", ".join(c["name"] for c in ds.columns)
            msg = f"Data set {ds.name!r} has no column {key!r} to match rows on; its columns: {names}."
            raise DataSetError(msg)
        resolved.append(by_any[key])
    if mode == "upsert" and not resolved:
        msg = "Upsert needs the key column(s) that identify a row (for example --key id)."
        raise DataSetError(msg)
    return resolved


def plan_refresh(
    engine: Engine, ds: DataSet, new: DataSet, *, mode: str, keys: list[str], remove_missing: bool
) -> RefreshPlan:
    """Check the new version against the old one and what uses it; say how to switch."""
    old_names = [c["name"] for c in ds.columns]
    new_names = [c["name"] for c in new.columns]
    if not set(old_names) & set(new_names):
        msg = (
            f"The new file has none of the columns of {ds.name!r} (it has "
            f"{', '.join(new_names[:10])}; the data set has {', '.join(old_names[:10])}). "
            "Upload a new export of the same data, or import this file as a new data set."
        )
        raise DataSetError(msg)
    missing_keys = [k for k in keys if k not in new_names]
    if missing_keys:
        msg = (
            f"The new file has no key column {', '.join(missing_keys)}, which rows are matched "
            "on. Add it to the file, or choose other key columns."
        )
        raise DataSetError(msg)
    removed = [n for n in old_names if n not in new_names]
    if removed and mode == "upsert":
        msg = (
            f"The new file lacks the column(s) {', '.join(removed)}; an upsert keeps the other "
            "rows, which still have them. Add them to the file, or refresh in replace mode."
        )
        raise DataSetError(msg)
    _refuse_used(engine, ds, removed)
    if keys:
        _refuse_bad_keys(engine, new, keys)
    old_specs = {shadow_name(c): _spec(c) for c in ds.columns if shadow_name(c)}
    new_specs = {shadow_name(c): _spec(c) for c in new.columns if shadow_name(c)}
    old_physical = {c["name"] for c in inspect(engine).get_columns(ds.table_name)}
    new_physical = {c["name"] for c in inspect(engine).get_columns(new.table_name)}
    copy = [
        s
        for s, spec in new_specs.items()
        if old_specs.get(s) == spec and s in old_physical and s in new_physical
    ]
    return RefreshPlan(
        keys=keys,
        remove_missing=mode == "replace" or remove_missing,
        columns=new.columns,
        added=[n for n in new_names if n not in old_names],
        removed=removed,
        copy_shadows=copy,
        drop_shadows=[s for s in old_specs if s not in new_specs and s in old_physical],
        refill=len(copy) < len(new_specs),
        held={
            s: (0, *spec) for s, spec in old_specs.items() if s in old_physical and s in new_specs
        },
    )


def _spec(column: dict[str, Any]) -> tuple[str, bool]:
    return (str(shadow_name(column))[-1], bool(column.get("dayfirst")))


def _refuse_used(engine: Engine, ds: DataSet, removed: list[str]) -> None:
    """Stop when a disappearing column is in a filter or a mapping, naming who uses it."""
    if not removed:
        return
    gone = set(removed)
    users: list[str] = []
    with Session(engine) as session:
        for aud in session.exec(select(Audience).where(Audience.dataset_id == ds.id)).all():
            cols = sorted({f.get("column") for f in aud.filters or []} & gone)
            if cols:
                users.append(f"audience {aud.name!r} filters on {', '.join(cols)}")
            stmt = (
                select(Pathway.de_name, ColumnMapping.source_column)
                .join(ColumnMapping, ColumnMapping.pathway_id == Pathway.id)  # type: ignore[arg-type]
                .where(Pathway.audience_id == aud.id)
            )
            mapped: dict[str, set[str]] = {}
            for de_name, column in session.exec(stmt).all():
                if column in gone:
                    mapped.setdefault(de_name, set()).add(column)
            users += [
                f"pathway {de!r} (audience {aud.name!r}) maps {', '.join(sorted(c))}"
                for de, c in sorted(mapped.items())
            ]
    if users:
        msg = (
            f"The new file lacks the column(s) {', '.join(removed)}, still in use: "
            f"{'; '.join(users)}. Put the column(s) back in the file, or change those filters "
            "and mappings first. Nothing was changed."
        )
        raise DataSetError(msg)


def _refuse_bad_keys(engine: Engine, new: DataSet, keys: list[str]) -> None:
    """Each key must be filled and appear once, or rows could not be matched."""
    q = engine.dialect.identifier_preparer.quote
    table = q(new.table_name)
    cols = ", ".join(q(k) for k in keys)
    empty = " OR ".join(f"{q(k)} IS NULL" for k in keys)
    with engine.connect() as conn:
        blanks = conn.exec_driver_sql(
            f"SELECT {q(ROW_COLUMN)} FROM {table} WHERE {empty} ORDER BY 1 LIMIT 5"
        ).fetchall()
        dups = conn.exec_driver_sql(
            f"SELECT {cols}, COUNT(*) FROM {table} GROUP BY {cols} HAVING COUNT(*) > 1 "
            "ORDER BY COUNT(*) DESC LIMIT 5"
        ).fetchall()
        n_dups = conn.exec_driver_sql(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM {table} GROUP BY {cols} HAVING COUNT(*) > 1) d"
        ).scalar_one()
    if blanks:
        rows = ", ".join(str(r[0]) for r in blanks)
        msg = (
            f"Some rows of the new file have no value in the key column(s) {', '.join(keys)} "
            f"(data rows {rows}{' and more' if len(blanks) == 5 else ''}). Fill in the key of "
            "every row, then upload the file again."
        )
        raise DataSetError(msg)
    if dups:
        shown = "; ".join(f"{' / '.join(str(v) for v in r[:-1])!r} ({r[-1]} rows)" for r in dups)
        msg = (
            f"Duplicate keys: {n_dups:,} value(s) of {', '.join(keys)} appear on more than one "
            f"row of the new file, e.g. {shown}. Each key must appear once to match rows; "
            "remove the duplicates and upload the file again."
        )
        raise DataSetError(msg)
