"""'Used for sending', test sends and data retention, as the wizard and Column Mapping offer them.

No Streamlit here. A `SendChoice` is what the user picked; `apply` turns it into the pathway's
options (`sync.sending` keys) and checks it with the rules the engine raises before any call
(`sync.sending.settings_problems`, which are `sfmc.schema`'s), so the wizard refuses exactly
what a run would. The summary card, the Manage Pathways card and the warnings of the shared-DE
destinations read the settings back through here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sfmc.types import EMAIL_ADDRESS, SUBSCRIBER_KEY, Retention, Sending
from store import audit, pathways
from sync import sending as rules
from sync.destinations import DATA_EXTENSION
from sync.mapping import FieldMap
from ui.destinations import KEY_COLUMNS
from ui.text import md
from ui.transaction import transaction

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

RELATIONS = {
    EMAIL_ADDRESS: "Email Address (an EmailAddress field)",
    SUBSCRIBER_KEY: "Subscriber Key (a Text field)",
}
# What SFMC deletes at the end of the retention period: (label, caption).
SCOPES = {
    "rows": ("Individual rows", "Each row is deleted once it is older than the period."),
    "all": ("All rows", "All rows are deleted at the end of the period; the Data Extension stays."),
    "de": (
        "All rows and the Data Extension",
        "At the end of the period the Data Extension is deleted with its rows.",
    ),
}
REQUIRED_NOTE = (
    "The send relationship field is made required: rows without a value in it are rejected."
)


@dataclass(frozen=True)
class SendChoice:
    """The sending and retention settings as the user picked them (advanced settings)."""

    used_for_sending: bool = False
    field: str | None = None
    relates_to: str = EMAIL_ADDRESS
    testable: bool = False
    retention: bool = False
    length: int = 6
    unit: str = "Months"
    scope: str = "all"
    reset_on_import: bool = False

    def sending(self) -> Sending | None:
        if not self.used_for_sending:
            return None
        return Sending(self.field or "", self.relates_to, testable=self.testable)

    def kept(self) -> Retention | None:
        if not self.retention:
            return None
        return Retention(
            length=int(self.length),
            unit=self.unit,
            row_based=self.scope == "rows",
            delete_de=self.scope == "de",
            reset_on_import=self.reset_on_import and self.scope != "rows",
        )


def has_email_column(columns: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the audience has a column the importer found to hold email addresses."""
    return any(c.get("type") == "email" for c in columns)


def suggest(rows: Sequence[Mapping[str, Any]]) -> tuple[str | None, str]:
    """(field, subscriber attribute) suggested from mapping rows.

    An EmailAddress field relates on Email Address; else a Text field of the usual contact key
    columns (`ui.destinations.KEY_COLUMNS`), or the one Text primary key, on Subscriber Key.
    """
    email = next((r for r in rows if r.get("field_type") == "EmailAddress"), None)
    if email is not None:
        return str(email["destination_field"]), EMAIL_ADDRESS
    texts = [r for r in rows if (r.get("field_type") or "Text") == "Text"]
    key = next((r for c in KEY_COLUMNS for r in texts if r.get("source_column") == c), None)
    keys = [r for r in rows if r.get("is_primary_key")]
    if key is None and len(keys) == 1 and keys[0] in texts:
        key = keys[0]
    return (str(key["destination_field"]), SUBSCRIBER_KEY) if key else (None, EMAIL_ADDRESS)


def initial_choice(
    options: Mapping[str, Any] | None,
    columns: Sequence[Mapping[str, Any]],
    rows: Sequence[Mapping[str, Any]],
) -> SendChoice:
    """The choice to show: the saved one, else on (with the suggestion) when there is email."""
    options = options or {}
    sending = rules.sending_from_options(options)
    kept = rules.retention_from_options(options)
    choice = SendChoice()
    if kept is not None:
        scope = "rows" if kept.row_based else ("de" if kept.delete_de else "all")
        choice = SendChoice(
            retention=True,
            length=kept.length,
            unit=kept.unit,
            scope=scope,
            reset_on_import=kept.reset_on_import,
        )
    if sending is not None:
        return replace(
            choice,
            used_for_sending=True,
            field=sending.field,
            relates_to=sending.relates_to,
            testable=sending.testable,
        )
    field, relates_to = suggest(rows)
    choice = replace(choice, field=field, relates_to=relates_to)
    if rules.SENDING in options:  # saved as not sendable: off, with the suggestion ready
        return choice
    return replace(choice, used_for_sending=has_email_column(columns) and field is not None)


def current_choice(
    options: Mapping[str, Any] | None,
    columns: Sequence[Mapping[str, Any]],
    rows: Sequence[Mapping[str, Any]],
) -> SendChoice:
    """An existing pathway's choice, with the suggested relationship ready for turning it on.

    What the pathway has: one saved before these settings existed is not sendable.
    """
    return initial_choice({rules.SENDING: None, **(options or {})}, columns, rows)


