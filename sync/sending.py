"""A pathway's "Used for Sending", test-send and data retention settings, and how a run applies them.

They live in the pathway's options JSON (`Pathway.options`, keys `sending` and `retention`): a
pathway saved before these settings existed has neither key and stays as it was (a DE that is
not sendable, kept for ever), and no store migration is needed. The rules themselves are
`sfmc.schema`'s (the client checks them again before its call); here they become the engine's
`SetupError`s, raised before SFMC is called, and the wizard (`ui.sending`) shows the same texts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sfmc.schema import retention_problems, sendable_change_problems, sending_problems
from sfmc.types import EMAIL_ADDRESS, DataExtension, DeField, Retention, Sending
from sync.types import SetupError

if TYPE_CHECKING:
    from sfmc.client import SfmcClient

SENDING = "sending"
RETENTION = "retention"


def sending_from_options(options: Mapping[str, Any] | None) -> Sending | None:
    """The pathway's send relationship; None when its DE is not meant for sending."""
    raw = (options or {}).get(SENDING)
    if not isinstance(raw, Mapping):
        return None
    return Sending(
        field=str(raw.get("field") or ""),  # none chosen: refused by `check_settings`
        relates_to=str(raw.get("relates_to") or EMAIL_ADDRESS),
        testable=bool(raw.get("testable")),
    )


def retention_from_options(options: Mapping[str, Any] | None) -> Retention | None:
    """The pathway's data retention; None when SFMC keeps the data for ever (the default)."""
    raw = (options or {}).get(RETENTION)
    if not isinstance(raw, Mapping) or raw.get("length") in (None, ""):
        return None
    return Retention(
        length=int(raw["length"]),
        unit=str(raw.get("unit") or "Days"),
        row_based=bool(raw.get("row_based")),
        delete_de=bool(raw.get("delete_de")),
        reset_on_import=bool(raw.get("reset_on_import")),
    )


def sending_options(sending: Sending | None) -> dict[str, Any] | None:
    """`Sending` as the options JSON stores it (None: not sendable)."""
    return None if sending is None else dict(sending.__dict__)


def retention_options(retention: Retention | None) -> dict[str, Any] | None:
    """`Retention` as the options JSON stores it (None: no retention)."""
    return None if retention is None else dict(retention.__dict__)


def settings_problems(
    fields: Sequence[DeField], sending: Sending | None, retention: Retention | None
) -> tuple[list[str], list[str]]:
    """(send relationship problems, retention problems) of these settings for these fields.

    The one rule set the wizard (`ui.sending`) shows and the engine (`check_settings`) raises.
    """
    send = sending_problems(fields, sending) if sending is not None else []
    kept = retention_problems(retention) if retention is not None else []
    return send, kept


def check_settings(
    fields: Sequence[DeField], sending: Sending | None, retention: Retention | None
) -> None:
    """Refuse, before any call, send and retention settings SFMC would refuse for these fields.

    Raises:
        SetupError: kind "send_relationship" (detail: problems) or "retention" (detail: problems).
    """
    send, kept = settings_problems(fields, sending, retention)
    if sending is not None and send:
        msg = "The Data Extension cannot be used for sending: " + " ".join(send)
        detail = {"problems": send, "field": sending.field, "relates_to": sending.relates_to}
        raise SetupError(msg, kind="send_relationship", detail=detail)
    if kept:
        msg = "The data retention setting cannot be used: " + " ".join(kept)
        raise SetupError(msg, kind="retention", detail={"problems": kept})


def make_existing_sendable(
    client: SfmcClient, de: DataExtension, sending: Sending | None, *, dry_run: bool
) -> tuple[DataExtension, list[str]]:
    """Give an existing DE the pathway's send relationship when it lacks it; notes for the run.

    A DE already sendable on the same relationship is left alone (a testable change is sent).
    A pathway that does not send leaves a sendable DE sendable: nothing is lost by it.

    Raises:
        SetupError: kind "sendable_refused" when SFMC cannot make this DE sendable on it (the
            message says what to do instead); checked in a dry run too.
    """
    if sending is None or de.sending == sending:
        return de, []
    problems = sendable_change_problems(de, sending)
    if problems:
        detail = {
            "customer_key": de.customer_key,
            "field": sending.field,
            "relates_to": sending.relates_to,
        }
        raise SetupError(" ".join(problems), kind="sendable_refused", detail=detail)
    what = "sendable"
    if de.sending is not None:  # same relationship: only the test-send setting differs
        what = "testable" if sending.testable else "not testable"
    if dry_run:
        return de, [f"The Data Extension would be made {what} ({describe(sending)})."]
    made = client.make_sendable(de, sending)
    return made, [f"The Data Extension was made {what} ({describe(sending)})."]


def describe(sending: Sending | None) -> str:
    """The setting in words: 'sendable on Email Address → Email' (and testable), or not."""
    if sending is None:
        return "not sendable"
    testable = ", testable" if sending.testable else ""
    return f"sendable on {sending.relates_to} → {sending.field}{testable}"
