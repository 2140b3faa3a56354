"""How the helpdesk API shows identities, accounts, proposals and audit events: only what a
helpdesk needs (names and e-mail of each account, never stored identifiers or hashes).

A helpdesk scoped to some organizations (``helpdesk:ORG``) sees another organization's
accounts redacted to the organization alone: no username, name or e-mail, and no name taken
from them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from idp.identity.claims import display_name, primary_account
from idp.identity.lock import Outcome
from idp.linking import console
from idp.linking.helpdesk import HelpdeskScope
from idp.storage.audit import AuditEvent
from idp.storage.identities import Identity, LinkedAccount, account_key, aliases_of
from idp.storage.linking import LinkProposal

UNSCOPED = HelpdeskScope(None)


def identity_summary(identity: Identity, precedence: Sequence[str],
                     scope: HelpdeskScope = UNSCOPED) -> dict[str, Any]:
    """A search result: with the state, organizations and affiliations the console's results
    show (``idp.linking.console.found``)."""
    primary = primary_account(identity, precedence)
    glance = console.found(identity, scope, precedence)
    return {
        "sub": identity.sub,
        "campus_id": identity.campus_id,
        "name": _visible_name(identity, primary, scope),
        "primary_account": _key(primary, scope),
        "accounts": [_key(a, scope) for a in identity.accounts],
        "state": glance.state,
        "organizations": list(glance.organizations),
        "affiliations": list(glance.affiliations),
    }


def identity_details(db: Session, identity: Identity, precedence: Sequence[str], *,
                     requested: str | None = None,
                     scope: HelpdeskScope = UNSCOPED) -> dict[str, Any]:
    """``requested``: the alias sub that was asked for, said so in ``resolved_from_alias``."""
    primary = primary_account(identity, precedence)
    body: dict[str, Any] = {
        "sub": identity.sub,
        "campus_id": identity.campus_id,
        "status": identity.status,
        "created_at": _time(identity.created_at),
        "primary_account": _key(primary, scope),
        "accounts": [account(a) if scope.includes(a.organization)
                     else {"organization": a.organization, "redacted": True}
                     for a in identity.accounts],
        "aliases": [a.sub for a in aliases_of(db, identity.id)],
        "locked": lock_of(identity),
    }
    if requested is not None:
        body["resolved_from_alias"] = requested
    return body


def lock_of(identity: Identity) -> dict[str, Any] | None:
    if identity.locked_at is None:
        return None
    return {"at": _time(identity.locked_at), "by": identity.locked_by,
            "reason": identity.lock_reason}


def lock_outcome(identity: Identity, done: Outcome) -> dict[str, Any]:
    return {"sub": identity.sub, "locked": lock_of(identity),
            "sessions_ended": done.sessions_ended,
            "refresh_tokens_revoked": done.refresh_tokens_revoked,
            "access_tokens_revoked": done.access_tokens_revoked,
            "jobs": list(done.delivery_jobs)}


def account(a: LinkedAccount) -> dict[str, Any]:
    return {
        "account": account_key(a),
        "organization": a.organization,
        "username": a.username,
        "name": display_name(a),
        "email": _first(a, "email"),
        "linked_at": _time(a.linked_at),
        "last_login_at": _time(a.last_login_at),
    }


def proposal(db: Session, p: LinkProposal) -> dict[str, Any]:
    acct = db.get_one(LinkedAccount, p.account_id)
    return {
        "id": p.id,
        "status": p.status,
        "rule": p.rule,
        "reason": p.reason,
        "account": account_key(acct),
        "identity": db.get_one(Identity, p.identity_id).sub,
        "candidate_identity": db.get_one(Identity, p.candidate_identity_id).sub,
        "created_at": _time(p.created_at),
        "decided_at": _time(p.decided_at),
    }


def audit_event(e: AuditEvent, scope: HelpdeskScope = UNSCOPED,
                organizations: Sequence[str] = ()) -> dict[str, Any]:
    """``organizations``: every configured one, for the redaction of a scoped view."""
    return {
        "id": e.id,
        "at": _time(e.at),
        "type": e.type,
        "actor": scope.redact(e.actor, organizations),
        "organization": e.organization,
        "client_id": e.client_id,
        "details": scope.redact(e.details, organizations),
        "request_id": e.request_id,  # the X-Request-ID of its log lines (docs/operations.md)
    }


def _key(a: LinkedAccount, scope: HelpdeskScope) -> str:
    return account_key(a) if scope.includes(a.organization) else a.organization


def _visible_name(identity: Identity, primary: LinkedAccount, scope: HelpdeskScope) -> str | None:
    """The primary account's name, or, when that account is hidden, the first visible one's."""
    for a in [primary, *identity.accounts]:
        if scope.includes(a.organization):
            return display_name(a)
    return None


def _first(a: LinkedAccount, name: str) -> str | None:
    values = (a.attributes or {}).get(name) or []
    return str(values[0]) if values else None


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
