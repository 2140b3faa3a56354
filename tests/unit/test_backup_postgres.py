"""How `idp backup` and `idp restore` run pg_dump and pg_restore: the password only in a
passfile readable by its owner and gone afterwards (never on the command line, never in
PGPASSWORD), and a tool that outlives the deadline is stopped with a clear error."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import URL

from idp.storage import backup_postgres
from idp.storage.backup_archive import BackupError
from idp.storage.backup_postgres import Deadline

PASSWORD = "s3cr:et\\pw"
URL_WITH_PASSWORD = URL.create("postgresql+psycopg", username="campus", password=PASSWORD,
                               host="db.example.org", port=5433, database="campus_id",
                               query={"sslmode": "require"})


def test_the_password_goes_to_a_private_passfile_never_to_the_command_line(
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def tool(args: list[str], *, env: dict[str, str], **_: Any) -> subprocess.CompletedProcess[str]:
        passfile = Path(env["PGPASSFILE"])
        seen.update(args=args, env=env, passfile=passfile, mode=passfile.stat().st_mode & 0o777,
                    content=passfile.read_text(encoding="utf-8"))
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(backup_postgres.subprocess, "run", tool)
    monkeypatch.setenv("PGPASSWORD", "a-stale-one")
    backup_postgres.run(["/usr/bin/pg_dump", "--format=custom"], URL_WITH_PASSWORD, Deadline(60))

    assert not any("s3cr" in arg for arg in seen["args"])
    assert "--dbname=postgresql://campus@db.example.org:5433/campus_id?sslmode=require" in seen["args"]
    assert "PGPASSWORD" not in seen["env"]
    assert seen["mode"] == 0o600
    assert seen["content"] == "*:*:*:*:s3cr\\:et\\\\pw\n"  # libpq's escapes for ':' and '\'
    assert not seen["passfile"].exists()


def test_a_tool_past_the_deadline_is_stopped(tmp_path: Path) -> None:
    hanging = tmp_path / "pg_dump"
    hanging.write_text("#!/bin/sh\nexec sleep 60\n", encoding="utf-8")
    hanging.chmod(0o700)
    with pytest.raises(BackupError, match="did not finish within the deadline of 1 s"):
        backup_postgres.run([str(hanging)], URL_WITH_PASSWORD, Deadline(1))


def test_nothing_starts_once_the_deadline_has_passed(tmp_path: Path) -> None:
    deadline = Deadline(5)
    deadline.ends = time.monotonic() - 1
    marker = tmp_path / "started"
    tool = tmp_path / "pg_restore"
    tool.write_text(f"#!/bin/sh\ntouch {marker}\n", encoding="utf-8")
    tool.chmod(0o700)
    with pytest.raises(BackupError, match="deadline of 5 s has passed"):
        backup_postgres.run([str(tool)], URL_WITH_PASSWORD, deadline)
    assert not marker.exists()


def test_a_failing_tool_says_why() -> None:
    with pytest.raises(BackupError, match="false failed: exit status 1"):
        backup_postgres.run(["/bin/false"], URL_WITH_PASSWORD, Deadline(60))
