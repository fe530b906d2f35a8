"""Pathway use cases: find, create (with mapping and audit entry), change and delete pathways.

Every change a user makes is written with its audit entry in one transaction (`transaction`),
so the audit log never names a change that did not happen, nor misses one that did.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlmodel import Session, select

from sfmc.schema import key_problem
from store import audit, connections, pathways
from store.models import Audience
from sync import destinations as dest
from sync.run_store import check_modeled
from ui.mapping import frame_to_mapping, generated_key_row, mapping_problems
from ui.sending import SendChoice, current_choice
from ui.sending import apply as apply_sending
from ui.transaction import transaction

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

METHODS = {
    "upsert": ("Update or Create (recommended)", "Adds new rows and updates rows already there."),
    "mirror": ("Mirror", "Makes the Data Extension equal to the audience; removes rows not in it."),
    "append": ("Append", "Adds only new rows; rows already there are left as they are."),
    "update_only": ("Update Only", "Updates rows already there; new rows are reported, not added."),
}
DEFAULT_GUARD_PCT = 50


@dataclass(frozen=True)
class DataExtensionChoice:
    """What the user chose on step 3 for a Data Extension pathway."""

    method: str
    de_name: str
    de_key: str
    primary_keys: Sequence[str]
    category_id: int | None
    category_path: str | None
    guard_pct: int
    mapping: pd.DataFrame  # the mapping editor's table
    generated_key: bool = False
    title_case: bool = False
    sending: SendChoice | None = None  # None: the sending settings were not offered


def data_extension_settings(choice: DataExtensionChoice) -> tuple[dict[str, Any], list[str]]:
    """The pathway settings of a Data Extension choice, and what stops them (empty = none).

    A generated key replaces the chosen primary keys with a UUID key field of its own. The
    sending and retention choice becomes `options` (`ui.sending.apply`), its relationship field
    required in the mapping.
    """
    keys = [dest.GENERATED_KEY_COLUMN] if choice.generated_key else list(choice.primary_keys)
    rows = frame_to_mapping(choice.mapping, keys)
    if choice.generated_key:
        rows.append(generated_key_row(len(rows)))
    problems = mapping_problems(rows, keys)
    key_issue = key_problem(choice.de_key.strip())
    if key_issue:
        problems.insert(0, key_issue)
    if choice.category_id is None:
        problems.insert(0, "Choose a Category (the Data Extension folder) at the top of this step.")
    options = (
        {"generated_key": True, "title_case": choice.title_case} if choice.generated_key else {}
    )
    if choice.sending is not None:
        send_options, rows, send_problems = apply_sending(choice.sending, rows)
        options |= send_options
        problems += send_problems
    settings = {
        "kind": dest.DATA_EXTENSION,
        "options": options,
        "method": choice.method,
        "de_name": choice.de_name.strip(),
        "de_key": choice.de_key.strip(),
        "primary_keys": keys,
        "category_id": choice.category_id,
        "category_path": choice.category_path,
        "guard_pct": choice.guard_pct,
        "mapping": rows,
    }
    return settings, problems


def existing_pathway(engine: Engine, audience_id: int, connection_id: int, kind: str) -> int | None:
    """The pathway of this audience, connection and destination kind, if one exists."""
    with Session(engine) as session:
        found = pathways.find_pathway(audience_id, connection_id, kind, session=session)
        return found.id if found is not None else None


def de_owners(engine: Engine, connection_id: int) -> dict[str, str]:
    """External key -> the pathway that owns that Data Extension on this connection, in words.

    A Data Extension pathway owns its DE: its Mirror deletes what its audience lacks, so a
    second pathway writing the same DE would lose rows. Membership flags share a DE on purpose
    and own nothing.
    """
    with Session(engine) as session:
        names = {a.id: a.name for a in session.exec(select(Audience)).all()}
        return {
            p.de_customer_key.casefold(): f"{names.get(p.audience_id, '?')} → {p.de_name}"
            for p in pathways.list_pathways(session=session)
            if p.connection_id == connection_id
            and (p.destination_kind or dest.DATA_EXTENSION) == dest.DATA_EXTENSION
            and p.de_customer_key
        }


def ownership_problem(
    owners: Mapping[str, str], kind: str, de_key: str, *, shared: bool = False
) -> str | None:
    """Why this pathway may not write `de_key`: another pathway owns it (None when free).

    A Data Extension pathway needs a DE of its own; a membership flag may share another
    pathway's DE only when the user said so (`shared`).
    """
    owner = owners.get((de_key or "").strip().casefold())
    if owner is None:
        return None
    if kind == dest.DATA_EXTENSION:
        return (
            f"The Data Extension '{de_key.strip()}' already belongs to the pathway '{owner}'. "
            "One Data Extension has one owning pathway: choose another external key (or push "
            "this audience as a membership flag on it)."
        )
    if kind == dest.MEMBERSHIP_FLAG and not shared:
        return (
            f"The Data Extension '{de_key.strip()}' belongs to the pathway '{owner}'. Tick "
            "'Share it' to add this audience's flag field to it; that pathway's syncs keep "
            "writing its own fields."
        )
    return None


def pushed_pairs(engine: Engine) -> set[tuple[int, int]]:
    """(audience id, connection id) of every pathway, to mark "(Already Pushed)"."""
    with Session(engine) as session:
        return {(p.audience_id, p.connection_id) for p in pathways.list_pathways(session=session)}


def saved_settings(engine: Engine, pathway_id: int) -> dict[str, Any]:
    """A saved pathway as the wizard's settings dict (what the summary card shows)."""
    with Session(engine) as session:
        p = pathways.get_pathway(pathway_id, session=session)
        if p is None:
            msg = f"Pathway {pathway_id} no longer exists: start the push again."
            raise LookupError(msg)
        return {
            "kind": p.destination_kind,
            "options": p.options,
            "method": p.method,
            "de_name": p.de_name,
            "de_key": p.de_customer_key,
            "primary_keys": p.primary_keys,
            "category_path": p.category_path,
            "mapping": [m.model_dump() for m in pathways.get_mapping(pathway_id, session=session)],
        }


