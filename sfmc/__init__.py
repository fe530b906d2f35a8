"""Pathways' Salesforce Marketing Cloud layer: the client, its errors and types, the sync engine.

The public names are importable from here (`from sfmc import SfmcClient, push_rows`). They load
on first use: `import sfmc` (which every `sfmc.*` import runs, the simulator's included) stays
free of `requests`, SQLAlchemy and the engine.
"""

from __future__ import annotations

from importlib import import_module

# Not `typing.TYPE_CHECKING`: importing `typing` would be this package's whole import cost.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from sfmc.client import SfmcClient
    from sfmc.config import SfmcCredentials, normalize_auth_uri
    from sfmc.errors import (
        SfmcAuthError,
        SfmcConfigError,
        SfmcError,
        SfmcFatalError,
        SfmcRetriableError,
        scrub,
    )
    from sfmc.push import (
        Commit,
        Counters,
        Progress,
        PushOptions,
        PushResult,
        PushTarget,
        Rejection,
        push_rows,
        run_pathway,
    )
    from sfmc.types import (
        AsyncStatus,
        ConnectionReport,
        DataExtension,
        DeField,
        Folder,
        FolderListing,
        RowOutcome,
        ScopeCheck,
    )

__all__ = [
    "AsyncStatus",
    "Commit",
    "ConnectionReport",
    "Counters",
    "DataExtension",
    "DeField",
    "Folder",
    "FolderListing",
    "Progress",
    "PushOptions",
    "PushResult",
    "PushTarget",
    "Rejection",
    "RowOutcome",
    "ScopeCheck",
    "SfmcAuthError",
    "SfmcClient",
    "SfmcConfigError",
    "SfmcCredentials",
    "SfmcError",
    "SfmcFatalError",
    "SfmcRetriableError",
    "normalize_auth_uri",
    "push_rows",
    "run_pathway",
    "scrub",
]

# Where each public name lives; names not listed come from `sfmc.push` (the engine).
_HOMES: dict[str, str] = {
    "SfmcClient": "sfmc.client",
    "SfmcCredentials": "sfmc.config",
    "normalize_auth_uri": "sfmc.config",
    **dict.fromkeys(
        [
            "SfmcAuthError",
            "SfmcConfigError",
            "SfmcError",
            "SfmcFatalError",
            "SfmcRetriableError",
            "scrub",
        ],
        "sfmc.errors",
    ),
    **dict.fromkeys(
        [
            "AsyncStatus",
            "ConnectionReport",
            "DataExtension",
            "DeField",
            "Folder",
            "FolderListing",
            "RowOutcome",
            "ScopeCheck",
        ],
        "sfmc.types",
    ),
}


def __getattr__(name: str) -> object:
    if name not in __all__:
        msg = f"module 'sfmc' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(import_module(_HOMES.get(name, "sfmc.push")), name)
    globals()[name] = value  # the next lookup skips this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
