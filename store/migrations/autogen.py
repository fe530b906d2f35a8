"""`python -m store.migrations.autogen`: regenerate the upgrade revision from `store/models.py`.

Run it after any change to the models (new tables, new nullable columns, indexes). It replaces
`versions/*_upgrade.py` with Alembic's autogenerate output: the difference between a database
at the baseline (release 8613ea0) and the current models. The revision id is a digest of the
models' schema, so a store stamped by an earlier draft is told it is unknown rather than
silently taken as current. `tests/store/test_migrations.py` fails until this was run.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine

from store.migrations.apply import BASELINE, alembic_config, run_command
from store.migrations.schema import schema_digest

VERSIONS = Path(__file__).resolve().parent / "versions"
SUFFIX = "_upgrade.py"


def regenerate() -> Path:
    """Write the upgrade revision anew; returns its path."""
    for old in VERSIONS.glob(f"*{SUFFIX}"):
        old.unlink()
    rev_id = f"u{schema_digest()}"
    with tempfile.TemporaryDirectory(prefix="pathways-autogen-") as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'baseline.db'}")
        with engine.begin() as conn:
            run_command(conn, "upgrade", BASELINE)
            config = alembic_config()
            config.attributes["connection"] = conn
            command.revision(
                config,
                message="Upgrade from release 8613ea0 to the current models",
                autogenerate=True,
                rev_id=rev_id,
                head=BASELINE,
            )
        engine.dispose()
    (made,) = VERSIONS.glob(f"{rev_id}_*.py")
    target = VERSIONS / f"{rev_id}{SUFFIX}"
    made.rename(target)
    target.write_text(_one_function_per_step(target.read_text()))
    # The project's formatter and linter, so `make lint` stays clean with generated code.
    for args in (["check", "--fix", "--quiet"], ["format", "--quiet"]):
        subprocess.run([sys.executable, "-m", "ruff", *args, str(target)], check=True)
    return target


_STEP = re.compile(
    r"^    (?:op\.(create|drop)_table\(|with op\.batch_alter_table\()['\"](\w+)['\"]"
)


def _split_body(body: list[str], prefix: str) -> tuple[list[str], list[str]]:
    """A function body of Alembic ops as one helper per step, and the calls of them."""
    steps: list[tuple[str, list[str]]] = []
    for line in body:
        found = _STEP.match(line)
        if found:
            verb = {"create": "create", "drop": "drop"}.get(found.group(1) or "", "alter")
            steps.append((f"_{prefix}_{len(steps) + 1:02d}_{verb}_{found.group(2)}", []))
        if steps and line.strip() and not line.strip().startswith("# ###"):
            steps[-1][1].append(line)
    helpers = [f"def {name}() -> None:\n" + "\n".join(lines) + "\n\n" for name, lines in steps]
    return helpers, [f"    {name}()" for name, _ in steps] or ["    pass"]


def _one_function_per_step(source: str) -> str:
    """Alembic writes one upgrade() of every op; functions here stay under 100 lines each."""
    out: list[str] = []
    lines = source.split("\n")
    i = 0
    while i < len(lines):
        head = re.match(r"^def (upgrade|downgrade)\(\) -> None:$", lines[i])
        if not head:
            out.append(lines[i])
            i += 1
            continue
        j = i + 1
        while j < len(lines) and (lines[j].startswith("    ") or not lines[j].strip()):
            j += 1
        helpers, calls = _split_body(
            lines[i + 1 : j], "up" if head.group(1) == "upgrade" else "down"
        )
        out += [*helpers, lines[i], *calls, "", ""]
        i = j
    return "\n".join(out)


def main() -> int:
    """Regenerate and say which file was written."""
    path = regenerate()
    sys.stdout.write(f"wrote {path.relative_to(VERSIONS.parent.parent.parent)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
