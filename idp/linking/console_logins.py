"""A person's recent logins and failures, and whether the login throttle holds each of the
person's accounts back, for the helpdesk console; and the helpdesk's clearing of that hold.

Logins come from the audit trail alone. A success or a refusal of a locked person names the
identity; a failed or throttled attempt names only the organization and the name typed (the
person behind it was not known then), so it is found by the account's username, with or
without ``@scope``, in any case, at the account's organization. Only the last ``DAYS`` days
are read, newest first. The throttle's state is the store's own (``LoginThrottle``): nothing
here counts; without Redis (``[throttle] redis_url``) each server process counts on its own
and the console sees the counts of the process that serves it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from idp.directory.base import PasswordDirectory
from idp.identity.login import counted_name
from idp.identity.throttle import LoginThrottle
from idp.linking.helpdesk import HelpdeskScope, related_identity_ids
from idp.settings.model import Settings
from idp.storage import audit
from idp.storage.audit import AuditEvent, AuditEventType
from idp.storage.base import utcnow
from idp.storage.clients import Client
from idp.storage.identities import Identity, LinkedAccount, account_key

DAYS = 30
SHOWN = 20
BY_IDENTITY = (AuditEventType.LOGIN_SUCCEEDED, AuditEventType.LOGIN_REFUSED_LOCKED)
BY_NAME = (AuditEventType.LOGIN_FAILED, AuditEventType.LOGIN_THROTTLED)


@dataclass(frozen=True)
class LoginLine:
    """One attempt: ``outcome`` is the event type's last part (succeeded, failed, throttled,
    refused_locked); ``client``: the relying party's name, when the login was for one."""

    at: datetime
    outcome: str
    account: str
    client: str | None
    ip: str | None


@dataclass(frozen=True)
class HoldLine:
    """One account and the moment the throttle lets it try again (None: it may now)."""

    account: str
    held_until: datetime | None


def recent_logins(db: Session, settings: Settings, identity: Identity, scope: HelpdeskScope,
                  *, limit: int = SHOWN) -> list[LoginLine]:
    accounts = [a for a in identity.accounts if scope.includes(a.organization)]
    if not accounts:
        return []
    since = utcnow() - timedelta(days=DAYS)
    by_identity = and_(AuditEvent.type.in_([t.value for t in BY_IDENTITY]),
                       AuditEvent.identity_id.in_(related_identity_ids(db, identity)))
    by_name = and_(AuditEvent.type.in_([t.value for t in BY_NAME]),
                   or_(*[_typed_as(a, settings) for a in accounts]))
    found: list[AuditEvent] = []
    for condition in (by_identity, by_name):  # two index reads, not one scan of their union
        stmt = select(AuditEvent).where(condition, AuditEvent.at >= since)
        if scope.organizations is not None:
            stmt = stmt.where(AuditEvent.organization.in_(sorted(scope.organizations)))
        found.extend(db.scalars(stmt.order_by(AuditEvent.id.desc()).limit(limit)))
    found = sorted(found, key=lambda e: e.id, reverse=True)[:limit]
    names = _client_names(db, {e.client_id for e in found if e.client_id})
    return [LoginLine(e.at, e.type.partition(".")[2], _account_of(e), names.get(e.client_id or ""),
                      e.ip) for e in found]


def _typed_as(account: LinkedAccount, settings: Settings) -> ColumnElement[bool]:
    organization = settings.organizations.get(account.organization)
    names = {account.username.lower()}
    if organization is not None:
        names.add(f"{account.username}@{organization.scope}".lower())
    return and_(AuditEvent.organization == account.organization,
                func.lower(AuditEvent.actor).in_(sorted(names)))


def _account_of(event: AuditEvent) -> str:
    if event.type in (AuditEventType.LOGIN_SUCCEEDED.value,
                      AuditEventType.LOGIN_REFUSED_LOCKED.value):
        return event.actor  # organization:username
    return f"{event.organization}:{event.actor}"


def _client_names(db: Session, client_ids: set[str]) -> dict[str, str]:
    if not client_ids:
        return {}
    rows = db.execute(select(Client.client_id, Client.name)
                      .where(Client.client_id.in_(sorted(client_ids))))
    return {client_id: name or client_id for client_id, name in rows}


def holds(throttle: LoginThrottle, directories: Mapping[str, PasswordDirectory],
          identity: Identity, scope: HelpdeskScope) -> list[HoldLine]:
    """Each of the person's accounts in ``scope`` and the throttle's hold on it."""
    return [HoldLine(account_key(a), _held_until(throttle, directories, a))
            for a in identity.accounts if scope.includes(a.organization)]


def _held_until(throttle: LoginThrottle, directories: Mapping[str, PasswordDirectory],
                account: LinkedAccount) -> datetime | None:
    until = throttle.account_held_until(account.organization, _name(directories, account))
    return datetime.fromtimestamp(until, UTC) if until else None


def _name(directories: Mapping[str, PasswordDirectory], account: LinkedAccount) -> str:
    directory = directories.get(account.organization)
    return counted_name(directory, account.username) if directory else account.username


def clear_hold(db: Session, throttle: LoginThrottle,
               directories: Mapping[str, PasswordDirectory], account: LinkedAccount, *,
               reason: str, actor: str, ip: str | None) -> datetime | None:
    """Forgive the account's failed logins, audited (in the caller's transaction) with what
    the hold was before; returns that. The store is changed at once: the caller commits the
    event right after."""
    before = _held_until(throttle, directories, account)
    throttle.forgive_account(account.organization, _name(directories, account))
    audit.record(db, AuditEventType.LOGIN_THROTTLE_CLEARED, actor=actor,
                 identity_id=account.identity_id, organization=account.organization, ip=ip,
                 account=account_key(account), reason=reason,
                 before={"held_until": before.isoformat() if before else None},
                 after={"held_until": None})
    return before
