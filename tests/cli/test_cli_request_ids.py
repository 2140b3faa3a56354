"""Each ``idp`` command has an id of its own (docs/operations.md, "Logs"): every audit event it
writes carries it, and ``idp audit export`` shows it next to the events of requests."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from tests.cli.test_identities_cli import idp, lines, ok, person, sessions  # noqa: F401 - fixture


def test_a_command_s_audit_events_share_its_id(config: Path, sessions: sessionmaker[Session]) -> None:  # noqa: F811
    sub = person(sessions, "tpu", "asmirnova")  # written outside any command: no id
    old_sub = person(sessions, "tsu", "anna.smirnova")
    ok(idp(config, "identities", "link", "--reason", "ticket 7", "--", sub, "tsu:anna.smirnova"))
    ok(idp(config, "identities", "unlink", "--reason", "ticket 8", "--", sub,
           "tsu:anna.smirnova"))

    trail = lines(idp(config, "audit", "export"))
    assert [e["request_id"] for e in trail if e["type"] == "identity.created"][:2] == [None, None]
    [merged] = [e for e in trail if e["type"] == "identity.merged"]
    [unlinked] = [e for e in trail if e["type"] == "account.unlinked"]
    assert re.fullmatch(r"[0-9a-f]{32}", merged["request_id"])
    assert re.fullmatch(r"[0-9a-f]{32}", unlinked["request_id"])
    assert merged["request_id"] != unlinked["request_id"]  # two commands, two ids
    assert old_sub != sub
