"""``idp identities``, ``idp proposals`` and ``idp audit export``: the helpdesk's work from a
shell, over the API's service functions, with the actor ``cli:<os user>``, JSON output, clear
errors and exit codes (2 invalid, 3 not found, 4 conflict), and nothing changed on an error."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from idp.directory.base import DirectoryAccount
from idp.identity.login import upsert_account
from idp.oidc.events import IdentityEvent
from idp.storage.audit import AuditEvent
from idp.storage.base import make_engine, make_session_factory
from idp.storage.clients import Client
from idp.storage.grants import remember_consent
from idp.storage.identities import Identity
from idp.storage.linking import LinkProposal, ProposalReason
from idp.storage.logout import DeliveryKind, LogoutDelivery
from tests.cli.test_cli import run

ACTOR = f"cli:{getpass.getuser()}"


@pytest.fixture
def sessions(config: Path, database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()


def person(sessions: sessionmaker[Session], org: str, username: str) -> str:
    """An account that has logged in once: its identity's sub."""
    with sessions() as db:
        found = DirectoryAccount(org, f"{org}-{username}", username, {
            "given_name": ("Анна",), "family_name": ("Смирнова",),
            "email": (f"{username}@{org}.ru",), "affiliation": ("student",)})
        sub = upsert_account(db, found).identity.sub
        db.commit()
    return sub


def idp(config: Path, *args: str) -> Result:
    return run("--config", str(config), *args)


def ok(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def lines(result: Result) -> list[dict[str, Any]]:
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines()]


