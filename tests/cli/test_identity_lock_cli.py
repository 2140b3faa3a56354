"""``idp identities lock`` and ``unlock``: the API's lock from a shell, as ``cli:<os user>``,
JSON output, a reason required, 4 for a lock that is already there."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from idp.storage.audit import AuditEventType, events
from tests.cli.test_identities_cli import ACTOR, idp, ok, person, sessions  # noqa: F401


def test_lock_and_unlock_from_the_command_line(config: Path,
                                               sessions: sessionmaker[Session]) -> None:  # noqa: F811
    sub = person(sessions, "tpu", "asmirnova")
    locked = ok(idp(config, "identities", "lock", "--reason", "stolen laptop", "tpu:asmirnova"))
    assert locked["sub"] == sub
    assert locked["locked"]["by"] == ACTOR and locked["locked"]["reason"] == "stolen laptop"
    assert ok(idp(config, "identities", "show", sub))["locked"]["reason"] == "stolen laptop"
    again = idp(config, "identities", "lock", "--reason", "twice", sub)
    assert again.exit_code == 4 and "already locked" in again.output
    assert idp(config, "identities", "unlock", "--reason", "", sub).exit_code == 2
    unlocked = ok(idp(config, "identities", "unlock", "--reason", "found it", "--", sub))
    assert unlocked["locked"] is None
    with sessions() as db:
        assert [e.actor for e in events(db, AuditEventType.IDENTITY_LOCKED)] == [ACTOR]
        assert [e.details["reason"] for e in events(db, AuditEventType.IDENTITY_UNLOCKED)] == [
            "found it"]
