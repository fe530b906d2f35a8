"""Plain data passed between the SFMC client, the sync engine and the store."""

from __future__ import annotations

from dataclasses import dataclass, field

FIELD_TYPES = ("Text", "Number", "Decimal", "Date", "Boolean", "EmailAddress", "Phone", "Locale")
# The subscriber attributes a sendable DE's send relationship can name (`SendableSubscriberField`).
SUBSCRIBER_KEY = "Subscriber Key"
EMAIL_ADDRESS = "Email Address"
SEND_RELATIONS = (SUBSCRIBER_KEY, EMAIL_ADDRESS)
# `DataRetentionPeriod` (WSDL enum DateTimeUnitOfMeasure).
RETENTION_UNITS = ("Days", "Weeks", "Months", "Years")


@dataclass(frozen=True)
class DeField:
    """One Data Extension field, as SFMC describes it."""

    name: str
    field_type: str = "Text"
    max_length: int | None = None
    precision: int | None = None
    scale: int | None = None
    is_primary_key: bool = False
    is_required: bool = False
    default_value: str | None = None


@dataclass(frozen=True)
class Sending:
    """A sendable DE's send relationship ("Used for Sending" in Contact Builder).

    Attributes:
        field: the DE field that identifies the subscriber (`SendableDataExtensionField`).
        relates_to: the subscriber attribute it matches, one of `SEND_RELATIONS`
            (`SendableSubscriberField`).
        testable: the DE can be the audience of test sends too (`IsTestable`); SFMC offers
            this only on sendable DEs.
    """

    field: str
    relates_to: str = EMAIL_ADDRESS
    testable: bool = False


@dataclass(frozen=True)
class Retention:
    """How long SFMC keeps a DE's data (the `DataRetention*` properties).

    Attributes:
        length: the period, in `unit`s (`DataRetentionPeriodLength`).
        unit: one of `RETENTION_UNITS` (`DataRetentionPeriod`).
        row_based: each row is deleted when it is older than the period (`RowBasedRetention`);
            False: all rows at once, at the end of the period.
        delete_de: at the end of the period the DE itself is deleted too
            (`DeleteAtEndOfRetentionPeriod`); only with whole-DE retention.
        reset_on_import: an import starts the period again (`ResetRetentionPeriodOnImport`);
            only with whole-DE retention.
    """

    length: int
    unit: str = "Days"
    row_based: bool = False
    delete_de: bool = False
    reset_on_import: bool = False


@dataclass(frozen=True)
class DataExtension:
    """A Data Extension with its fields; `sending` None = not sendable, `retention` None = kept."""

    name: str
    customer_key: str
    object_id: str | None = None
    category_id: int | None = None
    fields: tuple[DeField, ...] = ()
    row_count: int | None = None
    sending: Sending | None = None
    retention: Retention | None = None

    @property
    def is_sendable(self) -> bool:
        return self.sending is not None

    @property
    def primary_keys(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.is_primary_key)


@dataclass(frozen=True)
class Folder:
    """A Data Extension folder (SOAP DataFolder, ContentType dataextension)."""

    id: int
    name: str
    parent_id: int | None
    path: str
    # The business unit owning it (`Client/ID`) and whether it is a shared folder (the parent's).
    owner_mid: int | None = None
    shared: bool = False


@dataclass(frozen=True)
class FolderListing:
    """Folders for the category dropdown; `fallback` when read from existing DEs instead."""

    folders: tuple[Folder, ...]
    fallback: bool = False
    notice: str | None = None


@dataclass(frozen=True)
class RowOutcome:
    """SFMC's verdict on one submitted row (rejections are data, not exceptions)."""

    ok: bool
    error_type: str | None = None
    error_details: str | None = None
    field: str | None = None
    retryable: bool = False


@dataclass(frozen=True)
class ScopeCheck:
    """One line of a connection's scope checklist."""

    scope: str
    granted: bool
    needed_for: str
    breaks_without: str
    required: bool = True  # False: an optional feature (folders picker, contacts, journeys)


@dataclass(frozen=True)
class ConnectionReport:
    """Result of testing a connection, for the Connections page and `python -m sfmc check`."""

    ok: bool
    reason: str
    fix: str | None = None
    subdomain: str | None = None
    auth_url: str | None = None
    rest_url: str | None = None
    soap_url: str | None = None
    scopes: tuple[ScopeCheck, ...] = field(default_factory=tuple)

    @property
    def missing_scopes(self) -> tuple[ScopeCheck, ...]:
        return tuple(s for s in self.scopes if not s.granted)

    @property
    def missing_required_scopes(self) -> tuple[ScopeCheck, ...]:
        return tuple(s for s in self.scopes if s.required and not s.granted)

    @property
    def ready(self) -> bool:
        """The connection works and has every scope the product needs."""
        return self.ok and not self.missing_required_scopes


@dataclass(frozen=True)
class AsyncStatus:
    """Status of an async Data Extension request (`GET /data/v1/async/{id}/status`)."""

    request_id: str
    request_status: str  # Pending | Executing | Complete | Error (some tenants: Has Errors)
    result_status: str | None = None  # "OK" when no row failed ("Has Errors" when some did)
    has_errors: bool = False
    completed: bool = False  # SFMC gave a completionDateTime (a transient "Error" has none)

    @property
    def done(self) -> bool:
        return self.request_status in ("Complete", "Error", "Has Errors")

    @property
    def all_ok(self) -> bool:
        return (
            self.request_status == "Complete" and self.result_status == "OK" and not self.has_errors
        )
