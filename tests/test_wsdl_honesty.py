"""The WSDL fidelity tests cannot pass silently in CI when `../shared` is missing."""

from __future__ import annotations

import pytest

from tests import wsdl_schema as ws


def test_missing_wsdl_fails_under_ci(monkeypatch, tmp_path):
    monkeypatch.setattr(ws, "WSDL_PATH", tmp_path / "absent.wsdl")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="SFMC WSDL not found"):
        ws.wsdl_schema()


def test_missing_wsdl_skips_on_a_developer_machine(monkeypatch, tmp_path):
    monkeypatch.setattr(ws, "WSDL_PATH", tmp_path / "absent.wsdl")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="SFMC WSDL not found"):
        ws.wsdl_schema()


def test_the_wsdl_is_present_here():
    assert ws.WSDL_PATH.is_file(), f"expected the SFMC WSDL at {ws.WSDL_PATH}"
