"""What to tell the user about an error: one table from error kind to the fix, no word sniffing.

The SFMC client classifies every failure (`SfmcError` subclass + `kind`, see `sfmc/errors.py`);
the engine stores a failed run's kind with it (`SyncRun.error_kind`). The pages show
`error_help(exc)` for an error they caught and `run_error_help(run)` for a failed run, and ask
`is_folder_problem` whether to offer a folder picker.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sfmc.errors import SfmcAuthError, SfmcConfigError, SfmcRetriableError
from sync.types import SETUP_KINDS
from sync.worker import SOURCE_UNAVAILABLE
from ui.connections import scope_words
from ui.text import md

AUTH_FIX = (
    "Check three things on the connection: the Auth Base URI starts with **https://** and is your "
    "tenant's `https://<subdomain>.auth.marketingcloudapis.com/`; the Client ID and Client Secret "
    "are copied exactly, **without spaces**; and the Installed Package has a **Server-to-Server** "
    "API Integration component (enhanced functionality)."
)
CATEGORY_FIX = (
    "The folder (category) of this pathway was deleted or renamed in Marketing Cloud. Pick a "
    "valid one: on Manage Pathways the failed pathway offers a folder picker (or delete the "
    "pathway and push the audience again, choosing an existing folder)."
)
EMPTY_CATEGORY_FIX = (
    "No Data Extension folders came back. Give the Installed Package the **Data Extensions: Read** "
    "scope (folders are read with it); until then Pathways lists the folders of your existing Data "
    "Extensions. If there are none, create one Data Extension in Marketing Cloud first."
)
SCOPE_ADVICE = (
    "In Marketing Cloud: Setup → Apps → Installed Packages → your package → API Integration → "
    "Edit, tick the missing scope(s), save, and test again (new scopes can take 5 minutes)."
)
MODELED_FIX = (
    "An admin can allow modeled audiences on this connection (Connections page). If the "
    "audience is not built from a score, clear its Modeled flag on the Audiences page."
)
SENDABLE_FIX = (
    "On **Column Mapping**, choose a send relationship field the Data Extension has as required "
    "with the matching type, or turn **Used for sending** off for this pathway. Or, in Marketing "
    "Cloud's Contact Builder, make the Data Extension sendable by hand."
)
SOURCE_FIX = (
    "On the **Audiences** page, select the data set and press **Refresh from the database**: the "
    "message there says what is wrong (the database is down or unreachable, the query fails or "
    "takes too long, or the encryption key changed). Once a refresh works, press **Sync now** on "
    "Manage Pathways or let the next scheduled run send it."
)
CONFIG_FIX = "Fix the connection on the Connections page (ask an admin) and try again."
RETRY_FIX = "Marketing Cloud is busy or unreachable right now. Wait a minute and retry."

# Kinds: `SfmcError.kind` as the client sets it (`sfmc/responses.py`, `sfmc/transport.py`,
# `sfmc/auth.py`), the engine's `SETUP_KINDS`, and what a failed run stores in
# `SyncRun.error_kind` (`sync.types.RunError`: one of those, else one per error class).
SCOPE = "scope"
FOLDER_MISSING = "folder_missing"  # the chosen DE folder was deleted or renamed in SFMC
FOLDER_KINDS = frozenset({FOLDER_MISSING, "no_folder"})  # Manage Pathways offers a folder picker
_AUTH = ("Marketing Cloud did not accept this connection: ", AUTH_FIX)
_RETRY = ("", RETRY_FIX)
_CONFIG = ("", CONFIG_FIX)
_NOTHING = ("", "")  # the message already says what to fix
# kind -> (prefix of the message, the fix after it).
KIND_ADVICE: dict[str, tuple[str, str]] = {
    **dict.fromkeys(SETUP_KINDS, _NOTHING),
    **dict.fromkeys(FOLDER_KINDS, ("", CATEGORY_FIX)),
    "modeled_refused": ("", MODELED_FIX),
    "sendable_refused": ("", SENDABLE_FIX),
    SOURCE_UNAVAILABLE: ("", SOURCE_FIX),
    SCOPE: ("", SCOPE_ADVICE),
    **dict.fromkeys(
        (
            "auth",
            "invalid_client_id",
            "bad_secret",
            "bad_account",
            "ip_not_allowed",
            "login_failed",
            "unexpected_host",
            "missing_credentials",
            "wrong_endpoint",
        ),
        _AUTH,
    ),
    **dict.fromkeys(
        ("retriable", "timeout", "throttled", "unreachable", "unavailable", "server_error"), _RETRY
    ),
    **dict.fromkeys(("config", "dns", "tls"), _CONFIG),
}
# The error classes' advice, for live errors whose kind is not in the table.
_CLASS_ADVICE: tuple[tuple[type[BaseException], tuple[str, str]], ...] = (
    (SfmcAuthError, _AUTH),
    (SfmcConfigError, _CONFIG),
    (SfmcRetriableError, _RETRY),
)
_CLASS_ADVICE_BY_NAME = {cls.__name__: advice for cls, advice in _CLASS_ADVICE}


def _compose(text: str, kind: str | None, classes: Sequence[str] = ()) -> str:
    """Markdown: the error's own words escaped (they can quote SFMC or user values), the fix.

    The fix is the kind's; for a kind without advice, the error class's (`classes` are the
    names of the error's class and its bases, most specific first).
    """
    text = md(scope_words(text))
    advice = KIND_ADVICE.get(kind or "")
    if advice is None:
        advice = next(
            (_CLASS_ADVICE_BY_NAME[c] for c in classes if c in _CLASS_ADVICE_BY_NAME), None
        )
    prefix, fix = advice or _NOTHING
    return f"{prefix}{text}\n\n{fix}" if fix else text


def error_help(exc: BaseException) -> str:
    """The message for an error caught from `sfmc/`, `store/` or a use case, ending with the fix."""
    classes = [c.__name__ for c in type(exc).__mro__]
    return _compose(str(exc), getattr(exc, "kind", None), classes)


def run_error_help(run: Any) -> str:
    """The message for a failed run (`SyncRun`): its error and the fix for its stored kind.

    A kind without advice of its own falls back on the stored error class (`error_detail`).
    """
    detail = run.error_detail if isinstance(run.error_detail, dict) else {}
    classes = [detail["error_class"]] if detail.get("error_class") else []
    return _compose(run.error or run.message or "", run.error_kind, classes)


def is_folder_problem(run: Any) -> bool:
    """Whether a run failed because its Data Extension folder is missing or gone."""
    return run is not None and run.state == "failed" and run.error_kind in FOLDER_KINDS
