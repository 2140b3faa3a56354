"""`idp backup` and `idp restore` as an operator runs them, on SQLite and PostgreSQL: a backup
records what it is, a restore refuses (and writes nothing) for a target that is not empty, a
different secret_key, a schema newer than the code or the other kind of database, and brings an
older backup to the current schema. The provider running through a backup and a restore:
tests/flows/test_backup_restore.py."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from demo.throwaway_db import throwaway_database
from idp.storage.backup_archive import Manifest, read_manifest, write_archive
from idp.storage.migrate import alembic_config, head_revision
from tests.cli.test_cli import CONFIG, run
from tests.conftest import POSTGRES_ADMIN_URL

SECRET = "cli-tests-secret-key-0123456789abcdef"  # CONFIG's
OTHER_SECRET = "another-secret-key-0123456789abcdefgh"


@pytest.fixture
def target_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A second, empty database of the same kind: the one restored into."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored' / 'idp.sqlite3'}"
        return
    with throwaway_database(POSTGRES_ADMIN_URL, "campus_id_restore") as url:
        yield url


def write_config(path: Path, url: str, secret: str = SECRET) -> Path:
    path.write_text(CONFIG.format(url=url).replace(SECRET, secret), encoding="utf-8")
    return path


def tables_of(url: str) -> list[str]:
    """The tables of a database; a SQLite file that was never created has none."""
    if url.startswith("sqlite") and not Path(make_url(url).database or "").exists():
        return []
    engine = create_engine(url)
    try:
        return inspect(engine).get_table_names()
    finally:
        engine.dispose()


def kids_of(config: Path) -> list[str]:
    result = run("--config", str(config), "keys", "list", "--json")
    assert result.exit_code == 0, result.output
    return [json.loads(line)["kid"] for line in result.output.splitlines()]


@pytest.fixture
def source(tmp_path: Path, database_url: str) -> Path:
    """The configuration of a migrated database with its signing keys."""
    config = write_config(tmp_path / "source.toml", database_url)
    assert run("--config", str(config), "db", "upgrade").exit_code == 0
    kids_of(config)  # makes the keys a first start would
    return config


def test_a_backup_restores_into_an_empty_database_with_the_same_keys(
        source: Path, target_url: str, tmp_path: Path) -> None:
    backup = tmp_path / "campus-id.backup"
    made = run("--config", str(source), "backup", str(backup))
    assert made.exit_code == 0, made.output
    kids = kids_of(source)
    assert f"revision {head_revision()}" in made.output
    assert all(kid in made.output for kid in kids)
    assert backup.stat().st_mode & 0o777 == 0o600
    with tarfile.open(backup) as tar:
        assert tar.getnames() == ["manifest.json", read_manifest(backup).payload]
    manifest = read_manifest(backup)
    assert manifest.revision == head_revision() and sorted(manifest.signing_keys) == sorted(kids)
    assert SECRET not in backup.read_bytes().decode("latin-1")  # a fingerprint, not the secret

    again = run("--config", str(source), "backup", str(backup))
    assert again.exit_code == 1 and "already exists" in again.output

    target = write_config(tmp_path / "target.toml", target_url)
    restored = run("--config", str(target), "restore", str(backup))
    assert restored.exit_code == 0, restored.output
    assert kids_of(target) == kids
    current = run("--config", str(target), "db", "current")
    assert f"current: {head_revision()}" in current.output


def test_restore_refuses_a_database_that_is_not_empty(source: Path, tmp_path: Path) -> None:
    backup = tmp_path / "campus-id.backup"
    assert run("--config", str(source), "backup", str(backup)).exit_code == 0
    kids = kids_of(source)
    refused = run("--config", str(source), "restore", str(backup))
    assert refused.exit_code == 4
    assert "Nothing restored" in refused.output and "is not empty" in refused.output
    assert kids_of(source) == kids


def test_restore_refuses_a_different_secret_key_and_writes_nothing(
        source: Path, target_url: str, tmp_path: Path) -> None:
    backup = tmp_path / "campus-id.backup"
    assert run("--config", str(source), "backup", str(backup)).exit_code == 0
    target = write_config(tmp_path / "target.toml", target_url, secret=OTHER_SECRET)
    refused = run("--config", str(target), "restore", str(backup))
    assert refused.exit_code == 2
    assert "this backup's keys were encrypted under a different secret_key" in refused.output.lower()
    assert tables_of(target_url) == []
    # With the secret the keys were sealed under, the same backup restores.
    good = write_config(tmp_path / "good.toml", target_url)
    assert run("--config", str(good), "restore", str(backup)).exit_code == 0


def test_backup_refuses_a_secret_key_that_does_not_open_the_keys(source: Path, tmp_path: Path,
                                                                database_url: str) -> None:
    wrong = write_config(tmp_path / "wrong.toml", database_url, secret=OTHER_SECRET)
    refused = run("--config", str(wrong), "backup", str(tmp_path / "x.backup"))
    assert refused.exit_code == 2 and "does not open the signing keys" in refused.output
    assert not (tmp_path / "x.backup").exists()


def test_restore_refuses_a_backup_from_a_newer_schema(source: Path, target_url: str,
                                                      tmp_path: Path) -> None:
    backup = tmp_path / "campus-id.backup"
    assert run("--config", str(source), "backup", str(backup)).exit_code == 0
    newer = tmp_path / "newer.backup"
    manifest = read_manifest(backup)
    work = tmp_path / "work"
    work.mkdir()
    with tarfile.open(backup) as tar:
        tar.extract(manifest.payload, work, filter="data")
    write_archive(newer, replace(manifest, revision="9999_from_the_future"),
                  work / manifest.payload, work)
    target = write_config(tmp_path / "target.toml", target_url)
    refused = run("--config", str(target), "restore", str(newer))
    assert refused.exit_code == 2
    assert "9999_from_the_future" in refused.output and "newer version" in refused.output
    assert tables_of(target_url) == []


def test_an_older_backup_is_upgraded_after_the_restore(database_url: str, target_url: str,
                                                       tmp_path: Path) -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    head = scripts.get_revision(str(head_revision()))
    older = head.down_revision if head else None
    assert isinstance(older, str)
    source = write_config(tmp_path / "source.toml", database_url)
    assert run("--config", str(source), "db", "upgrade", "--revision", older).exit_code == 0
    backup = tmp_path / "older.backup"
    assert run("--config", str(source), "backup", str(backup)).exit_code == 0
    assert read_manifest(backup).revision == older
    target = write_config(tmp_path / "target.toml", target_url)
    restored = run("--config", str(target), "restore", str(backup))
    assert restored.exit_code == 0, restored.output
    assert f"Upgraded the schema from revision {older}" in restored.output
    assert f"current: {head_revision()}" in run("--config", str(target), "db", "current").output


def test_restore_refuses_what_is_not_a_backup(tmp_path: Path, target_url: str) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("not a backup", encoding="utf-8")
    target = write_config(tmp_path / "target.toml", target_url)
    refused = run("--config", str(target), "restore", str(junk))
    assert refused.exit_code == 2 and "is not a Campus ID backup" in refused.output


def test_the_other_kind_of_database_is_refused(source: Path, tmp_path: Path,
                                               database_url: str) -> None:
    backup = tmp_path / "campus-id.backup"
    assert run("--config", str(source), "backup", str(backup)).exit_code == 0
    manifest: Manifest = read_manifest(backup)
    other = ("postgresql+psycopg://postgres@127.0.0.1:5432/nothing_here"
             if database_url.startswith("sqlite") else f"sqlite:///{tmp_path / 'other.sqlite3'}")
    target = write_config(tmp_path / "target.toml", other)
    refused = run("--config", str(target), "restore", str(backup))
    assert refused.exit_code == 2
    assert f"This is a backup of a {manifest.database} database" in refused.output


def test_backup_refuses_a_database_without_the_schema(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path / "empty.toml", database_url)
    refused = run("--config", str(config), "backup", str(tmp_path / "x.backup"))
    assert refused.exit_code == 2 and "no Campus ID schema" in refused.output
    assert not (tmp_path / "x.backup").exists()
