"""How each account of an identity came to it, from the audit trail alone, and which of those
links the person may undo on My Campus ID ("this was not me").

The membership events recorded under the identity (``identity.created``, ``account.linked``,
``identity.merged``, ``link.approved``) say how its accounts arrived; since accounts only ever
move, the latest event naming an account is the one that brought it. An account split off by
an unlink is found by the ``account.unlinked`` event that recorded the identity's ``sub`` as
its ``new_sub`` (looked up only when an account is otherwise unexplained). When an account
arrived is its ``linked_at``, which every link, merge and unlink sets.

A person may undo a link (never a first login or a split) that is at most ``UNDO_WINDOW`` old,
of an account other than the one they are signed in with, made after that account itself
joined the identity: whoever got an account linked to someone else's identity can never push
the earlier accounts, and with them that person's ``sub``, out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from idp.storage.audit import AuditEvent, AuditEventType
from idp.storage.identities import Identity, LinkedAccount, account_key

UNDO_WINDOW = timedelta(days=30)
ARRIVALS = (AuditEventType.IDENTITY_CREATED, AuditEventType.ACCOUNT_LINKED,
            AuditEventType.IDENTITY_MERGED, AuditEventType.LINK_APPROVED)


class How(StrEnum):
    FIRST_LOGIN = "first_login"  # the identity was made for it at its first login
    RULE = "rule"  # linked automatically by a linking rule
    PERSON = "person"  # the person proved both passwords on My Campus ID
    STAFF = "staff"  # the helpdesk (API, CLI) or staff decided it
    UNLINK = "unlink"  # split off another identity onto this new one
    UNKNOWN = "unknown"  # no event explains it (a renamed account, a trail cut short)


LINKS = frozenset({How.RULE, How.PERSON, How.STAFF})  # what "this was not me" may undo


@dataclass(frozen=True)
class Arrival:
    """How one account came to the identity: ``by`` is the event's actor, ``rule`` the rule
    that matched (automatic links and proposals)."""

    account: LinkedAccount
    at: datetime
    how: How
    rule: str | None = None
    by: str = ""


def arrivals(db: Session, identity: Identity) -> list[Arrival]:
    """Every account of ``identity``, in its order, with when and how it arrived."""
    found: dict[str, tuple[How, str | None, str]] = {}
    stmt = select(AuditEvent).where(AuditEvent.identity_id == identity.id,
                                    AuditEvent.type.in_([t.value for t in ARRIVALS]))
    for event in db.scalars(stmt.order_by(AuditEvent.id)):
        how, rule = how_of_event(event.type, event.actor, event.details)
        for key in accounts_brought(event.type, event.details):
            found[key] = (how, rule, event.actor)
    if any(account_key(a) not in found for a in identity.accounts):
        for key, actor in _split_off(db, identity):
            found.setdefault(key, (How.UNLINK, None, actor))
    result = []
    for account in identity.accounts:
        how, rule, by = found.get(account_key(account), (How.UNKNOWN, None, ""))
        result.append(Arrival(account, account.linked_at, how, rule, by))
    return result


def may_undo(arrival: Arrival, session_account: LinkedAccount, now: datetime) -> bool:
    """Whether the person signed in with ``session_account`` may push the account out."""
    return (arrival.how in LINKS and arrival.account.id != session_account.id
            and now - arrival.at <= UNDO_WINDOW and arrival.at > session_account.linked_at)


def refusal(arrival: Arrival, session_account: LinkedAccount, now: datetime) -> str:
    """Why ``may_undo`` is false, for the logs."""
    if arrival.account.id == session_account.id:
        return "the signed-in account"
    if arrival.how not in LINKS:
        return f"not a link ({arrival.how})"
    if now - arrival.at > UNDO_WINDOW:
        return "linked more than 30 days ago"
    return "linked before the signed-in account"


def how_of_event(kind: str, actor: str, details: Mapping[str, Any]) -> tuple[How, str | None]:
    """How an arrival event (one of ``ARRIVALS``) linked, and by which rule if any."""
    evidence = details.get("evidence") or {}
    if kind == AuditEventType.IDENTITY_CREATED:
        return How.FIRST_LOGIN, None
    if kind == AuditEventType.ACCOUNT_LINKED and actor.startswith("rule:"):
        return How.RULE, actor.removeprefix("rule:")
    rule = details.get("rule") if kind == AuditEventType.LINK_APPROVED else None
    by_person = evidence.get("method") == "person" or evidence.get("decided_by") == "person"
    return (How.PERSON if by_person else How.STAFF), rule


def accounts_brought(kind: str, details: Mapping[str, Any]) -> list[str]:
    """The accounts an arrival event put on its identity."""
    if kind in (AuditEventType.IDENTITY_CREATED, AuditEventType.ACCOUNT_LINKED):
        return [str(details.get("account", ""))]
    absorbed = details.get("absorbed_sub")  # a merge, or an approval that merged
    before = details.get("before") or {}
    return [str(k) for k in before.get(absorbed, [])] if absorbed else []


def _split_off(db: Session, identity: Identity) -> list[tuple[str, str]]:
    """(account, actor) of the unlink that made ``identity``, found by its recorded new sub."""
    pattern = '%"new_sub": ' + _escape(json.dumps(identity.sub)) + "%"
    stmt = select(AuditEvent).where(AuditEvent.type == AuditEventType.ACCOUNT_UNLINKED.value,
                                    cast(AuditEvent.details, Text).like(pattern, escape="!"))
    return [(str(e.details.get("account", "")), e.actor) for e in db.scalars(stmt)
            if e.details.get("new_sub") == identity.sub]


def _escape(text: str) -> str:
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")
