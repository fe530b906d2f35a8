"""Error kinds -> what to fix, in one table (no word sniffing of live errors)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from sfmc.errors import SfmcAuthError, SfmcConfigError, SfmcFatalError, SfmcRetriableError
from ui import errors


@pytest.mark.parametrize(
    ("exc", "needle"),
    [
        (SfmcAuthError("invalid_client"), "https://"),
        (
            SfmcAuthError("Insufficient privileges: missing scope", kind="scope"),
            "Installed Packages",
        ),
        (SfmcConfigError("Category 123 does not exist", kind=errors.FOLDER_MISSING), "Pick a"),
        (SfmcConfigError("Auth Base URI must use https"), "Connections page"),
        (SfmcFatalError("refused", kind="timeout"), "Wait a minute"),
        (SfmcRetriableError("busy"), "Wait a minute"),
    ],
)
def test_error_help_gives_the_fix(exc, needle):
    assert needle in errors.error_help(exc)


def test_error_help_reads_the_kind_not_the_words():
    """Bug: the UI sniffed 'privilege'/'folder' in messages; the kind decides now."""
    worded = SfmcAuthError("Insufficient privileges on the folder category")
    assert errors.error_help(worded).startswith("Marketing Cloud did not accept this connection")
    assert errors.CATEGORY_FIX not in errors.error_help(worded)
    assert errors.error_help(ValueError("Give the audience a name.")) == "Give the audience a name."


def _run(state="failed", error="boom", **kw):
    return SimpleNamespace(state=state, error=error, message=None, **kw)


def test_run_kind_prefers_the_stored_kind():
    assert errors.run_kind(_run(error="folder gone", error_kind=SCOPE)) == SCOPE
    assert errors.run_kind(_run(error="The Data Extension folder (category 7) no longer exists"))
    assert errors.run_kind(_run(error="Marketing Cloud timed out")) is None


SCOPE = errors.SCOPE


def test_failed_run_help_and_folder_problem():
    folder = _run(error="The Data Extension folder (category 7) no longer exists")
    assert errors.run_error_help(folder).endswith(errors.CATEGORY_FIX)
    assert errors.is_folder_problem(folder)
    assert not errors.is_folder_problem(_run(state="needs_confirm", error="folder"))
    assert not errors.is_folder_problem(None)
    assert errors.run_error_help(_run(error="plain")) == "plain"
    timed_out = _run(error="SFMC timed out", error_kind="timeout")
    assert errors.run_error_help(timed_out).endswith(errors.RETRY_FIX)
