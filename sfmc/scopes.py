"""The scope checklist: which Installed Package scope each feature needs, and what breaks without it.

Sources: `reference/sfmc-api.md` §10 and `reference/sfmc-contacts-journeys.md` §4. The SOAP
DataFolder permission is not documented; `data_extensions_read` plus `saved_content_read` is the
safe reading (Hightouch lists Saved Content for folders), so both are on the list.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sfmc.types import ScopeCheck


@dataclass(frozen=True)
class ScopeNeed:
    """One scope the product uses."""

    scope: str
    feature: str
    needed_for: str
    breaks_without: str
    required: bool = True


SCOPE_NEEDS: tuple[ScopeNeed, ...] = (
    ScopeNeed(
        "data_extensions_read",
        "Data Extensions",
        "finding Data Extensions and their fields, reading keys of existing rows, async status and results",
        "every push: the DE lookup, Mirror/Append/Update Only key reads and per-row results fail",
    ),
    ScopeNeed(
        "data_extensions_write",
        "Data Extensions",
        "creating Data Extensions, adding fields, writing and deleting rows",
        "every push: rows cannot be written and new DEs cannot be created",
    ),
    ScopeNeed(
        "saved_content_read",
        "Folders",
        "listing Data Extension folders for the Category dropdown",
        "the Category dropdown falls back to folders of existing Data Extensions only",
        required=False,
    ),
    ScopeNeed(
        "list_and_subscribers_read",
        "Contacts",
        "reading contacts and firing Journey entry events",
        "the Contacts and Journey destinations",
        required=False,
    ),
    ScopeNeed(
        "list_and_subscribers_write",
        "Contacts",
        "creating and updating contacts",
        "the Contacts destination",
        required=False,
    ),
    ScopeNeed(
        "journeys_read",
        "Journeys",
        "firing Journey entry events and reading event definitions",
        "the Journey destination",
        required=False,
    ),
    ScopeNeed(
        "journeys_write",
        "Journeys",
        "creating Journey event definitions",
        "creating an entry event from the app (an existing one still works)",
        required=False,
    ),
)

REQUIRED_SCOPES: frozenset[str] = frozenset(n.scope for n in SCOPE_NEEDS if n.required)
FOLDER_SCOPE = "saved_content_read"


def scope_checklist(granted: Iterable[str]) -> tuple[ScopeCheck, ...]:
    """Compare the granted scopes with what each feature needs.

    Args:
        granted: scopes from the token response.

    Returns:
        One `ScopeCheck` per needed scope, in the order of `SCOPE_NEEDS`.
    """
    have = frozenset(granted)
    return tuple(
        ScopeCheck(
            scope=n.scope,
            granted=n.scope in have,
            needed_for=f"{n.feature}: {n.needed_for}",
            breaks_without=n.breaks_without,
            required=n.required,
        )
        for n in SCOPE_NEEDS
    )
