"""SQLModel tables of the pathway store (tiangolo style: one table per concept)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def _json(default: Any = None) -> Any:
    factory = (
        (lambda: list(default)) if isinstance(default, list) else (lambda: dict(default or {}))
    )
    return Field(default_factory=factory, sa_column=Column(JSON, nullable=False))


class Connection(SQLModel, table=True):
    """One SFMC Installed Package (server-to-server API integration)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    auth_base_uri: str
    client_id: str
    # Fernet token; the plaintext secret is never stored. See store.crypto.
    client_secret_encrypted: str = Field(repr=False)
    account_id: str | None = None
    # Zone of the tenant's dates (IANA name or UTC+HH:MM); None: SFMC's server time, CST.
    time_zone: str | None = None
    allow_modeled: bool = False
    # Default name and external key of a new pathway's DE (None: Pathways' own, sync.mapping).
    de_name_template: str | None = None
    de_key_template: str | None = None
    last_test_ok: bool | None = None
    last_test_at: datetime | None = None
    last_test_report: dict[str, Any] = _json({})
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class DataSet(SQLModel, table=True):
    """Uploaded rows, stored in their own table `table_name` of the store."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    source_filename: str
    table_name: str = Field(unique=True)
    # [{"name": safe name, "original": header as uploaded, "type": "text"|"integer"|"decimal"|
    #   "date"|"boolean"|"email"|"phone", "max_length": int, "bad_examples": [...]}]
    columns: list[dict[str, Any]] = _json([])
    row_count: int = 0
    # [{"line": int, "problem": str}] rows that could not be imported, with why.
    problems: list[dict[str, Any]] = _json([])
    # A database source (`store.sql_source`): Fernet token of its SQLAlchemy URL and its query.
    sql_url_encrypted: str | None = Field(default=None, repr=False)
    sql_query: str | None = None
    # Key column(s) rows were matched on at the last refresh: the next one's default.
    refresh_keys: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)


class DataSetVersion(SQLModel, table=True):
    """One version of a data set's rows: the first import or a refresh (`store.refresh`)."""

    id: int | None = Field(default=None, primary_key=True)
    dataset_id: int = Field(foreign_key="dataset.id", index=True)
    version: int = 1
    at: datetime = Field(default_factory=utcnow)
    who: str = ""
    source: str = ""  # the file's name, or "database query"
    mode: str = "import"  # "import" | "replace" | "upsert"
    rows_added: int = 0
    rows_changed: int = 0
    rows_removed: int = 0
    row_count: int = 0
    # Highest `_row` ever given in this data set: new rows get higher ones, so a row number the
    # sync ledger remembers is never handed to another row.
    high_row: int = 0


class Audience(SQLModel, table=True):
    """A data set plus filters (all rows when there are none)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    dataset_id: int = Field(foreign_key="dataset.id", index=True)
    # [{"column": safe name, "op": "equals"|"contains"|..., "value": ...}] combined with AND.
    filters: list[dict[str, Any]] = _json([])
    modeled: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class Pathway(SQLModel, table=True):
    """Audience -> connection -> one destination (a Data Extension by default)."""

    id: int | None = Field(default=None, primary_key=True)
    audience_id: int = Field(foreign_key="audience.id", index=True)
    connection_id: int = Field(foreign_key="connection.id", index=True)
    # "data_extension" | "membership_flag" | "contacts" | "journey_event"
    destination_kind: str = "data_extension"
    de_name: str
    de_customer_key: str = Field(index=True)
    de_object_id: str | None = None
    category_id: int | None = None
    category_path: str | None = None
    # "upsert" | "mirror" | "append" | "update_only"
    method: str = "upsert"
    primary_keys: list[str] = _json([])
    # "manual", or a schedule as `store.schedules.parse_schedule` reads it ("every 2 hours",
    # "daily 08:30 Europe/Paris", "weekly mon,thu 08:30 UTC", "cron 0 6 * * 1-5 UTC").
    schedule: str = "manual"
    # The schedule's slot last taken: each slot is queued once, by one worker (store.schedules).
    schedule_slot: datetime | None = None
    paused: bool = False
    delete_guard_share: float = 0.5
    # Destination-specific settings (flag field name, event definition key, key options...).
    options: dict[str, Any] = _json({})
    # Fields of the DE as last seen in SFMC, to detect drift between runs.
    remote_fields: list[dict[str, Any]] = _json([])
    # What the ledger's source rows (`RowLedger.source_row/source_rev`) were synced under: data
    # set, filters, mapping, DE and method. Another value makes the next run read every row.
    ledger_fingerprint: str | None = None
    created_by: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ColumnMapping(SQLModel, table=True):
    """Source column -> destination field of one pathway."""

    id: int | None = Field(default=None, primary_key=True)
    pathway_id: int = Field(foreign_key="pathway.id", index=True)
    ordinal: int = 0
    source_column: str
    destination_field: str
    # SFMC field type: Text | Number | Decimal | Date | Boolean | EmailAddress | Phone
    field_type: str = "Text"
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    required: bool = False
    is_primary_key: bool = False


class SyncRun(SQLModel, table=True):
    """One execution of a pathway; progress and checkpoint are written as it goes."""

    id: int | None = Field(default=None, primary_key=True)
    pathway_id: int = Field(foreign_key="pathway.id", index=True)
    # "manual" | "schedule" | "cli"
    trigger: str = "manual"
    # "queued" | "running" | "succeeded" | "failed" | "needs_confirm" | "cancelled"
    state: str = Field(default="queued", index=True)
    method: str = "upsert"
    dry_run: bool = False
    full_resend: bool = False
    confirm_deletes: bool = False
    cancel_requested: bool = False
    rows_total: int = 0
    rows_read: int = 0
    rows_sent: int = 0
    rows_succeeded: int = 0
    rows_failed: int = 0
    rows_skipped: int = 0
    rows_deleted: int = 0
    rows_per_s: float = 0.0
    eta_s: float | None = None
    api_calls: int = 0
    message: str | None = None
    checkpoint: dict[str, Any] = _json({})
    # Dry-run plan or mirror-guard figures: {"create": n, "update": n, "delete": n, ...}.
    plan: dict[str, Any] = _json({})
    worker_id: str | None = None
    heartbeat_at: datetime | None = None
    created_by: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    # A failed run's cause for the UI: `sync.types.RunError` kind ("folder_missing", "scope"...)
    # and its facts ({"category_id": 12}, "error_class", "operation"...).
    error_kind: str | None = None
    error_detail: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # What the run changed in SFMC (`store.run_changes`): members new, changed, left.
    rows_new: int | None = None
    rows_changed: int | None = None
    rows_left: int | None = None


class RejectedRow(SQLModel, table=True):
    """A row that did not reach SFMC, or that SFMC refused, with SFMC's reason."""

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="syncrun.id", index=True)
    row_values: dict[str, Any] = _json({})
    primary_key: str | None = None
    field: str | None = None
    error_type: str
    error_details: str
    retryable: bool = False


