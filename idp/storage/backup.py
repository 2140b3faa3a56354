"""Backing up the database while the provider runs, and restoring a backup into an empty one.

Whole databases, never a list of tables: SQLite through its online backup API (one consistent
snapshot while the provider keeps writing: a file copy can catch a page half-written or miss
the WAL), PostgreSQL through ``pg_dump``/``pg_restore`` (``idp.storage.backup_postgres``). The
file is ``idp.storage.backup_archive``'s. A restore refuses, before it writes anything, a backup
of the other kind of database, one made by a newer schema than this code knows, one whose
signing keys were sealed under another ``secret_key``, and a target that already has tables;
it brings an older schema to the current one afterwards. The checks that need the signing keys
come from the caller (``idp.oidc.key_backup``): this layer does not open keys.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, create_engine, inspect
from sqlalchemy.engine import make_url

from idp.storage import backup_postgres
from idp.storage.backup_archive import (
    PAYLOADS,
    BackupError,
    BackupRefused,
    DatabaseKind,
    Manifest,
    TargetNotEmpty,
    extract_payload,
    sha256_of,
    write_archive,
)
from idp.storage.backup_postgres import Deadline
from idp.storage.migrate import alembic_config, upgrade

SYSTEM_SCHEMAS = ("information_schema", "pg_catalog", "pg_toast")
Verify = Callable[[Connection], None]  # raises BackupRefused when the keys do not open


def kind_of(engine_or_url: Engine | str) -> DatabaseKind:
    url = engine_or_url.url if isinstance(engine_or_url, Engine) else make_url(engine_or_url)
    return DatabaseKind.SQLITE if url.get_backend_name() == "sqlite" else DatabaseKind.POSTGRESQL


def make_backup(engine: Engine, path: Path, *, fingerprint: str, signing_keys: list[str],
                deadline: Deadline, now: datetime) -> Manifest:
    """Write the backup of ``engine``'s database to ``path`` (a new file)."""
    if path.exists():
        raise BackupError(f"{path} already exists: give a new file name.")
    if not path.parent.is_dir():
        raise BackupError(f"{path.parent} is not a directory.")
    kind = kind_of(engine)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".campus-id-backup-") as work:
        payload = Path(work) / PAYLOADS[kind]
        if kind is DatabaseKind.SQLITE:
            revision, tool = _sqlite_snapshot(_sqlite_path(engine), payload)
        else:
            revision, tool = backup_postgres.dump(engine, payload, deadline)
        if revision is None:
            raise BackupRefused("The database has no Campus ID schema: nothing to back up.")
        manifest = Manifest(database=kind, revision=revision, created_at=now.isoformat(),
                            secret_key_fingerprint=fingerprint, signing_keys=tuple(signing_keys),
                            payload=PAYLOADS[kind], payload_bytes=payload.stat().st_size,
                            payload_sha256=sha256_of(payload), tool=tool)
        write_archive(path, manifest, payload, Path(work))
    return manifest


def check_backup(manifest: Manifest, kind: DatabaseKind, *, fingerprint: str) -> None:
    """The refusals the backup alone decides (before the target is even opened): the other
    kind of database, a schema newer than this code, another ``secret_key``."""
    if manifest.database is not kind:
        raise BackupRefused(f"This is a backup of a {manifest.database} database; the configured "
                            f"database is {kind}. Restore it into a {manifest.database} database.")
    scripts = ScriptDirectory.from_config(alembic_config())
    try:
        scripts.get_revision(manifest.revision)
    except CommandError as exc:
        raise BackupRefused(
            f"This backup is at migration revision {manifest.revision}, which this version of "
            f"Campus ID does not know (its newest is {scripts.get_current_head()}): it was made "
            "by a newer version. Restore it with that version or a newer one.") from exc
    if manifest.secret_key_fingerprint != fingerprint:
        raise BackupRefused(
            "This backup's keys were encrypted under a different secret_key (fingerprint "
            f"{manifest.secret_key_fingerprint}; the configured one is {fingerprint}). Configure "
            "the secret_key of the provider that made the backup, then restore again.")


