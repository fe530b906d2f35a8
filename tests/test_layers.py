"""Layer rule: `sfmc/`, `store/`, `sync/` and `simulator/` are plain Python (no streamlit)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLAIN_MODULES = sorted(
    p for d in ("sfmc", "store", "sync", "simulator") for p in (ROOT / d).rglob("*.py")
)


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_there_are_plain_modules_to_check():
    assert len(PLAIN_MODULES) >= 3


@pytest.mark.parametrize("path", PLAIN_MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_plain_layers_never_import_streamlit(path):
    assert "streamlit" not in _imported_modules(path)
