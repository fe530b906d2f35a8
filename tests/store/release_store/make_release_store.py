"""Build `release-8613ea0.db`: a store made by release 8613ea0 itself, for the upgrade tests.

    .venv/bin/python -m tests.store.release_store.make_release_store

It checks the release out in a temporary git worktree, runs that release's own code (with this
project's virtualenv) to create the demo workspace (users, the demo connection, a 300-row donor
data set, four audiences) and two pathways, pushes both to that release's simulator (one Upsert
run with refused rows, one Mirror run and a dry run), and copies the resulting SQLite file here
(`VACUUM INTO`, a few hundred kB). The secret key it used is written beside it, so the tests
can read the stored client secret. Run it again only to rebuild the fixture.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet

RELEASE = "8613ea0"
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
FIXTURE = HERE / f"release-{RELEASE}.db"
KEY_FILE = HERE / f"release-{RELEASE}.key"
ROWS = 300

# Runs inside the release's worktree, with the release's modules (argv: store path).
_BUILD = """
import sys
from sqlmodel import Session
from sfmc.simulator import start_simulator
from sfmc.push import run_pathway
from sfmc.worker import default_client_factory
from store import repo, runs
from store.db import make_engine
from store.demo import ensure_demo_workspace

engine = make_engine("sqlite:///" + sys.argv[1])
with start_simulator() as sim:
    ws = ensure_demo_workspace(engine, simulator_auth_uri=sim.auth_uri, rows=%(rows)d)
    mapping = [
        {"source_column": "email", "destination_field": "Email", "field_type": "EmailAddress",
         "length": 254, "is_primary_key": True, "required": True},
        {"source_column": "first_name", "destination_field": "FirstName", "length": 100},
        {"source_column": "total_given", "destination_field": "TotalGiven",
         "field_type": "Decimal", "precision": 18, "scale": 2},
    ]
    made = []
    with Session(engine) as session:
        for audience, method in (("All donors", "upsert"), ("Monthly givers", "mirror")):
            pathway = repo.create_pathway(
                ws.audience_ids[audience], ws.connection_id, audience, audience.replace(" ", "_"),
                session=session, category_id=1000, method=method, primary_keys=["Email"],
                created_by="admin",
            )
            repo.set_mapping(pathway.id, mapping, session=session)
            made.append(pathway.id)
    for pathway_id in made:
        run = runs.enqueue_run(engine, pathway_id, "manual", created_by="staff")
        run_pathway(engine, run.id, client_factory=default_client_factory)
    dry = runs.enqueue_run(engine, made[0], "manual", dry_run=True, created_by="staff")
    run_pathway(engine, dry.id, client_factory=default_client_factory)
    for r in runs.list_runs(engine, made[0]) + runs.list_runs(engine, made[1]):
        print(r.id, r.state, r.rows_succeeded, r.rows_failed, r.error)
engine.dispose()
"""


def build() -> None:
    """Make the fixture (see the module docstring)."""
    key = Fernet.generate_key().decode()
    with tempfile.TemporaryDirectory(prefix="pathways-release-") as tmp:
        worktree = Path(tmp) / "release"
        subprocess.run(["git", "worktree", "add", "--detach", str(worktree), RELEASE],
                       cwd=ROOT, check=True, capture_output=True)  # fmt: skip
        try:
            store = Path(tmp) / "store.db"
            env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(worktree), "PATHWAYS_DEMO": "1",
                   "PATHWAYS_DATA_DIR": tmp, "PATHWAYS_SECRET_KEY": key}  # fmt: skip
            subprocess.run([sys.executable, "-c", _BUILD % {"rows": ROWS}, str(store)],
                           cwd=worktree, env=env, check=True)  # fmt: skip
            FIXTURE.unlink(missing_ok=True)
            with sqlite3.connect(store) as db:
                db.execute("VACUUM INTO ?", (str(FIXTURE),))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)],
                           cwd=ROOT, check=True)  # fmt: skip
    KEY_FILE.write_text(key + "\n")
    sys.stdout.write(
        f"wrote {FIXTURE.name} ({FIXTURE.stat().st_size:,} bytes) and {KEY_FILE.name}\n"
    )


if __name__ == "__main__":
    build()