def audit_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as db:
        return int(db.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def test_show_link_and_unlink(config: Path, sessions: sessionmaker[Session]) -> None:
    sub = person(sessions, "tpu", "asmirnova")
    old_sub = person(sessions, "tsu", "anna.smirnova")
    shown = ok(idp(config, "identities", "show", "tsu:anna.smirnova"))
    assert shown["sub"] == old_sub and shown["accounts"][0]["email"] == "anna.smirnova@tsu.ru"

    # A sub may begin with "-": "--" ends the options.
    linked = ok(idp(config, "identities", "link", "--reason", "ticket 7", "--", sub,
                    "tsu:anna.smirnova"))
    assert linked["sub"] == sub and linked["merged_sub"] == old_sub
    assert [a["account"] for a in linked["accounts"]] == ["tpu:asmirnova", "tsu:anna.smirnova"]
    via_alias = ok(idp(config, "identities", "show", "--", old_sub))
    assert via_alias["sub"] == sub and via_alias["aliases"] == [old_sub]

    unlinked = ok(idp(config, "identities", "unlink", "--reason", "two people after all", "--",
                      sub, "tsu:anna.smirnova"))
    new_sub = unlinked["new_identity"]["sub"]
    assert new_sub not in (sub, old_sub)
    assert [a["account"] for a in unlinked["identity"]["accounts"]] == ["tpu:asmirnova"]
    assert ok(idp(config, "identities", "show", "tsu:anna.smirnova"))["sub"] == new_sub

    trail = lines(idp(config, "audit", "export", f"--sub={sub}"))
    assert [e["id"] for e in trail] == sorted(e["id"] for e in trail)  # oldest first
    changes = [e for e in trail if e["type"] in ("identity.merged", "account.unlinked")]
    assert [(e["type"], e["actor"], e["details"]["reason"]) for e in changes] == [
        ("identity.merged", ACTOR, "ticket 7"), ("account.unlinked", ACTOR, "two people after all")]


@pytest.mark.parametrize(("args", "code", "message"), [
    (["identities", "show", "no-such-sub"], 3, "No identity has the sub no-such-sub."),
    (["identities", "show", "tsu:nobody"], 3, "No account tsu:nobody has logged in yet."),
    (["identities", "link", "--reason", "x", "--", "{sub}", "petrov"], 2,
     "An account is written organization:username"),
    (["identities", "link", "--reason", "x", "--", "{sub}", "tpu:asmirnova"], 4,
     "is already linked here"),
    (["identities", "link", "--reason", " ", "--", "{sub}", "tsu:anna.smirnova"], 2,
     "A reason is required."),
    (["identities", "unlink", "--reason", "x", "--", "{sub}", "tpu:asmirnova"], 4,
     "An identity's last account cannot be unlinked."),
    (["identities", "unlink", "--reason", "x", "--", "{sub}", "tsu:anna.smirnova"], 3,
     "is not linked to this identity"),
    (["proposals", "approve", "999", "--reason", "x"], 3, "No proposal 999."),
    (["audit", "export", "--since", "last tuesday"], 2, "--since is an ISO date or time"),
])
def test_errors_say_what_is_wrong_and_change_nothing(config: Path, sessions: sessionmaker[Session],
                                                     args: list[str], code: int, message: str) -> None:
    sub = person(sessions, "tpu", "asmirnova")
    person(sessions, "tsu", "anna.smirnova")
    before = audit_count(sessions)
    result = idp(config, *(a.format(sub=sub) for a in args))
    assert result.exit_code == code, result.output
    assert message in result.output and "Traceback" not in result.output
    assert audit_count(sessions) == before


def test_a_reason_is_required(config: Path, sessions: sessionmaker[Session]) -> None:
    sub = person(sessions, "tpu", "asmirnova")
    result = idp(config, "identities", "link", "--", sub, "tsu:anna.smirnova")
    assert result.exit_code == 2 and "--reason" in result.output


def test_proposals_list_approve_and_reject(config: Path, sessions: sessionmaker[Session]) -> None:
    subs = [person(sessions, org, name) for org, name in
            (("tpu", "asmirnova"), ("tsu", "anna.smirnova"), ("tpu", "bpetrov"), ("tsu", "b.petrov"))]
    with sessions() as db:
        ids = {s: db.scalars(select(Identity).where(Identity.sub == s)).one() for s in subs}
        made = []
        for account_sub, candidate_sub in ((subs[1], subs[0]), (subs[3], subs[2])):
            identity = ids[account_sub]
            proposal = LinkProposal(rule="name_birthdate", reason=ProposalReason.PROPOSE_RULE.value,
                                    account_id=identity.accounts[0].id, identity_id=identity.id,
                                    candidate_identity_id=ids[candidate_sub].id)
            db.add(proposal)
            db.flush()
            made.append(proposal.id)
        db.commit()

    pending = lines(idp(config, "proposals", "list"))
    assert [p["id"] for p in pending] == made and pending[0]["account"] == "tsu:anna.smirnova"
    approved = ok(idp(config, "proposals", "approve", str(made[0]), "--reason", "same SNILS on paper"))
    assert approved["status"] == "approved"
    assert ok(idp(config, "identities", "show", "--", subs[1]))["sub"] == subs[0]
    rejected = ok(idp(config, "proposals", "reject", str(made[1]), "--reason", "different people"))
    assert rejected["status"] == "rejected"
    assert ok(idp(config, "identities", "show", "--", subs[3]))["sub"] == subs[3]
    again = idp(config, "proposals", "reject", str(made[0]), "--reason", "changed my mind")
    assert again.exit_code == 4 and "already approved" in again.output
    assert lines(idp(config, "proposals", "list")) == []
    assert [p["status"] for p in lines(idp(config, "proposals", "list", "--status", "all"))] == [
        "approved", "rejected"]


def test_audit_export_since(config: Path, sessions: sessionmaker[Session]) -> None:
    person(sessions, "tpu", "asmirnova")
    everything = lines(idp(config, "audit", "export"))
    assert everything and all(set(e) >= {"id", "at", "type", "actor", "details"} for e in everything)
    assert lines(idp(config, "audit", "export", "--since", "2999-01-01")) == []
    assert lines(idp(config, "audit", "export", "--since", everything[0]["at"])) == everything


def link_told_to_a_relying_party_that_is_down(config: Path, sessions: sessionmaker[Session],
                                              reason: str) -> None:
    """Two people linked from the CLI, the absorbed one known to a relying party whose
    event delivery URI does not answer: a Security Event Token is queued for it."""
    sub = person(sessions, "tpu", "asmirnova")
    old_sub = person(sessions, "tsu", "anna.smirnova")
    with sessions() as db:
        rp = Client(client_id="rp1", name="RP", redirect_uris=["https://rp.example/cb"],
                    scopes=["openid"], event_delivery_uri="http://127.0.0.1:9/events")  # down
        db.add(rp)
        db.flush()
        absorbed = db.scalars(select(Identity).where(Identity.sub == old_sub)).one()
        remember_consent(db, absorbed.id, rp.id, {"openid"})
        db.commit()
    ok(idp(config, "identities", "link", "--reason", reason, "--", sub, "tsu:anna.smirnova"))


def test_a_link_from_the_cli_queues_the_relying_partys_event(
        config: Path, sessions: sessionmaker[Session]) -> None:
    link_told_to_a_relying_party_that_is_down(config, sessions, "ticket 8")
    with sessions() as db:
        [row] = db.scalars(select(LogoutDelivery))
        assert row.kind == DeliveryKind.SECURITY_EVENT.value
        assert row.attempts == 1 and row.delivered_at is None and row.next_attempt_at is not None
        assert IdentityEvent.MERGED.value in _payload(row.token)["events"]
    delivered = idp(config, "logout", "deliver")  # not due yet: waits for its retry
    assert delivered.exit_code == 0 and "delivered: 0; failed: 0" in delivered.output


def _payload(token: str) -> dict[str, Any]:
    import base64

    part = token.split(".")[1]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return data


def test_the_delivery_worker_also_retries_what_the_back_channel_owes(
        config: Path, sessions: sessionmaker[Session]) -> None:
    """`idp worker` does what `idp logout deliver` does, so sessions a directory sync ends
    reach their relying parties without a cron job of their own."""
    link_told_to_a_relying_party_that_is_down(config, sessions, "ticket 9")
    with sessions() as db:
        row = db.scalars(select(LogoutDelivery)).one()
        row.next_attempt_at = row.created_at  # due now
        db.commit()
    assert idp(config, "worker", "--once").exit_code == 0
    with sessions() as db:
        row = db.scalars(select(LogoutDelivery)).one()
        assert row.attempts == 2 and row.delivered_at is None  # tried again, still down