def apply(
    choice: SendChoice, rows: Sequence[Mapping[str, Any]]
) -> tuple[dict[str, Any], list[dict[str, Any]], list[str]]:
    """(options to store, mapping rows, problems) of a choice for this mapping.

    The relationship field is marked required in the rows (`REQUIRED_NOTE`); problems are the
    engine's, so nothing the wizard accepts fails a run for these rules.
    """
    sending, kept = choice.sending(), choice.kept()
    target = sending.field.casefold() if sending and sending.field else None
    marked = [
        {**r, "required": True} if r["destination_field"].casefold() == target else dict(r)
        for r in rows
    ]
    send, retention = rules.settings_problems(_fields(marked), sending, kept)
    problems = [f"Used for sending: {p}" for p in send]
    problems += [f"Data retention: {p}" for p in retention]
    options = {
        rules.SENDING: rules.sending_options(sending),
        rules.RETENTION: rules.retention_options(kept),
    }
    return options, marked, problems


def _fields(rows: Sequence[Mapping[str, Any]]) -> list[Any]:
    names = FieldMap.__dataclass_fields__
    return [FieldMap(**{k: v for k, v in r.items() if k in names}).to_de_field() for r in rows]


def sending_text(options: Mapping[str, Any] | None) -> str:
    """'Sendable on Email Address → Email' (Markdown, the field name escaped) or 'Not sendable'."""
    sending = rules.sending_from_options(options)
    if sending is None:
        return "Not sendable"
    testable = " · testable" if sending.testable else ""
    return f"Sendable on {sending.relates_to} → {md(sending.field)}{testable}"


def retention_text(options: Mapping[str, Any] | None) -> str:
    """The retention setting in words: 'Kept' or what is deleted after how long."""
    kept = rules.retention_from_options(options)
    if kept is None:
        return "Kept (no retention)"
    period = f"{kept.length} {kept.unit.lower()}"
    if kept.row_based:
        return f"Rows deleted after {period}"
    what = "All rows and the Data Extension" if kept.delete_de else "All rows"
    reset = " (restarted by each import)" if kept.reset_on_import else ""
    return f"{what} deleted after {period}{reset}"


def card_suffix(pathway: Any) -> str:
    """' · Sendable on Email Address → Email' for a Data Extension pathway's card; else ''."""
    if (pathway.destination_kind or DATA_EXTENSION) != DATA_EXTENSION:
        return ""
    return f" · {sending_text(pathway.options)}"


def summary_lines(options: Mapping[str, Any] | None) -> list[str]:
    """The summary card's lines about sending and retention (Markdown)."""
    return [
        f"**Used for sending**  \n{sending_text(options)}",
        f"**Data retention**  \n{retention_text(options)}",
    ]


def not_sendable_warning(de: Any) -> str | None:
    """A warning when a shared DE (membership flag, journey event) cannot be sent to."""
    if de is None or getattr(de, "sending", None) is not None:
        return None
    return (
        f"The Data Extension **{md(de.name)}** is not sendable: an email send (or a journey's "
        "email activity) cannot use it as its audience. If you mean to send to it, make it "
        "sendable in Contact Builder (Used for Sending), or push this audience to a Data "
        "Extension of its own with **Used for sending** on."
    )


def save_sending(
    engine: Engine, pathway_id: int, choice: SendChoice, *, label: str, who: str
) -> list[str]:
    """Change an existing pathway's send relationship (Column Mapping), with its audit entry.

    The relationship field is made required in the mapping; the next sync applies the setting
    to the DE (`sync.sending.make_existing_sendable`). Retention stays as it was created.

    Returns:
        What stops the change (nothing saved then), or an empty list.

    Raises:
        LookupError: the pathway no longer exists.
    """
    with transaction(engine) as session:
        pathway = pathways.get_pathway(pathway_id, session=session)
        if pathway is None:
            msg = f"Pathway {label} no longer exists."
            raise LookupError(msg)
        rows = [m.model_dump() for m in pathways.get_mapping(pathway_id, session=session)]
        options, marked, problems = apply(replace(choice, retention=False), rows)
        if problems:
            return problems
        kept = (pathway.options or {}).get(rules.RETENTION)
        changed = {**(pathway.options or {}), rules.SENDING: options[rules.SENDING]}
        changed[rules.RETENTION] = kept
        pathways.update_pathway(pathway_id, session=session, options=changed)
        if marked != rows:
            pathways.set_mapping(pathway_id, marked, session=session)
        detail = f"{label}: {rules.describe(choice.sending())}"
        audit.record_audit(who, "edit sending", detail, session=session)
    return []
