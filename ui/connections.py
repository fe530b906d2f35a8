"""Connection use cases: list, save (validated, secret write-only), test and delete connections."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from sfmc.config import check_local_address, normalize_auth_uri
from sfmc.errors import SfmcConfigError
from sfmc.scopes import REQUIRED_SCOPES
from sfmc.types import ConnectionReport
from store import audit, connections
from store.crypto import SecretKeyError
from sync.mapping import DE_KEY_TEMPLATE, DE_NAME_TEMPLATE, de_key_for, de_name_for
from sync.values import zone_problem
from ui.transaction import transaction

if TYPE_CHECKING:
    from collections.abc import Callable

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
    de_name_template: str = ""  # blank: Pathways' default (`sync.mapping.DE_NAME_TEMPLATE`)
    de_key_template: str = ""  # blank: `sync.mapping.DE_KEY_TEMPLATE`
    time_zone: str = ""  # blank: SFMC's server time, CST (`sync.values.SFMC_ZONE`)


# SFMC's own labels of the Installed Package scopes (Setup > Installed Packages > API Integration).
SCOPE_LABELS = {
    "data_extensions_read": "Data Extensions: Read",
    "data_extensions_write": "Data Extensions: Write",
    "saved_content_read": "Saved Content: Read",
    "list_and_subscribers_read": "List and Subscribers: Read",
    "list_and_subscribers_write": "List and Subscribers: Write",
    "journeys_read": "Journeys: Read",
    "journeys_write": "Journeys: Write",
}
SCOPE_FIX = (
    "In Marketing Cloud: Setup → Apps → Installed Packages → your package → API Integration → "
    "Edit, tick {scopes}, save, then test again here (new scopes can take 5 minutes)."
)
GENERIC_FIX = (
    "Check the Auth Base URI (https://<subdomain>.auth.marketingcloudapis.com/), and that the "
    "Client ID and Client Secret are copied exactly, without spaces, from a Server-to-Server "
    "Installed Package."
)


def scope_label(scope: str) -> str:
    """A scope as Marketing Cloud labels it ("Data Extensions: Write")."""
    return SCOPE_LABELS.get(scope, scope)


def scope_words(text: str) -> str:
    """`text` with SFMC's scope ids (`data_extensions_write`) in SFMC's labels."""
    for scope, label in SCOPE_LABELS.items():
        text = text.replace(scope, label)
    return text


@dataclass(frozen=True)
class Verdict:
    """A connection test in words: whether pushes can use it, why, and what to do."""

    ready: bool
    reason: str
    fix: str | None


def _scope_dicts(report: Any) -> list[dict[str, Any]]:
    scopes = report.get("scopes") if isinstance(report, dict) else getattr(report, "scopes", ())
    return [s if isinstance(s, dict) else dataclasses.asdict(s) for s in scopes or ()]


def verdict(report: Any) -> Verdict:
    """A `ConnectionReport` (or its stored dict) judged: a missing required scope is not OK.

    The client's own reason and fix are kept for a failed sign-in; when they are the same words
    (an error the client has no advice for) the fix is the general one.
    """
    get = report.get if isinstance(report, dict) else lambda k: getattr(report, k, None)
    if not get("ok"):
        reason = get("reason") or "The test failed."
        fix = get("fix")
        return Verdict(False, reason, fix if fix and fix != reason else GENERIC_FIX)
    missing = [
        scope_label(s["scope"])
        for s in _scope_dicts(report)
        if not s.get("granted") and (s.get("required") or s["scope"] in REQUIRED_SCOPES)
    ]
    if missing:
        names = " and ".join(f"**{m}**" for m in missing)
        reason = f"Signed in, but the package lacks {names}, which every push needs."
        return Verdict(False, reason, SCOPE_FIX.format(scopes=names))
    return Verdict(
        True, "Signed in; Marketing Cloud answered, with every scope a push needs.", None
    )


def health(conn: Any) -> tuple[str, str]:
    """The connection card's badge: (colour, words) from its last test as stored."""
    if conn.last_test_ok is None and not conn.last_test_report:
        return "gray", "not tested yet"
    judged = verdict(conn.last_test_report or {"ok": bool(conn.last_test_ok)})
    if judged.ready:
        return "green", "tested OK"
    if (conn.last_test_report or {}).get("ok"):
        return "red", "missing a required scope"
    return "red", "last test failed"


