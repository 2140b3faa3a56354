"""PostgreSQL backups with the server's own tools: ``pg_dump --format=custom`` (one consistent
snapshot, taken while the provider runs) and ``pg_restore --single-transaction`` (all or
nothing).

The tools come from Debian's PostgreSQL client of the server's major version
(``/usr/lib/postgresql/MAJOR/bin``), else from ``PATH`` when at least as new as the server.
Each runs within the command's total deadline and is stopped when it passes. The password
never appears on a command line or in the environment: the URL's password goes into a
passfile readable by its owner only, deleted afterwards (without one in the URL, libpq finds
its own: ``~/.pgpass``, ``PGPASSFILE`` or ``PGPASSWORD``). The connection string passed to the
tools carries host, port, user, database and the URL's options, no password.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import URL, Engine, text

from idp.storage.backup_archive import BackupError
from idp.storage.migrate import current_revision

DEBIAN_BIN = "/usr/lib/postgresql/{major}/bin/{tool}"
VERSION = re.compile(r"\(PostgreSQL\) (\d+)")
CONNECT_TIMEOUT_S = "10"


class Deadline:
    """A total time allowed for a command, shared by the tools it runs."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds

    def remaining(self) -> float:
        left = self.ends - time.monotonic()
        if left <= 0:
            raise BackupError(f"Stopped: the deadline of {self.seconds:g} s has passed.")
        return left


def dump(engine: Engine, payload: Path, deadline: Deadline) -> tuple[str | None, str]:
    """The database into ``payload``; returns its migration revision and the tool's version.
    A migration that ran meanwhile (the revision changed) fails the backup."""
    before = current_revision(engine)
    tool, version = find_tool("pg_dump", server_major(engine))
    run([tool, "--format=custom", "--file", str(payload)], engine.url, deadline)
    if current_revision(engine) != before:
        raise BackupError("The database was migrated during the backup: run the backup again.")
    return before, version


def restore(engine: Engine, payload: Path, deadline: Deadline) -> str:
    """``payload`` into the (empty) database of ``engine``; objects owned by the URL's user,
    no grants of the old server's roles; one transaction, stopped at the first error."""
    tool, version = find_tool("pg_restore", server_major(engine))
    run([tool, "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error",
         str(payload)], engine.url, deadline)
    return version


def server_major(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10000


def find_tool(name: str, major: int) -> tuple[str, str]:
    """The tool of Debian's client for ``major``, else one on PATH at least that new."""
    candidates = [DEBIAN_BIN.format(major=major, tool=name), shutil.which(name)]
    seen: list[str] = []
    for candidate in candidates:
        if not candidate or not os.access(candidate, os.X_OK):
            continue
        out = subprocess.run([candidate, "--version"], capture_output=True, text=True,  # noqa: S603
                             timeout=10, check=False).stdout.strip()
        found = VERSION.search(out)
        if found and int(found.group(1)) >= major:
            return candidate, out
        seen.append(f"{candidate}: {out or 'no version'}")
    raise BackupError(f"No {name} for PostgreSQL {major} or newer (the server is {major}): "
                      f"install Debian's postgresql-client-{major}."
                      + (f" Found only {'; '.join(seen)}." if seen else ""))


def run(args: Sequence[str], url: URL, deadline: Deadline) -> None:
    name = Path(args[0]).name
    conninfo = conninfo_of(url)
    env = dict(os.environ)
    env.setdefault("PGCONNECT_TIMEOUT", CONNECT_TIMEOUT_S)
    with tempfile.TemporaryDirectory(prefix="campus-id-pg-") as private:  # mode 0700
        if url.password is not None:
            env.pop("PGPASSWORD", None)
            env["PGPASSFILE"] = _passfile(Path(private), url.password)
        try:
            done = subprocess.run(  # noqa: S603  (an argument list of our own, no shell)
                [*args, f"--dbname={conninfo}"], env=env, capture_output=True,
                text=True, timeout=deadline.remaining(), check=False)
        except subprocess.TimeoutExpired as exc:
            raise BackupError(f"{name} did not finish within the deadline of "
                              f"{deadline.seconds:g} s and was stopped.") from exc
    if done.returncode != 0:
        reason = " ".join(done.stderr.strip().splitlines()[-5:]) or f"exit status {done.returncode}"
        raise BackupError(f"{name} failed: {reason}")


def conninfo_of(url: URL) -> str:
    """A libpq URI of ``url`` without its password (``URL.set`` would keep it: it skips None)."""
    bare = URL.create("postgresql", username=url.username, host=url.host, port=url.port,
                      database=url.database, query=url.query)
    return bare.render_as_string(hide_password=False)


def _passfile(directory: Path, password: str) -> str:
    """A passfile (libpq's ``~/.pgpass`` format) that matches any server with ``password``."""
    escaped = password.replace("\\", "\\\\").replace(":", "\\:")
    path = directory / "pgpass"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(f"*:*:*:*:{escaped}\n")
    return str(path)
