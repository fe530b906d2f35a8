"""Reading a Data Extension's rows: the keys Mirror, Append and Update Only compare against.

Functions take the client (any `SfmcTransport`) first; `SfmcClient` exposes each as a method.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from sfmc import soap
from sfmc.errors import SfmcConfigError

if TYPE_CHECKING:
    from sfmc.transport import SfmcTransport


def iter_rows(
    client: SfmcTransport, customer_key: str, fields: Sequence[str]
) -> Iterator[dict[str, str]]:
    """Stream a DE's rows (only `fields`), one SOAP page (2,500 rows) in memory at a time."""
    if not fields:
        msg = "Name at least one field to read."
        raise SfmcConfigError(msg, operation="read rows")
    for result in client._retrieve(
        f"DataExtensionObject[{customer_key}]", fields, operation=f"read rows of {customer_key}"
    ):
        yield soap.row_properties(result)