def scope_rows(report: Any) -> list[dict[str, Any]]:
    """The scope checklist as a table: SFMC's label, granted, needed for, what breaks."""
    scopes = _scope_dicts(report)
    missing = any(not s.get("granted") for s in scopes)
    rows = []
    for s in scopes:
        row = {
            "Scope": scope_label(s["scope"]),
            "Granted": "✓ yes" if s.get("granted") else "✗ no",
            "Required": "yes" if s.get("required", True) else "optional",
            "Needed for": s.get("needed_for"),
        }
        if missing:  # the column only when a scope is missing, so it is never an empty strip
            row["What breaks without it"] = "" if s.get("granted") else s.get("breaks_without")
        rows.append(row)
    return rows


def template_problems(name_template: str, key_template: str) -> list[str]:
    """What is wrong with a connection's DE name and key patterns (empty = fine or blank)."""
    problems = []
    for label, template, sample in (
        ("Data Extension name pattern", name_template, lambda t: de_name_for("Donors", t)),
        ("External key pattern", key_template, lambda t: de_key_for("client", 1, t)),
    ):
        if not template.strip():
            continue
        try:
            sample(template.strip())
        except (KeyError, IndexError, ValueError):
            problems.append(
                f"The {label} '{template.strip()}' uses an unknown placeholder: use "
                f"{{audience}} in names, {{audienceId}} and {{clientId}} in keys."
            )
    if key_template.strip() and "{audienceId}" not in key_template:
        problems.append(
            "The External key pattern must contain {audienceId}, or every audience would get "
            "the same Data Extension."
        )
    return problems


def connection_rows(engine: Engine) -> list[dict[str, Any]]:
    """Connections as plain dicts (what the wizard shows and checks), with their DE defaults."""
    with Session(engine) as session:
        return [
            {
                "id": c.id,
                "name": c.name,
                "client_id": c.client_id,
                "allow_modeled": c.allow_modeled,
                "de_name_template": c.de_name_template or DE_NAME_TEMPLATE,
                "de_key_template": c.de_key_template or DE_KEY_TEMPLATE,
            }
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
    templates = template_problems(form.de_name_template, form.de_key_template)
    if templates:
        return templates
    zone = zone_problem(form.time_zone)
    if zone:
        return [zone]
    try:
        if local_address is not None:
            check_local_address(values["auth_base_uri"], local_address)
        values["auth_base_uri"] = normalize_auth_uri(
            values["auth_base_uri"], allow_local=local_address is not None
        )
    except SfmcConfigError as exc:  # what is wrong with the address, said on the form
        return [exc.message]
    with transaction(engine) as session:
        clash = connections.get_connection_by_name(values["name"], session=session)
        if clash is not None and clash.id != editing_id:
            return [f"A connection named {values['name']!r} exists: choose another name."]
        if editing_id is None:
            saved = connections.create_connection(**values, client_secret=secret, session=session)
        else:
            saved = connections.update_connection(
                editing_id, **values, client_secret=secret or None, session=session
            )
        if saved is not None:
            saved.de_name_template = form.de_name_template.strip() or None
            saved.de_key_template = form.de_key_template.strip() or None
            saved.time_zone = form.time_zone.strip() or None
            session.add(saved)
            session.flush()
        audit.record_audit(who, "save connection", values["name"], session=session)
    return []


def run_test(engine: Engine, connection_id: int, client_of: Callable[[int], Any], who: str) -> None:
    """Test a connection with the client `client_of(connection_id)` and remember the report.

    A client that cannot even be built is a failed test too, in the report's own words (the
    reason, then the fix), as the connection form says it: an Auth Base URI this mode refuses
    (the message says why; the client's "(while trying to ...)" tail is for logs), or a Client
    Secret that no key decrypts (the message says which key to set).

    Raises:
        LookupError: the connection no longer exists.
    """
    try:
        report = client_of(connection_id).test_connection()
    except SfmcConfigError as exc:
        report = ConnectionReport(ok=False, reason=exc.message)
    except SecretKeyError as exc:
        report = ConnectionReport(
            ok=False, reason="The stored Client Secret cannot be read.", fix=str(exc)
        )
    record_test(engine, connection_id, report, who)


def record_test(engine: Engine, connection_id: int, report: Any, who: str) -> None:
    """Remember a connection test's report; OK only when it also has every required scope."""
    with Session(engine) as session:
        conn = connections.record_connection_test(
            connection_id, verdict(report).ready, dataclasses.asdict(report), session=session
        )
        words = "ready" if verdict(report).ready else "not ready"
        name = conn.name if conn is not None else f"connection {connection_id}"
        audit.record_audit(who, "test connection", f"{name}: {words}", session=session)


def delete_connection(engine: Engine, connection_id: int, *, name: str, who: str) -> None:
    """Delete a connection with its audit entry.

    Raises:
        InUseError: pathways still push through it (delete them first).
    """
    with transaction(engine) as session:
        connections.delete_connection(connection_id, session=session)
        audit.record_audit(who, "delete connection", name, session=session)
