"""Bad input for the store's shell commands: upgrade, check and rotate-key.

Each case gets a clear error saying what to fix, and the store is byte-for-byte or row-for-row
what it was. The commands run as the operator runs them: `python -m store ...` in a process.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.store.release_store import loader

ROOT = Path(__file__).resolve().parents[2]


def store_cmd(data_dir: Path, db: Path, *args: str, key: str | None = None, old: str | None = None):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "PATHWAYS_DATA_DIR": str(data_dir),
           "DATABASE_URL": f"sqlite:///{db}", "PATHWAYS_DEMO": "0"}  # fmt: skip
    if key is not None:
        env["PATHWAYS_SECRET_KEY"] = key
    if old is not None:
        env["PATHWAYS_OLD_SECRET_KEYS"] = old
    return subprocess.run([sys.executable, "-m", "store", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def digest(db: Path) -> str:
    """The store's content (every table's rows), independent of SQLite's page layout."""
    with sqlite3.connect(db) as conn:
        return hashlib.sha256("\n".join(conn.iterdump()).encode()).hexdigest()


@pytest.fixture
def release(tmp_path) -> Path:
    return loader.sqlite_copy(tmp_path)


@pytest.fixture
def current(tmp_path) -> Path:
    """The release store upgraded to the current schema (secret under the release's key)."""
    db = loader.sqlite_copy(tmp_path)
    assert store_cmd(tmp_path, db, "upgrade").returncode == 0
    return db


# --- upgrade ---------------------------------------------------------------------------------


def test_upgrade_broken_half_way_is_rolled_back(tmp_path, release):
    with sqlite3.connect(release) as db:  # a name the upgrade needs late is taken
        db.execute("CREATE INDEX ix_runevent_run_id ON auditevent (at)")
    before = digest(release)
    done = store_cmd(tmp_path, release, "upgrade")
    assert done.returncode == 1
    assert "rolled back and the store is as it was" in done.stderr
    assert "python -m store upgrade" in done.stderr
    assert digest(release) == before


def test_upgrade_of_a_store_from_a_newer_version_is_refused(tmp_path, current):
    with sqlite3.connect(current) as db:
        db.execute("UPDATE alembic_version SET version_num = 'zfuture01'")
    before = digest(current)
    done = store_cmd(tmp_path, current, "upgrade")
    assert done.returncode == 1
    assert "upgraded by a newer version" in done.stderr
    assert digest(current) == before


def test_upgrade_of_a_file_that_is_not_a_database(tmp_path):
    junk = tmp_path / "notes.db"
    junk.write_bytes(b"these are my meeting notes, not a database\n" * 100)
    done = store_cmd(tmp_path, junk, "upgrade")
    assert done.returncode == 1
    assert "cannot be read as a database" in done.stderr
    assert "Check DATABASE_URL" in done.stderr
    assert junk.read_bytes() == b"these are my meeting notes, not a database\n" * 100


def test_upgrade_of_a_store_missing_a_required_column(tmp_path, release):
    with sqlite3.connect(release) as db:  # older than any release: no way to fill a NOT NULL column
        db.execute("ALTER TABLE pathway DROP COLUMN de_name")
    before = digest(release)
    done = store_cmd(tmp_path, release, "upgrade")
    assert done.returncode == 1
    assert "add column pathway.de_name" in done.stderr
    assert "upgrade it with that release first" in done.stderr
    assert digest(release) == before


# --- check -----------------------------------------------------------------------------------


def test_check_with_an_undecryptable_secret(tmp_path, current):
    before = digest(current)
    done = store_cmd(tmp_path, current, "check", "--json", key=Fernet.generate_key().decode())
    assert done.returncode == 1
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["secrets_ok"] is False
    assert (
        "(connection.client_secret_encrypted of row 1) cannot be decrypted" in report["problems"][0]
    )
    assert "pathways-demo-secret" not in done.stdout
    assert digest(current) == before


def test_check_without_any_key(tmp_path, current):
    done = store_cmd(tmp_path, current, "check", "--json")
    assert done.returncode == 1
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["secrets_ok"] is False
    assert "set the environment variable PATHWAYS_SECRET_KEY" in report["problems"][0]


def test_check_of_a_data_set_that_lost_its_rows(tmp_path, current):
    with sqlite3.connect(current) as db:
        db.execute(f"DROP TABLE {loader.dataset_tables()[0]}")
    before = digest(current)
    done = store_cmd(tmp_path, current, "check", "--json", key=loader.release_key())
    assert done.returncode == 1
    assert "Data set 'Demo donors' has lost its rows table" in done.stdout
    assert "delete the data set and upload it again" in done.stdout
    assert digest(current) == before


# --- rotate-key ------------------------------------------------------------------------------


def test_rotate_with_a_wrong_key_changes_nothing(tmp_path, current):
    before = digest(current)
    done = store_cmd(tmp_path, current, "rotate-key", key=Fernet.generate_key().decode())
    assert done.returncode == 1
    assert "cannot be decrypted" in done.stderr
    assert "PATHWAYS_OLD_SECRET_KEYS" in done.stderr
    assert "Nothing was changed" in done.stderr
    assert digest(current) == before


def test_rotate_with_a_wrong_old_key_changes_nothing(tmp_path, current):
    before = digest(current)
    new, wrong_old = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    done = store_cmd(tmp_path, current, "rotate-key", key=new, old=wrong_old)
    assert done.returncode == 1
    assert "nor the 1 old key(s)" in done.stderr
    assert digest(current) == before


def test_rotate_without_a_key_changes_nothing(tmp_path, current):
    before = digest(current)
    done = store_cmd(tmp_path, current, "rotate-key")
    assert done.returncode == 1
    assert "No secret key" in done.stderr
    assert "PATHWAYS_SECRET_KEY" in done.stderr
    assert digest(current) == before


def test_rotate_with_a_malformed_old_key_changes_nothing(tmp_path, current):
    before = digest(current)
    done = store_cmd(tmp_path, current, "rotate-key", key=Fernet.generate_key().decode(),
                     old=f"{loader.release_key()},not-a-key")  # fmt: skip
    assert done.returncode == 1
    assert "Old key number 2" in done.stderr
    assert "not a valid Fernet key" in done.stderr
    assert "not-a-key" not in done.stderr
    assert digest(current) == before


def test_rotate_stops_at_one_unreadable_secret_of_two(tmp_path, current):
    stranger = Fernet(Fernet.generate_key()).encrypt(b"someone else's").decode()
    with sqlite3.connect(current) as db:  # a second connection saved under a key now lost
        db.execute("INSERT INTO connection (name, auth_base_uri, client_id, client_secret_encrypted, "
                   "allow_modeled, last_test_report, created_at, updated_at) SELECT 'Lost', "
                   "auth_base_uri, 'x', ?, 0, '{}', created_at, updated_at FROM connection", (stranger,))  # fmt: skip
    before = digest(current)
    done = store_cmd(tmp_path, current, "rotate-key", key=Fernet.generate_key().decode(),
                     old=loader.release_key())  # fmt: skip
    assert done.returncode == 1
    assert "connection.client_secret_encrypted of row 2" in done.stderr
    assert digest(current) == before  # row 1, readable, was not re-encrypted either
