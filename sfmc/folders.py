"""Data Extension folders as a tree with paths, with a fallback for packages without the scope."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sfmc import soap
from sfmc.data_extensions import list_data_extensions
from sfmc.errors import SfmcAuthError
from sfmc.scopes import FOLDER_SCOPE
from sfmc.types import Folder, FolderListing

if TYPE_CHECKING:
    from sfmc.transport import SfmcTransport


def list_folders(client: SfmcTransport) -> FolderListing:
    """Data Extension folders as a tree with paths; falls back to folders of existing DEs."""
    flt = soap.or_filter(
        ("ContentType", "equals", "dataextension"),
        ("ContentType", "equals", "shared_dataextension"),
    )
    try:
        results = list(
            client._retrieve("DataFolder", soap.FOLDER_PROPERTIES, flt, operation="list folders")
        )
    except SfmcAuthError:
        return _folders_from_data_extensions(client)
    return FolderListing(folders=_folder_tree(results))


def _folders_from_data_extensions(client: SfmcTransport) -> FolderListing:
    des = list_data_extensions(client)
    by_folder: dict[int, list[str]] = {}
    for de in des:
        if de.category_id is not None:
            by_folder.setdefault(de.category_id, []).append(de.name)
    folders = tuple(
        Folder(
            id=fid,
            name=f"Folder {fid}",
            parent_id=None,
            path=f"Folder {fid} (holds {', '.join(sorted(names)[:3])})",
        )
        for fid, names in sorted(by_folder.items())
    )
    notice = (
        f"This package cannot read Data Extension folders, so only the {len(folders)} folder(s) that "
        f"hold existing Data Extensions are listed. Grant the {FOLDER_SCOPE} scope to pick any folder."
    )
    return FolderListing(folders=folders, fallback=True, notice=notice)


def _folder_tree(results: Iterable[soap.SoapResult]) -> tuple[Folder, ...]:
    raw: dict[int, tuple[str, int | None]] = {}
    owners: dict[int, tuple[int | None, bool]] = {}
    for r in results:
        v = r.values
        parent = v.get("ParentFolder")
        parent_id = soap._int(str(parent.get("ID"))) if isinstance(parent, dict) else None
        fid = soap._int(str(v.get("ID", "")))
        if fid is not None:
            raw[fid] = (str(v.get("Name", "")), parent_id or None)
            client = v.get("Client")
            mid = soap._int(str(client.get("ID"))) if isinstance(client, dict) else None
            owners[fid] = (mid, str(v.get("ContentType", "")).startswith("shared_"))

    def path(fid: int, seen: frozenset[int] = frozenset()) -> str:
        name, parent = raw[fid]
        if parent is None or parent not in raw or parent in seen:
            return name
        return f"{path(parent, seen | {fid})} / {name}"

    folders = [
        Folder(
            id=fid,
            name=name,
            parent_id=parent if parent in raw else None,
            path=path(fid),
            owner_mid=owners[fid][0],
            shared=owners[fid][1],
        )
        for fid, (name, parent) in raw.items()
    ]
    return tuple(sorted(folders, key=lambda f: f.path.lower()))


_OWNERS: dict[tuple[str, str, str, int], int | None] = {}


def act_for_folder(client: SfmcTransport, folder_id: int | None) -> int | None:
    """Make the client's SOAP requests act in the unit owning `folder_id` when it is shared.

    The owner is looked up once per connection and folder in the process (one folder listing).
    Returns the MID now sent as `Client/ID`, or None (the package's own unit).
    """
    if folder_id is None:
        client.client_mid = None
        return None
    creds = client.credentials
    key = (client.auth_uri, creds.client_id.strip(), str(creds.account_id or ""), folder_id)
    if key not in _OWNERS:
        _OWNERS[key] = shared_owner(list_folders(client), folder_id)
    client.client_mid = _OWNERS[key]
    return client.client_mid


def shared_owner(listing: FolderListing, folder_id: int | None) -> int | None:
    """The parent unit's MID when `folder_id` is a shared folder or lies under one, else None.

    A child unit sees the Enterprise's shared folders in its list, each naming its owner in
    `Client/ID`; using them (and their DEs) over SOAP needs that Client/ID.
    """
    by_id = {f.id: f for f in listing.folders}
    seen: set[int] = set()
    folder = by_id.get(folder_id) if folder_id is not None else None
    while folder is not None and folder.id not in seen:
        if folder.shared:
            return folder.owner_mid
        seen.add(folder.id)
        folder = by_id.get(folder.parent_id) if folder.parent_id is not None else None
    return None
