"""Reading a Data Extension's rows: the keys Mirror, Append and Update Only compare against.

`iter_rows` streams them by SOAP Retrieve (each page needs the previous one's request id);
`rowset_first_page` and `rowset_page` read them by the REST rowset, whose pages are independent.

Functions take the client (any `SfmcTransport`) first; `SfmcClient` exposes each as a method.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sfmc import soap
from sfmc.errors import SfmcConfigError, SfmcFatalError
from sfmc.responses import json_object
from sfmc.transport import READ, rest_path

if TYPE_CHECKING:
    from sfmc.transport import SfmcTransport

# Rows per REST rowset page: what clients use (sfmc-api.md §6; the maximum is not documented).
ROWSET_PAGE = 2_500


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


@dataclass(frozen=True)
class RowsetPage:
    """One page of a REST rowset read, with what reading the other pages needs.

    Attributes:
        rows: `{field: value}` per DE row, only the fields asked for, named as asked (SFMC
            sends lowercased names; values are strings, "" for none).
        token: the read's request token: page N is `GET .../token/{token}/rowset?$page=N`.
        count: rows in the DE.
        page_size: rows per page as SFMC answered (a tenant may cap it below the one asked).
    """

    rows: list[dict[str, str]]
    token: str
    count: int
    page_size: int

    @property
    def pages(self) -> int:
        return -(-self.count // max(self.page_size, 1))


def rowset_first_page(
    client: SfmcTransport, customer_key: str, fields: Sequence[str], *, page_size: int = ROWSET_PAGE
) -> RowsetPage:
    """Page 1 of a DE's rows by the REST rowset; its token reads every other page independently.

    The pages after the first do not depend on each other (unlike SOAP's ContinueRequest
    chain), so a caller may read them in parallel with `rowset_page`.
    """
    if not fields:
        msg = "Name at least one field to read."
        raise SfmcConfigError(msg, operation="read rows")
    data = _get_page(
        client,
        rest_path("data/v1/customobjectdata/key/{key}/rowset", key=customer_key),
        1,
        page_size,
        operation=f"read rows of {customer_key}",
    )
    token = str(data.get("requestToken") or "")
    count = int(data.get("count") or 0)
    size = int(data.get("pageSize") or page_size)
    rows = _rows(data, fields)
    if count > len(rows) and not token:
        msg = "SFMC sent the first page of a rowset read without a request token."
        raise SfmcFatalError(msg, operation=f"read rows of {customer_key}")
    return RowsetPage(rows, token, count, size)


def rowset_page(
    client: SfmcTransport, first: RowsetPage, page: int, fields: Sequence[str]
) -> list[dict[str, str]]:
    """Page `page` (2 and up) of the read `first` started."""
    data = _get_page(
        client,
        rest_path("data/v1/customobjectdata/token/{token}/rowset", token=first.token),
        page,
        first.page_size,
        operation="read rows (next page)",
    )
    return _rows(data, fields)


def _get_page(
    client: SfmcTransport, path: str, page: int, page_size: int, *, operation: str
) -> dict[str, Any]:
    resp = client._send(
        "GET",
        path,
        params={"$page": page, "$pageSize": page_size},
        operation=operation,
        scope=READ,
    )
    return json_object(resp)


def _rows(data: dict[str, Any], fields: Sequence[str]) -> list[dict[str, str]]:
    """The asked fields of each item (keys and values merged; names matched ignoring case).

    The per-item path of every key read (40 pages per 100,000 keys): each name SFMC sends is
    matched once per page, and an item's values are not looked at once its keys gave every
    asked field (a key read asks for the key fields alone; a DE may have many other columns).
    """
    wanted = {f.casefold(): f for f in fields}
    field_of: dict[Any, str | None] = {}  # name as sent -> asked field (None: not asked)
    rows = []
    for item in data.get("items") or []:
        if not isinstance(item, dict):
            continue
        row: dict[str, str] = {}
        for part in (item.get("keys"), item.get("values")):
            if not isinstance(part, dict) or len(row) == len(wanted):
                continue
            for name, value in part.items():
                field = field_of.get(name, "")
                if field == "":
                    field = field_of[name] = wanted.get(str(name).casefold())
                if field is not None:
                    row[field] = value if value.__class__ is str else _text(value)
        rows.append(row)
    return rows


def _text(value: object) -> str:
    return "" if value is None else str(value)
