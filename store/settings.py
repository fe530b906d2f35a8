"""Runtime settings of the store without Streamlit: demo mode, secrets, the demo store's mark.

Demo mode creates users with a public password, so it must never switch itself on in a
configured deployment. The rule (`demo_mode`, `demo_refusal`):

- `PATHWAYS_DEMO` unset (what `make run` does): demo only when nothing is configured, i.e. no
  `[auth]` cookie_key or credentials and no `[pathways] secret_key` in `.streamlit/secrets.toml`,
  and no `PATHWAYS_SECRET_KEY` in the environment; otherwise the app runs for real.
- `PATHWAYS_DEMO=0` (false/no/off): never a demo.
- `PATHWAYS_DEMO=1`: a demo, but the app refuses to start as one on a configured deployment and
  says how to run the demo instead (`demo_refusal`). Scripts and tests below the app may still
  use the flag to reach a local simulator.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from store.db import PROJECT_DIR
from store.models import AuditEvent

DEMO_ENV = "PATHWAYS_DEMO"
KEY_ENV = "PATHWAYS_SECRET_KEY"
_OFF = {"0", "false", "no", "off"}
# The audit action that marks a store as the demo's: written before the demo creates anything
# (and, since the first version, when it created its workspace), never by anything else.
DEMO_STORE_ACTION = "demo.workspace"
DEMO_HOWTO = (
    "To try the demo, run it from a separate folder (a fresh clone, with its own data folder) "
    f"that has no .streamlit/secrets.toml, without {KEY_ENV}: `make run` there opens it "
    f"(or `{DEMO_ENV}=1 make run`)."
)


def demo_requested() -> bool | None:
    """What `PATHWAYS_DEMO` asks for: True, False, or None when it is unset or empty."""
    raw = os.environ.get(DEMO_ENV, "").strip().lower()
    if not raw:
        return None
    return raw not in _OFF


def secrets_file() -> Path | None:
    """The `.streamlit/secrets.toml` Streamlit would read: the working directory's, else the project's."""
    for base in (Path.cwd(), PROJECT_DIR):
        path = base / ".streamlit" / "secrets.toml"
        if path.is_file():
            return path
    return None


def _secrets_files() -> list[Path]:
    """Every secrets file that could configure this deployment (Streamlit also reads ~/.streamlit)."""
    found: list[Path] = []
    for base in (Path.cwd(), PROJECT_DIR, Path.home()):
        path = (base / ".streamlit" / "secrets.toml").resolve()
        if path.is_file() and path not in found:
            found.append(path)
    return found


def _configured_in(path: Path) -> list[str]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError):
        return [f"{path} (unreadable or not valid TOML)"]
    reasons = []
    auth = data.get("auth")
    if isinstance(auth, dict) and (auth.get("cookie_key") or auth.get("credentials")):
        reasons.append(f"[auth] in {path}")
    section = data.get("pathways")
    if isinstance(section, dict) and str(section.get("secret_key", "")).strip():
        reasons.append(f"[pathways] secret_key in {path}")
    return reasons


def configured_by(auth: Mapping[str, Any] | None = None) -> list[str]:
    """What makes this a configured (real) deployment, in words; empty for a fresh clone.

    Args:
        auth: the `[auth]` section as the caller's secrets loader sees it (Streamlit may read
            secrets from elsewhere than the files checked here); None to read the files only.
    """
    reasons = [f"the environment variable {KEY_ENV}"] if os.environ.get(KEY_ENV, "").strip() else []
    for path in _secrets_files():
        reasons.extend(_configured_in(path))
    if auth and (auth.get("cookie_key") or auth.get("credentials")):
        if not any(r.startswith("[auth]") for r in reasons):
            reasons.append("an [auth] section in the Streamlit secrets")
    return reasons


def demo_mode(auth: Mapping[str, Any] | None = None) -> bool:
    """Whether the app runs as a demo (the rule is in the module docstring)."""
    requested = demo_requested()
    if requested is None:
        return not configured_by(auth)
    return requested


def demo_refusal(auth: Mapping[str, Any] | None = None) -> str | None:
    """Why the app must not start as a demo here, or None.

    Demo mode asked for on a configured deployment is refused: the demo would add users whose
    password is printed on the sign-in page.
    """
    if not demo_mode(auth):
        return None
    reasons = configured_by(auth)
    if not reasons:
        return None
    return (
        f"Demo mode is refused: {DEMO_ENV}=1 is set, but this deployment is configured "
        f"({'; '.join(reasons)}), and the demo would add users whose password is public. "
        f"To run it for real, start without {DEMO_ENV} (or with {DEMO_ENV}=0). {DEMO_HOWTO}"
    )


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


def is_demo_store(*, session: Session) -> bool:
    """Whether this store was made by the demo (its users' password is public)."""
    stmt = select(AuditEvent.id).where(col(AuditEvent.action) == DEMO_STORE_ACTION).limit(1)
    return session.exec(stmt).first() is not None
