"""The in-memory tenant: folders, Data Extensions with their rows, async jobs. Thread-safe.

Rows are stored compactly: a dict from the normalised primary-key tuple (or a row number when the
DE has no primary key) to a tuple of stored strings in field order, so a million rows fit easily.
All mutation happens under `Tenant.lock` (an RLock); handlers take it for the whole operation.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sfmc import fieldrules
from sfmc.fieldrules import Violation
from sfmc.types import DeField

MID = 100012345  # the simulated business unit's MID (Client/ID in SOAP)
ROOT_FOLDER_ID = 1000


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class SimFolder:
    id: int
    name: str
    customer_key: str
    parent_id: int
    content_type: str = "dataextension"
    description: str = ""
    object_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    allow_children: bool = True
    is_editable: bool = True


@dataclass
class RowError:
    """Why SFMC refused one row (in the simulator's own terms; each API renders it its way)."""

    kind: str  # "validation" | "missing_key" | "duplicate" | "not_found" | "no_pk" | "unknown"
    violations: list[Violation] = field(default_factory=list)
    message: str = ""


@dataclass
class SimDE:
    """One Data Extension with its rows."""

    customer_key: str
    name: str
    category_id: int
    fields: list[DeField]
    description: str = ""
    is_sendable: bool = False
    sendable_field: str | None = None
    object_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    field_ids: list[str] = field(default_factory=list)
    created: datetime = field(default_factory=now_utc)
    rows: dict[tuple, tuple] = field(default_factory=dict)
    _next_row: int = 0

    def __post_init__(self) -> None:
        while len(self.field_ids) < len(self.fields):
            self.field_ids.append(str(uuid.uuid4()))

    # ----- fields
    def _index(self) -> tuple[dict[str, int], list[int]]:
        # Cached per field list (rebuilt when fields change): rows are validated in hot loops.
        sig = (id(self.fields), len(self.fields))
        cache = self.__dict__.get("_cache")
        if cache is None or cache[0] != sig:
            names = {f.name.casefold(): i for i, f in enumerate(self.fields)}
            pks = [i for i, f in enumerate(self.fields) if f.is_primary_key]
            cache = (sig, names, pks)
            self.__dict__["_cache"] = cache
        return cache[1], cache[2]

    def index_of(self, name: str) -> int | None:
        return self._index()[0].get(name.casefold())

    @property
    def pk_indexes(self) -> list[int]:
        return self._index()[1]

    def add_field(self, new: DeField) -> None:
        self.fields.append(new)
        self.field_ids.append(str(uuid.uuid4()))
        default = self._default_for(new)
        if self.rows:
            self.rows = {k: (*v, default) for k, v in self.rows.items()}

    def replace_field(self, index: int, new: DeField) -> None:
        self.fields[index] = new
        self.__dict__.pop("_cache", None)

    def drop_field(self, index: int) -> None:
        del self.fields[index]
        del self.field_ids[index]
        self.__dict__.pop("_cache", None)
        self.rows = {k: v[:index] + v[index + 1 :] for k, v in self.rows.items()}

    @staticmethod
    def _default_for(f: DeField) -> str | None:
        if f.default_value in (None, ""):
            return None
        if f.field_type == "Date" and f.default_value.lower() == "now()":
            return fieldrules.format_date(now_utc())
        if fieldrules.check_value(f, f.default_value) is None:
            return fieldrules.canonical(f, f.default_value)
        return None

    # ----- rows
    def key_of(self, values: Mapping[str, object]) -> tuple | RowError:
        """The normalised PK tuple of a submitted row (names matched case-insensitively)."""
        folded = {str(k).casefold(): v for k, v in values.items()}
        parts: list[str] = []
        missing: list[Violation] = []
        for i in self.pk_indexes:
            f = self.fields[i]
            value = folded.get(f.name.casefold())
            violation = fieldrules.check_value(f, value)
            if violation is not None:
                if violation.error_type == "NullValue":
                    missing.append(violation)
                    continue
                return RowError("validation", [violation])
            parts.append(fieldrules.key_part(f, value))
        if missing:
            return RowError("missing_key", missing)
        return tuple(parts)

    def save_row(self, values: Mapping[str, object], *, mode: str) -> RowError | None:
        """Validate and store one row. `mode`: "upsert", "insert" or "update"."""
        pks = self.pk_indexes
        if not pks and mode != "insert":
            return RowError(
                "no_pk", message="This Data Extension does not have any primary keys defined."
            )
        given: dict[int, object] = {}
        violations: list[Violation] = []
        for name, value in values.items():
            idx = self.index_of(str(name))
            if idx is None:
                violations.append(
                    Violation(
                        str(name), 70012, "UnknownColumn", f"The column [{name}] does not exist."
                    )
                )
                continue
            given[idx] = value
        key: tuple | RowError = self.key_of(values) if pks else ("#", self._next_row)
        if isinstance(key, RowError):
            if key.kind == "missing_key":
                return key
            violations.extend(key.violations)
        for idx, value in given.items():
            if idx in pks:
                continue
            violation = fieldrules.check_value(self.fields[idx], value)
            if violation is not None:
                violations.append(violation)
        if violations:
            return RowError("validation", violations)
        assert isinstance(key, tuple)
        existing = self.rows.get(key)
        if existing is not None and mode == "insert":
            return RowError("duplicate")
        if existing is None and mode == "update":
            return RowError("not_found", message="Cannot locate the existing record.")
        if existing is None:
            stored = []
            for i, f in enumerate(self.fields):
                if i in given and not fieldrules.is_blank(given[i]):
                    stored.append(fieldrules.canonical(f, given[i]))
                    continue
                default = self._default_for(f)
                if default is None and f.is_required:
                    violations.append(fieldrules.check_value(f, None))  # type: ignore[arg-type]
                stored.append(default)
            if violations:
                return RowError("validation", violations)
            if not pks:
                self._next_row += 1
            self.rows[key] = tuple(stored)
            return None
        updated = list(existing)
        for i, value in given.items():
            updated[i] = fieldrules.canonical(self.fields[i], value)
        self.rows[key] = tuple(updated)
        return None

    def delete_row(self, keys: Mapping[str, object]) -> RowError | None:
        if not self.pk_indexes:
            return RowError(
                "no_pk", message="This Data Extension does not have any primary keys defined."
            )
        key = self.key_of(keys)
        if isinstance(key, RowError):
            return key
        if self.rows.pop(key, None) is None:
            return RowError("not_found", message="The row does not exist.")
        return None

    def row_dicts(self, rows: Iterable[tuple] | None = None) -> Iterable[dict[str, str | None]]:
        names = [f.name for f in self.fields]
        for values in self.rows.values() if rows is None else rows:
            yield dict(zip(names, values, strict=False))

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "customerKey": self.customer_key,
            "objectId": self.object_id,
            "categoryId": self.category_id,
            "isSendable": self.is_sendable,
            "rowCount": len(self.rows),
            "fields": [
                {
                    "name": f.name,
                    "fieldType": f.field_type,
                    "maxLength": f.max_length,
                    "precision": f.precision,
                    "scale": f.scale,
                    "isPrimaryKey": f.is_primary_key,
                    "isRequired": f.is_required,
                    "defaultValue": f.default_value,
                }
                for f in self.fields
            ],
        }


