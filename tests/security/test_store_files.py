"""The store's files are private: data folder 0700, database, -wal and -shm 0600.

Issue 21 item 9: `pathways.db`, `-wal` and `-shm` were 0644 in a 0755 folder while holding
supporter data and password hashes.
"""

from __future__ import annotations

import os
import stat

import pytest
from sqlalchemy import text

from store import db
from store.crypto import key_file, load_key


@pytest.fixture
def loose_umask():
    old = os.umask(0o022)  # what a default shell gives: files 0644, folders 0755
    yield
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_fresh_store_files_are_private(tmp_path, monkeypatch, loose_umask):
    folder = tmp_path / "data"
    monkeypatch.setenv("PATHWAYS_DATA_DIR", str(folder))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    engine = db.make_engine()
    db.create_db_and_tables(engine)
    with engine.begin() as conn:  # a write: SQLite creates -wal and -shm
        conn.execute(text("CREATE TABLE probe (x INTEGER)"))
        conn.execute(text("INSERT INTO probe VALUES (1)"))
    with engine.connect() as conn:  # held open so the WAL files are still there
        assert conn.execute(text("SELECT x FROM probe")).scalar() == 1
        files = [folder / f"pathways.db{s}" for s in ("", "-wal", "-shm")]
        assert all(f.exists() for f in files)
        assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}
    assert _mode(folder) == 0o700
    engine.dispose()


def test_existing_loose_store_is_tightened(tmp_path, monkeypatch, loose_umask):
    """A store made by an older version (0755 folder, 0644 files) is closed on the next start."""
    folder = tmp_path / "data"
    folder.mkdir()
    files = [folder / f"pathways.db{s}" for s in ("", "-wal", "-shm")]
    for file in files:
        file.touch()
        file.chmod(0o644)
    folder.chmod(0o755)
    monkeypatch.setenv("PATHWAYS_DATA_DIR", str(folder))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    engine = db.make_engine()
    db.create_db_and_tables(engine)
    assert _mode(folder) == 0o700
    assert [_mode(f) for f in files if f.exists()] == [0o600] * sum(f.exists() for f in files)
    assert _mode(folder / "pathways.db") == 0o600
    engine.dispose()


def test_demo_key_file_is_private(tmp_path, monkeypatch, loose_umask):
    monkeypatch.setenv("PATHWAYS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PATHWAYS_SECRET_KEY", raising=False)
    load_key()
    assert _mode(key_file()) == 0o600


def test_a_shared_sticky_folder_is_left_alone(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    monkeypatch.setenv("PATHWAYS_DATA_DIR", str(shared))
    db.data_dir()
    assert _mode(shared) == 0o1777