class RowLedger(SQLModel, table=True):
    """Hash of each row SFMC accepted, per pathway, so re-syncs send only what changed.

    `source_row`/`source_rev` say which data-set row (`_row`) at which revision (`_rev`, bumped
    by a trigger on every UPDATE) SFMC accepted: an incremental run reads only the audience rows
    without such an entry (`store.ledger.UnsyncedRows`).
    """

    __table_args__ = (
        UniqueConstraint("pathway_id", "row_key"),
        Index("ix_rowledger_source", "pathway_id", "source_row", "source_rev"),
    )

    id: int | None = Field(default=None, primary_key=True)
    pathway_id: int = Field(foreign_key="pathway.id", index=True)
    row_key: str
    row_hash: str
    source_row: int | None = None
    source_rev: int | None = None


class PreflightRefusal(SQLModel, table=True):
    """A source row the engine's preflight refused, at the revision it refused it, per pathway.

    Only refusals that depend on the row alone are kept (a bad value, not a duplicate key): an
    incremental run does not read such a row again while its `_rev` is unchanged, and copies
    this record into the run's rejected rows instead (`store.ledger.commit_checkpoint`). Rows
    SFMC itself refused are not kept here: they are retried. Forgotten with the ledger.
    """

    __table_args__ = (UniqueConstraint("pathway_id", "source_row"),)

    id: int | None = Field(default=None, primary_key=True)
    pathway_id: int = Field(foreign_key="pathway.id", index=True)
    source_row: int
    source_rev: int
    row_values: dict[str, Any] = _json({})
    primary_key: str | None = None
    field: str | None = None
    error_type: str
    error_details: str


class AuditEvent(SQLModel, table=True):
    """Who did what, when."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    who: str
    action: str
    detail: str = ""


class AppUser(SQLModel, table=True):
    """A person who can log in (streamlit-authenticator credentials live here, hashed)."""

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True, unique=True)
    name: str
    email: str = ""
    # ["admin"] | ["staff"] | ["analyst"] (a list because streamlit-authenticator expects one).
    roles: list[str] = _json([])
    # bcrypt hash; the password itself is never stored.
    password_hash: str = Field(repr=False)
    created_at: datetime = Field(default_factory=utcnow)
    # A disabled login cannot sign in (`python -m store users disable`); kept for the audit log.
    disabled: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})


class AlertRule(SQLModel, table=True):
    """When and where to alert about a pathway's runs (`store.alerts`).

    A row with `pathway_id` holds one pathway's rule; a row with only `connection_id` holds the
    default of every pathway of that connection that has no rule of its own.
    """

    id: int | None = Field(default=None, primary_key=True)
    connection_id: int | None = Field(default=None, foreign_key="connection.id", index=True)
    pathway_id: int | None = Field(default=None, foreign_key="pathway.id", index=True)
    on_failed: bool = True
    on_partial: bool = True
    partial_threshold_pct: float = 5.0  # alert when more than this share of rows failed
    on_confirm: bool = True
    on_recovered: bool = True
    email_to: str = ""  # comma-separated addresses
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password_encrypted: str | None = Field(default=None, repr=False)  # store.crypto
    smtp_from: str = ""
    smtp_starttls: bool = True
    # A Slack-style webhook URL carries its own secret, so it is stored encrypted too.
    webhook_url_encrypted: str | None = Field(default=None, repr=False)
    updated_at: datetime = Field(default_factory=utcnow)


class RunEvent(SQLModel, table=True):
    """One step of a run's timeline (`sync.run_store` records them; Run details shows them)."""

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="syncrun.id", index=True)
    at: datetime = Field(default_factory=utcnow)
    phase: str  # "queued" | "started" | "sending" | "batch" | "deletes" | "finished" ...
    detail: str = ""
    rows: int | None = None
    api_calls: int | None = None
