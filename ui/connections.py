"""Connection use cases: list, save (validated, secret write-only), test and delete connections."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from sfmc.config import check_local_address, normalize_auth_uri
from store import audit, connections
from ui.transaction import transaction

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


@dataclass(frozen=True)
class ConnectionForm:
    """What the add/edit form holds (as typed)."""

    name: str
    auth_base_uri: str
    client_id: str
    client_secret: str  # blank when editing = keep the current secret
    account_id: str = ""
    allow_modeled: bool = False


def connection_rows(engine: Engine) -> list[dict[str, Any]]:
    """Connections as plain dicts (what the wizard shows and checks)."""
    with Session(engine) as session:
        return [
            {"id": c.id, "name": c.name, "client_id": c.client_id, "allow_modeled": c.allow_modeled}
            for c in connections.list_connections(session=session)
        ]


def save_connection(
    engine: Engine,
    form: ConnectionForm,
    *,
    editing_id: int | None,
    who: str,
    local_address: str | None,
) -> list[str]:
    """Add (`editing_id` None) or edit a connection, with its audit entry, unless it has problems.

    Args:
        engine: the store.
        form: the values typed in the form.
        editing_id: the connection being edited, or None to add one.
        who: the user, for the audit log.
        local_address: demo mode: the built-in simulator's Auth Base URI, the one local address
            a connection may use; None outside demo mode (no local address at all).

    Returns:
        What to fix (nothing saved then), or an empty list once saved.

    Raises:
        ValueError: the store refused the values; nothing is written.
    """
    values = {
        "name": form.name.strip(),
        "auth_base_uri": form.auth_base_uri.strip(),
        "client_id": form.client_id.strip(),
        "account_id": form.account_id.strip() or None,
        "allow_modeled": form.allow_modeled,
    }
    secret = form.client_secret.strip()
    if not values["name"] or not values["auth_base_uri"] or not values["client_id"]:
        return ["Name, Auth Base URI and Client ID are required."]
    if editing_id is None and not secret:
        return ["Enter the Client Secret of the Installed Package."]
    if local_address is not None:
        check_local_address(values["auth_base_uri"], local_address)
    values["auth_base_uri"] = normalize_auth_uri(
        values["auth_base_uri"], allow_local=local_address is not None
    )
    with transaction(engine) as session:
        clash = connections.get_connection_by_name(values["name"], session=session)
        if clash is not None and clash.id != editing_id:
            return [f"A connection named {values['name']!r} exists: choose another name."]
        if editing_id is None:
            connections.create_connection(**values, client_secret=secret, session=session)
        else:
            connections.update_connection(
                editing_id, **values, client_secret=secret or None, session=session
            )
        audit.record_audit(who, "save connection", values["name"], session=session)
    return []


def record_test(engine: Engine, connection_id: int, report: Any) -> None:
    """Remember a connection test's report (the "tested OK" badge)."""
    with Session(engine) as session:
        connections.record_connection_test(
            connection_id, report.ok, dataclasses.asdict(report), session=session
        )


def delete_connection(engine: Engine, connection_id: int, *, name: str, who: str) -> None:
    """Delete a connection with its audit entry.

    Raises:
        InUseError: pathways still push through it (delete them first).
    """
    with transaction(engine) as session:
        connections.delete_connection(connection_id, session=session)
        audit.record_audit(who, "delete connection", name, session=session)
