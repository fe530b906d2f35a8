"""A Data Extension's field list compiled for the row path: validate + canonicalise in one pass.

Saving a row has two halves. `DeSchema.prepare` is the state-free half (which column is which,
is every value valid, what string is stored, what is the primary key); it needs no lock, so async
jobs run it outside the tenant lock. `SimDE.commit` is the half that looks at the stored rows
(insert vs update, defaults of new rows, duplicates) and runs under the lock.

`prepare` first tries a fast path: each field's compiled rule (`fieldrules.converter`) and one
list of slots per row. Any surprise (an unknown or differently-cased column, a refused value, a
missing key) sends the row through `_exact`, which checks field by field and collects every
violation in SFMC's order with its message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import call, itemgetter
from typing import Any

from simulator.fieldrules import Violation, canonical, check_value, converter, key_part
from simulator.fields import SimField
from simulator.scalars import format_date

UNSET: Any = type("Unset", (), {"__repr__": lambda self: "UNSET"})()  # column not in the row
MAX_PLANS = 64  # distinct row shapes (column-name tuples) remembered per schema
NO_PK = "This Data Extension does not have any primary keys defined."

# (key, slots): key is the normalised PK tuple (None for a DE without primary key, which gets a
# row number at commit); slots hold the canonical string, None for a blank value, or UNSET. When
# every column has a value the slots are already the tuple to store (a list otherwise), so the
# commit under the tenant lock does no per-column work for the common row.
Prepared = tuple[tuple | None, list | tuple]


@dataclass
class RowError:
    """Why SFMC refused one row (in the simulator's own terms; each API renders it its way)."""

    kind: str  # "validation" | "missing_key" | "duplicate" | "not_found" | "no_pk" | "unknown"
    violations: list[Violation] = field(default_factory=list)
    message: str = ""


def _unknown_column(name: object) -> Violation:
    return Violation(str(name), 70012, "UnknownColumn", f"The column [{name}] does not exist.")


class DeSchema:
    """Immutable compiled view of a field list (rebuilt by `SimDE` whenever its fields change)."""

    def __init__(self, fields: Sequence[SimField], *, date_offset_h: int = 0) -> None:
        self.fields = tuple(fields)
        self.width = len(self.fields)
        self.folded = {f.name.casefold(): i for i, f in enumerate(self.fields)}
        self.pk_indexes = [i for i, f in enumerate(self.fields) if f.is_primary_key]
        convs = [converter(f, date_offset_h) for f in self.fields]
        self._convs = convs
        self._plans: dict[tuple[str, ...], tuple[list, list | None]] = {}
        self._single_pk = self.pk_indexes[0] if len(self.pk_indexes) == 1 else None
        self._pick_pks = itemgetter(*self.pk_indexes) if len(self.pk_indexes) > 1 else None
        self._now_defaults = {
            i for i, f in enumerate(self.fields)
            if f.field_type == "Date" and (f.default_value or "").lower() == "now()"
        }  # fmt: skip
        self._defaults = [self._static_default(f) for f in self.fields]
        # New rows need a fill pass only when some field has a default or must have a value.
        self.fills = (
            any(d is not None for d in self._defaults)
            or bool(self._now_defaults)
            or any(f.is_required for f in self.fields)
        )

    @staticmethod
    def _static_default(f: SimField) -> str | None:
        if f.default_value in (None, ""):
            return None
        if check_value(f, f.default_value) is None:
            return canonical(f, f.default_value)
        return None

    def default(self, index: int) -> str | None:
        """What a new row stores for a field it did not fill (SFMC's DefaultValue, now() included)."""
        if index in self._now_defaults:
            return format_date(datetime.now(UTC).replace(tzinfo=None))
        return self._defaults[index]

    def index_of(self, name: str) -> int | None:
        return self.folded.get(name.casefold())

    # ----- prepare (no state, no lock)
    def prepare(self, values: Mapping[str, object], mode: str) -> Prepared | RowError:
        """Validate and canonicalise one submitted row. `mode`: "upsert", "insert" or "update"."""
        if not self.pk_indexes and mode != "insert":
            return RowError("no_pk", message=NO_PK)
        try:
            return self._fast(values)
        except Exception:  # any surprise: the exact rules decide, with their messages
            return self._exact(values)

    def _fast(self, values: Mapping[str, object]) -> Prepared:
        names = tuple(values)
        plan = self._plans.get(names)
        if plan is None:
            plan = self._plan(names)  # KeyError on an unknown column: exact path
        convs, order = plan
        got = list(map(call, convs, values.values()))
        slots: list | tuple
        if order is None:  # the row names every field, in field order
            slots = got if None in got else tuple(got)
        else:
            slots = [UNSET] * self.width
            for index, value in zip(order, got, strict=True):
                slots[index] = value
            if UNSET not in slots and None not in slots:
                slots = tuple(slots)
        pk = self._single_pk
        if pk is not None:
            return (slots[pk].casefold(),), slots  # AttributeError when missing: exact path
        if not self.pk_indexes:
            return None, slots
        return tuple(part.casefold() for part in self._pick_pks(slots)), slots  # type: ignore[misc]

    def _plan(
        self, names: tuple[str, ...]
    ) -> tuple[list[Callable[[object], str | None]], list | None]:
        """Converters and slot positions for rows with these column names (cached per shape)."""
        order = [self.folded[name.casefold()] for name in names]
        convs = [self._convs[i] for i in order]
        plan = (convs, None if order == list(range(self.width)) else order)
        if len(self._plans) < MAX_PLANS:  # rows of ever-changing shapes just skip the cache
            self._plans[names] = plan
        return plan

    def key_of(self, values: Mapping[str, object]) -> tuple | RowError:
        """The normalised PK tuple of a submitted row (names matched case-insensitively)."""
        folded = {str(k).casefold(): v for k, v in values.items()}
        parts: list[str] = []
        missing: list[Violation] = []
        for i in self.pk_indexes:
            f = self.fields[i]
            value = folded.get(f.name.casefold())
            violation = check_value(f, value)
            if violation is not None:
                if violation.error_type == "NullValue":
                    missing.append(violation)
                    continue
                return RowError("validation", [violation])
            parts.append(key_part(f, value))
        if missing:
            return RowError("missing_key", missing)
        return tuple(parts)

    def _exact(self, values: Mapping[str, object]) -> Prepared | RowError:
        """The field-by-field rules (the reference behaviour the fast path must agree with)."""
        given: dict[int, object] = {}
        violations: list[Violation] = []
        for name, value in values.items():
            idx = self.index_of(str(name))
            if idx is None:
                violations.append(_unknown_column(name))
                continue
            given[idx] = value
        pks = self.pk_indexes
        key: tuple | RowError | None = self.key_of(values) if pks else None
        if isinstance(key, RowError):
            if key.kind == "missing_key":
                return key
            violations.extend(key.violations)
        for idx, value in given.items():
            if idx in pks:
                continue
            violation = check_value(self.fields[idx], value)
            if violation is not None:
                violations.append(violation)
        if violations:
            return RowError("validation", violations)
        slots = [UNSET] * self.width
        for idx, value in given.items():
            slots[idx] = canonical(self.fields[idx], value)
        return key, slots  # type: ignore[return-value]
