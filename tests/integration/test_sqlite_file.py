"""The SQLite database holds codes, tokens' digests, keys encrypted at rest and personal data:
a file the provider creates is its owner's alone, and so are SQLite's WAL and shared-memory
files made next to it. A file that already exists keeps the mode its operator gave it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from idp.storage.base import make_engine
from idp.storage.migrate import upgrade


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_database_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    previous = os.umask(0o022)  # the usual umask, under which SQLite makes its files 0644
    try:
        path = tmp_path / "new" / "idp.sqlite3"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        assert mode(path) == 0o600
        with engine.connect() as conn:  # WAL mode: the -wal and -shm files exist while open
            conn.exec_driver_sql("SELECT 1")
            for companion in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                assert mode(companion) == 0o600, companion
        engine.dispose()
        assert mode(path) == 0o600
    finally:
        os.umask(previous)


def test_an_existing_database_file_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "idp.sqlite3"
    path.touch()
    path.chmod(0o640)  # say, readable by a backup group
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    assert mode(path) == 0o640


def test_memory_databases_create_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for url in ("sqlite://", "sqlite:///:memory:"):
        make_engine(url).dispose()
    assert list(tmp_path.iterdir()) == []
