"""Only the glue module imports streamlit within ui/ (the use cases are plain Python)."""

from __future__ import annotations

import ast

from tests.fixtures import ROOT

GLUE = "ui/state.py"


def _imports_streamlit(path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        if any(n == "streamlit" or n.startswith("streamlit.") for n in names):
            return True
    return False


def test_only_the_glue_module_imports_streamlit_in_ui():
    importers = sorted(
        str(p.relative_to(ROOT)) for p in (ROOT / "ui").rglob("*.py") if _imports_streamlit(p)
    )
    assert importers == [GLUE]


def _is_state(node: ast.AST, aliases: set[str]) -> bool:
    """`st.session_state`, or a name bound to it (`session = st.session_state`)."""
    if isinstance(node, ast.Attribute):
        return node.attr == "session_state"
    return isinstance(node, ast.Name) and node.id in aliases


def _literal_keys(tree: ast.AST) -> list[int]:
    """Lines that index session state with a string literal or pass one to get/setdefault."""
    aliases = {
        t.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and _is_state(node.value, set())
        for t in node.targets
        if isinstance(t, ast.Name)
    }
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and _is_state(node.value, aliases):
            key = node.slice
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and _is_state(node.func.value, aliases)
            and node.args
        ):
            key = node.args[0]
        else:
            continue
        if isinstance(key, ast.Constant):
            lines.append(node.lineno)
    return lines


def test_session_keys_and_caches_are_declared_only_in_the_glue_module():
    """Pages and use cases name session keys through ui.state constants, never as literals."""
    offenders = []
    for path in [*(ROOT / "pages").glob("*.py"), *(ROOT / "ui").rglob("*.py"), ROOT / "app.py"]:
        rel = str(path.relative_to(ROOT))
        if rel == GLUE:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        offenders += [f"{rel}:{line}" for line in _literal_keys(tree)]
        offenders += [
            f"{rel}:{node.lineno} {node.attr}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr in ("cache_resource", "cache_data")
        ]
    assert offenders == []
