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


def _run(state="failed", error="boom", error_kind=None, error_detail=None):
    return SimpleNamespace(
        state=state, error=error, message=None, error_kind=error_kind, error_detail=error_detail
    )


def test_failed_run_help_and_folder_problem_come_from_the_stored_kind():
    gone = _run(
        error="The Data Extension folder (category 7) no longer exists", error_kind="folder_missing"
    )
    assert errors.run_error_help(gone).endswith(errors.CATEGORY_FIX)
    assert errors.is_folder_problem(gone)
    assert errors.is_folder_problem(_run(error="Choose a category", error_kind="no_folder"))
    # The words alone decide nothing (runs are explained by kind, not by their message).
    assert not errors.is_folder_problem(_run(error="folder category", error_kind="config"))
    assert not errors.is_folder_problem(_run(state="needs_confirm", error_kind="folder_missing"))
    assert not errors.is_folder_problem(None)
    assert errors.run_error_help(_run(error="plain", error_kind="internal")) == "plain"
    assert errors.run_error_help(_run(error="busy", error_kind="throttled")).endswith(
        errors.RETRY_FIX
    )
    schema = _run(error="The mapping cannot become a DE: fix X.", error_kind="schema")
    assert errors.run_error_help(schema) == "The mapping cannot become a DE: fix X."


def test_every_setup_kind_of_the_engine_has_an_entry():
    from sync.types import SETUP_KINDS

    assert set(SETUP_KINDS) <= set(errors.KIND_ADVICE)


def test_a_stored_kind_without_advice_falls_back_on_the_stored_error_class():
    run = _run(
        error="SFMC sent a redirect to evil.example",
        error_kind="redirect",
        error_detail={"error_class": "SfmcConfigError"},
    )
    assert errors.run_error_help(run).endswith(errors.CONFIG_FIX)
    retry = _run(error_kind="unavailable", error_detail={"error_class": "SfmcRetriableError"})
    assert errors.run_error_help(retry).endswith(errors.RETRY_FIX)
