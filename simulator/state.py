"""The in-memory tenant: folders, Data Extensions with their rows, async jobs. Thread-safe.

Rows are stored compactly: a dict from the normalised primary-key tuple (or a row number when the
DE has no primary key) to a tuple of stored strings in field order, so a million rows fit easily.
All mutation happens under `Tenant.lock` (an RLock); handlers take it for the whole operation.
"""

from __future__ import annotations

import bisect
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from simulator.fieldrules import canonical, check_value
from simulator.fields import SimField
from simulator.realism import CHILD_MID as MID  # the package's business unit (Client/ID in SOAP)
from simulator.realism import EventLog
from simulator.scalars import format_date
from simulator.schema import NO_PK, UNSET, DeSchema, Prepared, RowError
from simulator.send_rules import RetentionSetup, SendSetup

__all__ = ["MID", "ROOT_FOLDER_ID", "RowError", "SimDE", "SimFolder", "Tenant", "now_utc"]

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
class SimDE:
    """One Data Extension with its rows; `sending` None = not sendable, `retention` None = kept."""

    customer_key: str
    name: str
    category_id: int
    fields: list[SimField]
    description: str = ""
    sending: SendSetup | None = None
    retention: RetentionSetup | None = None
    object_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    field_ids: list[str] = field(default_factory=list)
    created: datetime = field(default_factory=now_utc)
    rows: dict[tuple, tuple] = field(default_factory=dict)
    _next_row: int = 0
    date_offset_h: int = 0  # the tenant's: where zone-aware dates are stored (set by add_de)

    def __post_init__(self) -> None:
        while len(self.field_ids) < len(self.fields):
            self.field_ids.append(str(uuid.uuid4()))

    # ----- fields
    @property
    def schema(self) -> DeSchema:
        """The compiled field list, rebuilt whenever the fields change (rows are saved in hot loops)."""
        sig = (id(self.fields), len(self.fields), self.date_offset_h)
        cached = self.__dict__.get("_schema")
        if cached is None or cached[0] != sig:
            cached = (sig, DeSchema(self.fields, date_offset_h=self.date_offset_h))
            self.__dict__["_schema"] = cached
        return cached[1]

    def index_of(self, name: str) -> int | None:
        return self.schema.index_of(name)

    @property
    def pk_indexes(self) -> list[int]:
        return self.schema.pk_indexes

    def add_field(self, new: SimField) -> None:
        self.fields.append(new)
        self.field_ids.append(str(uuid.uuid4()))
        default = self._default_for(new)
        if self.rows:
            self.rows = {k: (*v, default) for k, v in self.rows.items()}

    def replace_field(self, index: int, new: SimField) -> None:
        self.fields[index] = new
        self.__dict__.pop("_schema", None)

    def drop_field(self, index: int) -> None:
        del self.fields[index]
        del self.field_ids[index]
        self.__dict__.pop("_schema", None)
        self.rows = {k: v[:index] + v[index + 1 :] for k, v in self.rows.items()}

    @staticmethod
    def _default_for(f: SimField) -> str | None:
        if f.default_value in (None, ""):
            return None
        if f.field_type == "Date" and f.default_value.lower() == "now()":
            return format_date(now_utc())
        if check_value(f, f.default_value) is None:
            return canonical(f, f.default_value)
        return None

    # ----- rows
    def key_of(self, values: Mapping[str, object]) -> tuple | RowError:
        """The normalised PK tuple of a submitted row (names matched case-insensitively)."""
        return self.schema.key_of(values)

    def save_row(self, values: Mapping[str, object], *, mode: str) -> RowError | None:
        """Validate and store one row. `mode`: "upsert", "insert" or "update". Hold the lock."""
        schema = self.schema
        prepared = schema.prepare(values, mode)
        if isinstance(prepared, RowError):
            return prepared
        return self.commit(prepared, mode=mode, schema=schema)

    def commit(
        self, prepared: Prepared, *, mode: str, schema: DeSchema | None = None
    ) -> RowError | None:
        """Store a row that `schema.prepare` accepted (insert vs update, defaults). Hold the lock.

        `schema` must be the DE's current one (the caller checks after fields may have changed).
        """
        key, slots = prepared
        numbered = key is None  # no primary key: every row is new, under the next row number
        if numbered:
            key = ("#", self._next_row)
        existing = self.rows.get(key)
        if slots.__class__ is tuple:  # complete row: stored as is, no default to fill
            if existing is not None and mode == "insert":
                return RowError("duplicate")
            if existing is None and mode == "update":
                return RowError("not_found", message="Cannot locate the existing record.")
            if numbered:
                self._next_row += 1
            self.rows[key] = slots
            return None
        if existing is not None:
            if mode == "insert":
                return RowError("duplicate")
            if UNSET in slots:
                self.rows[key] = tuple(
                    old if new is UNSET else new for new, old in zip(slots, existing, strict=True)
                )
            else:
                self.rows[key] = tuple(slots)
            return None
        if mode == "update":
            return RowError("not_found", message="Cannot locate the existing record.")
        schema = schema or self.schema
        if UNSET in slots or (schema.fills and None in slots):
            violations = []
            fields = schema.fields
            for i, value in enumerate(slots):
                if value is None or value is UNSET:
                    value = schema.default(i)
                    if value is None and fields[i].is_required:
                        violations.append(check_value(fields[i], None))
                    slots[i] = value
            if violations:
                return RowError("validation", violations)  # type: ignore[arg-type]
        if not schema.pk_indexes:
            self._next_row += 1
        self.rows[key] = tuple(slots)
        return None

    def commit_many(self, prepared: Iterable[Any], *, mode: str, schema: DeSchema) -> list[Any]:
        """`commit` for a whole async job; hold the lock (this is the loop it is held for).

        Prepared tuples are stored; anything else (a RowError or a message) is passed through as
        that row's outcome.
        """
        rows, commit = self.rows, self.commit
        # Upserts of complete rows with a key just store the tuple (new or replacing the old row).
        plain = mode == "upsert" and bool(schema.pk_indexes)
        outcomes: list[Any] = []
        append = outcomes.append
        for item in prepared:
            if item.__class__ is not tuple:
                append(item)
            elif plain and item[1].__class__ is tuple:
                rows[item[0]] = item[1]
                append(None)
            else:
                append(commit(item, mode=mode, schema=schema))
        return outcomes

    def delete_row(self, keys: Mapping[str, object]) -> RowError | None:
        if not self.pk_indexes:
            return RowError("no_pk", message=NO_PK)
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
            "isSendable": self.sending is not None,
            "isTestable": bool(self.sending and self.sending.testable),
            "sendableField": self.sending.field if self.sending else None,
            "sendableSubscriberField": self.sending.attribute if self.sending else None,
            "retention": self.retention.describe() if self.retention else None,
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

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        date_offset_h: int = 0,
        business_units: bool = False,
        log: EventLog | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock  # the async queue's time (`SimulatorConfig.queue_time`)
        self.date_offset_h = date_offset_h  # where zone-aware dates are stored (0 = UTC)
        self.business_units = business_units  # parent and child MIDs (`simulator.business_units`)
        self.log = log or EventLog(clock)  # what the realistic behaviours did
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.folders: dict[int, SimFolder] = {}
            self.des: dict[str, SimDE] = {}  # casefolded CustomerKey -> DE
            self.jobs: dict[str, Any] = {}  # requestId -> async job (see rest_async.Job)
            self.job_queue: deque[Any] = deque()
            self.busy: list[tuple[float, float]] = []  # booked processing (start, end), by start
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
            de.date_offset_h = self.date_offset_h
            self.des[de.customer_key.casefold()] = de
            return de

    def remove_de(self, key: str) -> SimDE | None:
        with self.lock:
            return self.des.pop(key.casefold(), None)

    @property
    def total_rows(self) -> int:
        return sum(len(d.rows) for d in self.des.values())

    # ----- async processing
    def book(self, ready: float, seconds: float) -> float:
        """Book `seconds` of the tenant's one async processor, from `ready` on: the start.

        Jobs wait for pickup side by side; what SFMC serialises is the processing after pickup,
        so a job takes the first free stretch long enough after its own pickup (a job with a long
        wait does not hold up the jobs picked up before its turn).
        """
        with self.lock:
            now = self.clock()
            self.busy = [slot for slot in self.busy if slot[1] > now]
            start = ready
            for busy_start, busy_end in self.busy:
                if start + seconds <= busy_start:
                    break
                start = max(start, busy_end)
            bisect.insort(self.busy, (start, start + seconds))
            return start

    def settle(self, now: float | None = None) -> None:
        """Apply every queued async job whose processing has ended, in the order they end."""
        now = self.clock() if now is None else now
        with self.lock:
            while self.job_queue and self.job_queue[0].complete_at <= now:
                self.job_queue.popleft().apply(self)