def create_pathway(
    engine: Engine,
    audience: Mapping[str, Any],
    connection: Mapping[str, Any],
    settings: Mapping[str, Any],
    who: str,
) -> int:
    """The pathway of this audience, connection and kind; created on first push.

    The pathway, its mapping and the audit entry are written in one transaction.

    Args:
        engine: the store.
        audience: `id` and `name` of the audience.
        connection: `id` and `name` of the connection.
        settings: the wizard's settings (`kind`, `de_name`, `de_key`, `primary_keys`,
            `mapping`, and optionally `options`, `category_id`, `category_path`, `method`,
            `guard_pct`).
        who: the user, for the audit log.

    Raises:
        ValueError: the mapping cannot be stored (see `store.pathways.set_mapping`), or another
            pathway owns the Data Extension (`ownership_problem`); nothing is written.
        SetupError: kind "modeled_refused" (`sync.run_store.check_modeled`); nothing is written.
        LookupError: the audience or connection no longer exists.
    """
    kind = settings.get("kind") or dest.DATA_EXTENSION
    found = existing_pathway(engine, audience["id"], connection["id"], kind)
    if found:
        return found
    shared = bool((settings.get("options") or {}).get("shared_de"))
    taken = ownership_problem(
        de_owners(engine, connection["id"]), kind, settings.get("de_key") or "", shared=shared
    )
    if taken:
        raise ValueError(taken)
    with transaction(engine) as session:
        check_modeled_ids(session, audience["id"], connection["id"])
        pathway = pathways.create_pathway(
            audience_id=audience["id"],
            connection_id=connection["id"],
            de_name=settings["de_name"],
            de_customer_key=settings["de_key"],
            destination_kind=kind,
            options=settings.get("options") or {},
            category_id=settings.get("category_id"),
            category_path=settings.get("category_path"),
            method=settings.get("method", "upsert"),
            primary_keys=settings["primary_keys"],
            delete_guard_share=settings.get("guard_pct", DEFAULT_GUARD_PCT) / 100,
            created_by=who,
            session=session,
        )
        pathway_id = pathway.id
        pathways.set_mapping(pathway_id, settings["mapping"], session=session)
        detail = f"{audience['name']} -> {connection['name']}"
        audit.record_audit(who, "create pathway", detail, session=session)
    return pathway_id


def check_modeled_ids(session: Session, audience_id: int, connection_id: int) -> None:
    """`check_modeled` on the audience and connection as stored now (not as a page saw them).

    Raises:
        SetupError: kind "modeled_refused".
        LookupError: the audience or connection no longer exists.
    """
    audience = session.get(Audience, audience_id)
    connection = connections.get_connection(connection_id, session=session)
    if audience is None or connection is None:
        msg = "The audience or connection no longer exists: choose them again."
        raise LookupError(msg)
    check_modeled(audience, connection)


def save_mapping(
    engine: Engine,
    pathway_id: int,
    rows: Sequence[Mapping[str, Any]],
    primary_keys: Sequence[str],
    *,
    label: str,
    who: str,
    options: Mapping[str, Any] | None = None,
) -> list[str]:
    """Replace a pathway's mapping (with its audit entry) unless it has problems.

    With the pathway's `options`, a send relationship it has keeps its field required and must
    still fit the mapping (`ui.sending.apply`).

    Returns:
        What stops the mapping from being saved (nothing saved then), or an empty list.

    Raises:
        ValueError: the store refused the mapping; nothing is written.
    """
    problems = mapping_problems(rows, primary_keys)
    if options is not None:
        choice = replace(current_choice(options, [], rows), retention=False)
        _, rows, send_problems = apply_sending(choice, rows)
        problems += send_problems
    if problems:
        return problems
    with transaction(engine) as session:
        pathways.set_mapping(pathway_id, rows, session=session)
        audit.record_audit(who, "edit mapping", label, session=session)
    return []


def _update(
    engine: Engine, pathway_id: int, action: str, label: str, who: str, **changes: Any
) -> None:
    with transaction(engine) as session:
        if pathways.update_pathway(pathway_id, session=session, **changes) is None:
            msg = f"Pathway {label} no longer exists."
            raise LookupError(msg)
        audit.record_audit(who, action, label, session=session)


def set_paused(engine: Engine, pathway_id: int, paused: bool, *, label: str, who: str) -> None:
    """Pause (no scheduled or manual syncs) or resume a pathway.

    Raises:
        LookupError: the pathway no longer exists.
    """
    _update(engine, pathway_id, "pause" if paused else "resume", label, who, paused=paused)


def change_folder(
    engine: Engine, pathway_id: int, folder_id: int, folder_path: str, *, label: str, who: str
) -> None:
    """Point a pathway whose DE does not exist yet at another Data Extension folder.

    Raises:
        LookupError: the pathway no longer exists.
    """
    _update(
        engine,
        pathway_id,
        "change folder",
        label,
        who,
        category_id=folder_id,
        category_path=folder_path,
    )


def delete_pathway(engine: Engine, pathway_id: int, *, label: str, who: str) -> None:
    """Delete a pathway with its mapping, ledger and runs (the DE stays in Marketing Cloud)."""
    with transaction(engine) as session:
        pathways.delete_pathway(pathway_id, session=session)
        audit.record_audit(who, "delete pathway", label, session=session)
