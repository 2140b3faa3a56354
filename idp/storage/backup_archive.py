"""The backup file: a tar archive of ``manifest.json`` (what the backup is) and one payload, the
database as its own tool wrote it (a SQLite database file, or a ``pg_dump`` custom-format
archive), so an operator can also read it with ``tar`` and the database's own tools.

The manifest names the database kind, the migration revision, when it was made, the kids of
the published signing keys and the fingerprint (never the value) of the ``secret_key`` they are
sealed under, and the payload's size and SHA-256, checked before a restore uses it. The archive
is written readable by its owner only and appears under its name only when complete.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import time
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

FORMAT = "campus-id-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CHUNK = 1024 * 1024


class BackupError(Exception):
    """A backup or restore that could not be done; ``str()`` is the message for the operator."""


class BackupRefused(BackupError):
    """A restore refused before anything was written (or a backup of the wrong thing)."""


class TargetNotEmpty(BackupRefused):
    """The database to restore into already has tables."""


class DatabaseKind(StrEnum):
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


PAYLOADS = {DatabaseKind.SQLITE: "database.sqlite3", DatabaseKind.POSTGRESQL: "database.pgdump"}


@dataclass(frozen=True)
class Manifest:
    database: DatabaseKind
    revision: str
    created_at: str  # ISO 8601, UTC
    secret_key_fingerprint: str
    signing_keys: tuple[str, ...]
    payload: str
    payload_bytes: int
    payload_sha256: str
    tool: str  # what wrote the payload: "sqlite3 backup API 3.40.1", "pg_dump (PostgreSQL) 15.2"

    def to_json(self) -> bytes:
        body = {"format": FORMAT, "format_version": FORMAT_VERSION, **asdict(self),
                "signing_keys": list(self.signing_keys)}
        return (json.dumps(body, indent=2) + "\n").encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            body: dict[str, Any] = json.loads(raw)
            if body.get("format") != FORMAT:
                raise ValueError("not a Campus ID backup")
            if body.get("format_version") != FORMAT_VERSION:
                raise ValueError(f"backup format {body.get('format_version')} is not one this "
                                 f"version reads ({FORMAT_VERSION}): made by a newer Campus ID?")
            return cls(database=DatabaseKind(body["database"]), revision=str(body["revision"]),
                       created_at=str(body["created_at"]),
                       secret_key_fingerprint=str(body["secret_key_fingerprint"]),
                       signing_keys=tuple(str(kid) for kid in body["signing_keys"]),
                       payload=str(body["payload"]), payload_bytes=int(body["payload_bytes"]),
                       payload_sha256=str(body["payload_sha256"]), tool=str(body["tool"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise BackupRefused(f"The manifest of this backup cannot be read: {exc}") from exc


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_archive(path: Path, manifest: Manifest, payload: Path, work: Path) -> None:
    """Write the archive in ``work`` (a private directory on ``path``'s file system), then give
    it its name: a hard link, which fails rather than replace a file that appeared meanwhile."""
    partial = work / "archive.tar"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        with tarfile.open(fileobj=file, mode="w", format=tarfile.PAX_FORMAT) as tar:
            body = manifest.to_json()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode, info.mtime = len(body), 0o600, int(time.time())
            tar.addfile(info, io.BytesIO(body))
            info = tarfile.TarInfo(manifest.payload)
            info.size, info.mode, info.mtime = payload.stat().st_size, 0o600, int(time.time())
            with open(payload, "rb") as data:
                tar.addfile(info, data)
        file.flush()
        os.fsync(file.fileno())
    try:
        os.link(partial, path)
    except FileExistsError as exc:
        raise BackupError(f"{path} already exists: give a new file name.") from exc


def read_manifest(path: Path) -> Manifest:
    try:
        with tarfile.open(path, mode="r:") as tar:
            member = tar.extractfile(MANIFEST)
            if member is None:
                raise KeyError(MANIFEST)
            return Manifest.from_json(member.read())
    except (OSError, tarfile.TarError, KeyError) as exc:
        raise BackupRefused(f"{path} is not a Campus ID backup ({exc}).") from exc


def extract_payload(path: Path, manifest: Manifest, into: Path) -> Path:
    """The payload copied to ``into`` (by name, never by a path the archive chooses), its
    SHA-256 checked against the manifest."""
    target = into / PAYLOADS[manifest.database]
    with tarfile.open(path, mode="r:") as tar:
        member = tar.extractfile(manifest.payload)
        if member is None:
            raise BackupRefused(f"{path} has no {manifest.payload}.")
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(member, out, CHUNK)
    if sha256_of(target) != manifest.payload_sha256:
        raise BackupRefused(f"{path} is damaged: its {manifest.payload} does not match the "
                            "SHA-256 its manifest recorded.")
    return target

