"""Layer rules (docs/ARCHITECTURE.md): who may import whom, checked on the code's own imports.

`../shared/tools/architecture.py` checks cycles, Streamlit only in the UI, `store/` importing only
`store/`, the simulator importing nothing of the product, `requests` in one module, sizes and no
exec/eval. The tests below run it, and add the rules it leaves out: the SFMC client imports
neither the store nor the engine, and nothing below the UI imports `ui/` or `pages/`.
"""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKER = ROOT.parent / "shared" / "tools" / "architecture.py"
PLAIN_MODULES = sorted(
    p for d in ("sfmc", "store", "sync", "simulator") for p in (ROOT / d).rglob("*.py")
)
# folder -> top-level project packages it must not import
FORBIDDEN = {
    "sfmc": {"store", "sync", "ui", "pages", "simulator"},
    "store": {"sfmc", "sync", "ui", "pages", "simulator"},
    "sync": {"ui", "pages", "simulator"},
    "ui": {"pages"},
}


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_there_are_plain_modules_to_check():
    assert len(PLAIN_MODULES) >= 3


@pytest.mark.parametrize("path", PLAIN_MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_plain_layers_never_import_streamlit(path):
    assert "streamlit" not in _imported_modules(path)


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_imports_point_one_way(folder):
    wrong = {
        str(path.relative_to(ROOT)): sorted(_imported_modules(path) & FORBIDDEN[folder])
        for path in sorted((ROOT / folder).rglob("*.py"))
    }
    assert {p: names for p, names in wrong.items() if names} == {}


def test_architecture_checker_is_clean():
    if not CHECKER.is_file():
        msg = f"{CHECKER} not found (it lives outside the repo in ../shared)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    done = subprocess.run(
        [sys.executable, str(CHECKER)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith(": clean"), done.stdout


STORE_JOINERS = {"runner.py", "run_store.py", "worker.py"}
FIELD_TABLE = {"store.fieldtypes", "store.fieldchecks", "store.fieldvalues", "store.fieldconvert"}


def _store_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("store"):
            if node.module == "store":  # from store import fieldtypes
                found.update(f"store.{a.name}" for a in node.names)
            else:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("store"))
    return found


def test_engine_core_reads_only_the_field_table_from_the_store():
    """Only the runner, its store side and the worker loop join the engine to the store."""
    wrong = {
        path.name: sorted(_store_imports(path) - FIELD_TABLE)
        for path in sorted((ROOT / "sync").glob("*.py"))
        if path.name not in STORE_JOINERS
    }
    assert {name: mods for name, mods in wrong.items() if mods} == {}
