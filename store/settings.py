"""Runtime settings of the store that do not depend on Streamlit (demo mode, secrets file)."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from store.db import PROJECT_DIR

_OFF = {"0", "false", "no", "off"}


def demo_mode() -> bool:
    """Whether the app runs as a demo: on unless `PATHWAYS_DEMO` is "0" (or false/no/off)."""
    return os.environ.get("PATHWAYS_DEMO", "1").strip().lower() not in _OFF


def secrets_file() -> Path | None:
    """The `.streamlit/secrets.toml` Streamlit would read: the working directory's, else the project's."""
    for base in (Path.cwd(), PROJECT_DIR):
        path = base / ".streamlit" / "secrets.toml"
        if path.is_file():
            return path
    return None


def pathways_secrets() -> dict[str, Any]:
    """The `[pathways]` section of `.streamlit/secrets.toml` (empty when there is none).

    Read with `tomllib` so that `store/` never needs Streamlit. A file that is not valid TOML
    is reported with its path rather than ignored, because a silently ignored key would make
    every stored secret undecryptable.

    Raises:
        ValueError: the secrets file exists but is not valid TOML.
    """
    path = secrets_file()
    if path is None:
        return {}
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        msg = f"{path} is not valid TOML ({exc}); fix the file or remove it."
        raise ValueError(msg) from exc
    section = data.get("pathways", {})
    return dict(section) if isinstance(section, dict) else {}