def check_target_empty(engine: Engine) -> None:
    tables = user_tables(engine)
    if tables:
        where = engine.url.render_as_string(hide_password=True)
        raise TargetNotEmpty(
            f"The database {where} is not empty ({len(tables)} tables, such as "
            f"{', '.join(sorted(tables)[:3])}). Restore into an empty database: a new SQLite "
            "file, or a new PostgreSQL database (createdb).")


def user_tables(engine: Engine) -> list[str]:
    inspector = inspect(engine)
    if engine.dialect.name == "sqlite":
        return list(inspector.get_table_names())
    schemas = [s for s in inspector.get_schema_names()
               if s not in SYSTEM_SCHEMAS and not s.startswith("pg_")]
    return [f"{schema}.{table}" for schema in schemas for table in inspector.get_table_names(schema)]


def restore_backup(path: Path, manifest: Manifest, engine: Engine, *, verify: Verify,
                   deadline: Deadline) -> str | None:
    """Restore into ``engine``'s (checked, empty) database and upgrade an older schema.
    Returns the revision it was upgraded from, None when the backup was current."""
    kind = kind_of(engine)
    workdir = _sqlite_path(engine).parent if kind is DatabaseKind.SQLITE else None
    with tempfile.TemporaryDirectory(dir=workdir, prefix=".campus-id-restore-") as work:
        payload = extract_payload(path, manifest, Path(work))
        if kind is DatabaseKind.SQLITE:
            _verify_sqlite(payload, verify)
            engine.dispose()
            _sqlite_copy(payload, _sqlite_path(engine))
        else:
            backup_postgres.restore(engine, payload, deadline)
            try:
                with engine.connect() as conn:
                    verify(conn)
            except BackupRefused as exc:
                raise BackupError(f"{exc} The database now holds the backup's data: drop it "
                                  "before you restore again.") from exc
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if manifest.revision == head:
        return None
    upgrade(engine)
    return manifest.revision


def _sqlite_path(engine: Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:":
        raise BackupRefused("An in-memory SQLite database cannot be backed up or restored.")
    return Path(database)


def _open(path: Path, mode: str) -> sqlite3.Connection:
    """A connection to an existing file (``mode``: ``rw`` or ``ro``), never creating one."""
    return sqlite3.connect(f"file:{quote(str(path))}?mode={mode}", uri=True, timeout=15)


def _sqlite_snapshot(source: Path, payload: Path) -> tuple[str | None, str]:
    """One consistent copy through the backup API (a single step: the snapshot of one read
    transaction, while writers go on in the WAL), checked, in rollback-journal mode so the
    payload is one self-contained file."""
    if not source.is_file():
        raise BackupError(f"There is no SQLite database at {source}.")
    src, dst = _open(source, "rw"), sqlite3.connect(payload)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")
        check = dst.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"The copy of {source} failed SQLite's check: {check}")
        has_versions = dst.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                                   "AND name = 'alembic_version'").fetchone()[0]
        row = dst.execute("SELECT version_num FROM alembic_version").fetchone() if has_versions else None
    finally:
        dst.close()
        src.close()
    return (str(row[0]) if row else None), f"sqlite3 backup API (SQLite {sqlite3.sqlite_version})"


def _verify_sqlite(payload: Path, verify: Verify) -> None:
    engine = create_engine(f"sqlite:///{payload}")
    try:
        with engine.connect() as conn:
            verify(conn)
    finally:
        engine.dispose()


def _sqlite_copy(payload: Path, target: Path) -> None:
    """The payload into the target file through the backup API (the target keeps its mode)."""
    src, dst = _open(payload, "ro"), _open(target, "rw")
    try:
        dst.execute("PRAGMA journal_mode=DELETE")
        src.backup(dst)
    finally:
        dst.close()
        src.close()
