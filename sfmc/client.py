"""The SFMC client: thin public resource methods on top of one HTTP choke point.

Where things live:

- `sfmc.transport`: `SfmcTransport._request` (tokens, retries, timeouts, error mapping) and the
  SOAP/REST helpers on top of it; `sfmc.responses` maps failures to the error tree.
- `sfmc.connection`: the connection test behind `test_connection` / `check_connection`.
- `sfmc.folders`, `sfmc.data_extensions` (+ `sfmc.schema` rules): folders and DEs.
- `sfmc.rows` (+ `sfmc.outcomes` per-row verdicts): writing and deleting rows; `sfmc.keys`:
  reading them.

Each method here is a delegation to one of those modules, so a resource's code sits in one place.
Thread-safe: the engine shares one client between worker threads (see `sfmc.transport`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sfmc import connection, data_extensions, folders, keys
from sfmc import rows as de_rows  # `rows` is a parameter name below
from sfmc.config import SfmcCredentials
from sfmc.errors import SfmcConfigError
from sfmc.polling import POLL_INITIAL, POLL_MAX
from sfmc.rows import (
    ASYNC_MAX_BYTES,
    ASYNC_MAX_ROWS,
    DELETE_BATCH,
    RESULTS_PAGE_SIZE,
    ROWSET_BATCH,
    batches,
)
from sfmc.schema import MAX_KEY_LENGTH
from sfmc.transport import (
    INITIAL_DELAY,
    MAX_DELAY,
    MAX_RETRY_AFTER,
    READ,
    WRITE,
    SfmcTransport,
    backoff_delay,
)
from sfmc.types import (
    AsyncStatus,
    ConnectionReport,
    DataExtension,
    DeField,
    FolderListing,
    RowOutcome,
    Sending,
)

__all__ = [
    "ASYNC_MAX_BYTES",
    "ASYNC_MAX_ROWS",
    "DELETE_BATCH",
    "INITIAL_DELAY",
    "MAX_DELAY",
    "MAX_KEY_LENGTH",
    "MAX_RETRY_AFTER",
    "POLL_INITIAL",
    "POLL_MAX",
    "READ",
    "RESULTS_PAGE_SIZE",
    "ROWSET_BATCH",
    "WRITE",
    "SfmcClient",
    "backoff_delay",
    "batches",
    "check_connection",
]


class SfmcClient(SfmcTransport):
    """Talks to one SFMC tenant with one Installed Package's credentials.

    The constructor is `SfmcTransport.__init__` (keyword-only: credentials, session, allow_local,
    timeout, max_retries, sleep, clock).
    """

    # --- tokens and connection ----------------------------------------------------------------

    def granted_scopes(self) -> frozenset[str]:
        """Scopes of the current token (fetching one if needed)."""
        return self._tokens.get().scopes

    def test_connection(self) -> ConnectionReport:
        """Request a fresh token and make one light SOAP call; never raises for auth/network problems."""
        return connection.connection_report(self)

    # --- folders and Data Extensions -----------------------------------------------------------

    def list_folders(self) -> FolderListing:
        """Data Extension folders as a tree with paths; falls back to folders of existing DEs."""
        return folders.list_folders(self)

    def act_for_folder(self, folder_id: int | None) -> None:
        """Send the owner's `Client/ID` on SOAP when `folder_id` is a shared (parent's) folder.

        Looked up at the first SOAP request (a run refused before any call makes none).
        """
        self.resolve_owner = lambda: folders.act_for_folder(self, folder_id)

    def list_data_extensions(self) -> list[DataExtension]:
        """Every Data Extension in the business unit, without fields."""
        return data_extensions.list_data_extensions(self)

    def find_data_extension(
        self, *, customer_key: str | None = None, name: str | None = None
    ) -> DataExtension | None:
        """Find a DE by customer key or name, with its fields; None when absent."""
        return data_extensions.find_data_extension(self, customer_key=customer_key, name=name)

    def create_data_extension(self, de: DataExtension) -> DataExtension:
        """Create a DE (sendable when `de.sending` says so) after checking SFMC's rules locally.

        Raises:
            SfmcConfigError: a schema rule is broken (the message says which and how to fix it).
            SfmcFatalError: SFMC refused it (for example, the name or key already exists).
        """
        return data_extensions.create_data_extension(self, de)

    def make_sendable(self, de: DataExtension, sending: Sending) -> DataExtension:
        """Turn an existing DE sendable ("Used for Sending"), checked against its SFMC fields.

        Raises:
            SfmcConfigError: kind "sendable_refused" when SFMC would refuse the change.
        """
        return data_extensions.make_sendable(self, de, sending)

    def add_fields(self, customer_key: str, fields: Sequence[DeField]) -> DataExtension:
        """Add new fields (or lengthen Text fields) on an existing DE; identical fields are skipped.

        Raises:
            SfmcConfigError: the DE does not exist or a change breaks SFMC's rules.
        """
        return data_extensions.add_fields(self, customer_key, fields)

    def delete_data_extension(self, customer_key: str) -> None:
        """Delete a whole DE (rows and all)."""
        data_extensions.delete_data_extension(self, customer_key)

    # --- rows ------------------------------------------------------------------------------------

    def submit_rows(
        self, customer_key: str, rows: Sequence[Mapping[str, object]], *, mode: str
    ) -> str:
        """Queue rows through the async DE API; returns SFMC's requestId.

        Args:
            customer_key: the DE's external key.
            rows: flat `{field: value}` rows (at most 32,000 and the byte cap; see `batches`).
            mode: "upsert" (PUT) or "insert" (POST; existing keys come back as row errors).
        """
        return de_rows.submit_rows(self, customer_key, rows, mode=mode)

    def async_status(self, request_id: str) -> AsyncStatus | None:
        """Status of an async request; None while SFMC does not know the request yet."""
        return de_rows.async_status(self, request_id)

    def async_results(self, request_id: str) -> list[RowOutcome]:
        """Per-row outcomes of an async request, all pages, in submission order."""
        return de_rows.async_results(self, request_id)

    def wait_for_rows(
        self, request_id: str, n_rows: int, *, timeout: float | None = None
    ) -> list[RowOutcome]:
        """Poll until the async request finishes, then return one outcome per submitted row.

        Results are read only when the status reports errors.
        """
        return de_rows.wait_for_rows(self, request_id, n_rows, timeout=timeout)

    def iter_rows(self, customer_key: str, fields: Sequence[str]) -> Iterator[dict[str, str]]:
        """Stream a DE's rows (only `fields`), one SOAP page (2,500 rows) in memory at a time."""
        return keys.iter_rows(self, customer_key, fields)

    def delete_rows(
        self, customer_key: str, keys: Sequence[Mapping[str, object]]
    ) -> list[RowOutcome]:
        """Delete rows by primary key (all PK fields per row), in batches; one outcome per key."""
        # The batch size is read here so that `sfmc.client.DELETE_BATCH` stays the knob.
        return de_rows.delete_rows(self, customer_key, keys, batch_size=DELETE_BATCH)

    def clear_data(self, customer_key: str) -> None:
        """Remove every row of a DE (SOAP Perform ClearData)."""
        de_rows.clear_data(self, customer_key)

    def upsert_rowset(
        self, customer_key: str, rows: Sequence[Mapping[str, object]], primary_keys: Sequence[str]
    ) -> list[RowOutcome]:
        """Synchronous hub upsert in batches of 50; a failed batch gives all its rows the error."""
        # The batch size is read here so that `sfmc.client.ROWSET_BATCH` stays the knob.
        return de_rows.upsert_rowset(
            self, customer_key, rows, primary_keys, batch_size=ROWSET_BATCH
        )


def check_connection(
    credentials: SfmcCredentials, *, allow_local: bool = False, **options: Any
) -> ConnectionReport:
    """Build a client and test it, turning a bad Auth Base URI into a failed report too."""
    try:
        client = SfmcClient(credentials=credentials, allow_local=allow_local, **options)
    except SfmcConfigError as exc:
        return ConnectionReport(
            ok=False, reason=exc.message, fix=exc.message, auth_url=credentials.auth_base_uri
        )
    return client.test_connection()