class Tenant:
    """Everything one simulated SFMC account holds. Take `lock` around every access."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.folders: dict[int, SimFolder] = {}
            self.des: dict[str, SimDE] = {}  # casefolded CustomerKey -> DE
            self.jobs: dict[str, Any] = {}  # requestId -> async job (see rest_async.Job)
            self.job_queue: deque[Any] = deque()
            self.queue_free_at = 0.0
            self.continuations: dict[str, Any] = {}  # SOAP RequestID -> remaining results
            self.rowset_tokens: dict[str, str] = {}  # REST rowset requestToken -> DE key
            self.extensions: dict[str, Any] = {}  # free space for extension modules
            self._next_folder = ROOT_FOLDER_ID
            self.add_folder("Data Extensions", 0, customer_key="dataextension_default")

    # ----- folders
    def add_folder(
        self, name: str, parent_id: int, *, customer_key: str | None = None, **kw: Any
    ) -> SimFolder:
        with self.lock:
            folder_id = self._next_folder
            self._next_folder += 1
            folder = SimFolder(folder_id, name, customer_key or str(uuid.uuid4()), parent_id, **kw)
            self.folders[folder_id] = folder
            return folder

    @property
    def root_folder_id(self) -> int:
        for folder in self.folders.values():
            if folder.parent_id == 0 and folder.content_type == "dataextension":
                return folder.id
        return ROOT_FOLDER_ID

    # ----- data extensions
    def get_de(self, key: str) -> SimDE | None:
        return self.des.get(key.casefold())

    def get_de_by_id(self, object_id: str) -> SimDE | None:
        folded = object_id.strip("{}").casefold()
        return next((d for d in self.des.values() if d.object_id.casefold() == folded), None)

    def get_de_by_name(self, name: str) -> SimDE | None:
        folded = name.casefold()
        return next((d for d in self.des.values() if d.name.casefold() == folded), None)

    def add_de(self, de: SimDE) -> SimDE:
        with self.lock:
            self.des[de.customer_key.casefold()] = de
            return de

    def remove_de(self, key: str) -> SimDE | None:
        with self.lock:
            return self.des.pop(key.casefold(), None)

    @property
    def total_rows(self) -> int:
        return sum(len(d.rows) for d in self.des.values())

    # ----- async processing
    def settle(self, now: float | None = None) -> None:
        """Apply every queued async job whose processing time has elapsed, in FIFO order."""
        now = time.monotonic() if now is None else now
        with self.lock:
            while self.job_queue and self.job_queue[0].complete_at <= now:
                self.job_queue.popleft().apply(self)
