"""Indirect dependencies are pinned (constraints.txt) and every install in the Makefile uses them.

Issue 21 item 10: PyJWT and the cookie component came unpinned through streamlit-authenticator,
so a fresh install could get other versions than the ones tested.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECURITY_WEIGHT = ("PyJWT", "extra-streamlit-components", "urllib3", "certifi", "starlette")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        spec = line.split("#", 1)[0].strip()
        if spec and not spec.startswith("-"):
            name, _, version = spec.partition("==")
            pins[_norm(name.split("[")[0])] = version
    return pins


CONSTRAINTS = _pins(ROOT / "constraints.txt")


def test_every_pip_install_in_the_makefile_uses_the_constraints():
    installs = [
        line
        for line in (ROOT / "Makefile").read_text(encoding="utf-8").splitlines()
        if "pip install" in line and " -r " in line
    ]
    assert len(installs) == 2
    assert all("-c constraints.txt" in line for line in installs)


def test_security_weight_packages_are_pinned_and_not_twice():
    assert all(_norm(name) in CONSTRAINTS for name in SECURITY_WEIGHT)
    direct = _pins(ROOT / "requirements.txt") | _pins(ROOT / "requirements-dev.txt")
    assert not set(direct) & set(CONSTRAINTS)  # one pin per package


@pytest.mark.parametrize("name", sorted(CONSTRAINTS))
def test_the_tested_environment_has_the_pinned_version(name):
    assert metadata.version(name) == CONSTRAINTS[name]
