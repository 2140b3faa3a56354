"""Locking a campus identity (the helpdesk's brake) and unlocking it; logging a person out
everywhere.

A locked identity logs in nowhere (``idp.identity.login`` refuses it, audited), and locking
ends what it already holds, in the caller's transaction: every login session (with the
back-channel logout tokens of their relying parties, ``idp.oidc.logout``), every refresh
token family, access token and unused code issued to it, and its access grants, recomputed by
``idp.provisioning.grants`` with the identity entitled to nothing, so passes end and connectors
are told through the outbox as for a person who left, without grace. Unlocking recomputes
them again. Each change writes one audit event with the actor, the reason and the state
before and after. The caller commits, then hands the returned logout token ids to the
deliverer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from idp.errors import Conflict
from idp.linking.merge import check_reason
from idp.oidc.backchannel import Signer
from idp.oidc.logout import end_session
from idp.provisioning import grants
from idp.provisioning.policies import entitled
from idp.settings.model import Settings
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.base import utcnow
from idp.storage.identities import ACTIVE, Identity
from idp.storage.provisioning import GrantState
from idp.storage.refresh_tokens import RefreshToken, revoke_family
from idp.storage.sessions import active_sessions
from idp.storage.tokens import AccessToken, AuthorizationCode

LOCKED = "locked"
UNLOCKED = "active"


@dataclass(frozen=True)
class Preview:
    """What a lock or an unlock would change, for the helpdesk to see before it happens."""

    locked: bool
    sessions: int
    refresh_tokens: int
    grants_ending: tuple[str, ...] = ()
    grants_starting: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    """What a lock, an unlock or a logout everywhere did; ``logout_tokens``: the queued
    back-channel deliveries, to hand to the deliverer after commit."""

    sessions_ended: int = 0
    refresh_tokens_revoked: int = 0
    access_tokens_revoked: int = 0
    delivery_jobs: tuple[int, ...] = ()
    logout_tokens: tuple[int, ...] = field(default=(), repr=False)


def state(identity: Identity) -> str:
    return LOCKED if identity.locked_at is not None else UNLOCKED


def preview(db: Session, settings: Settings, identity: Identity) -> Preview:
    """What locking (when unlocked) or unlocking (when locked) would do; writes nothing."""
    held = grants.grants_of(db, [identity.id])[identity.id]
    open_grants = sorted(r for r, g in held.items() if g.state != GrantState.ENDED.value)
    if identity.locked_at is None:
        return Preview(False, len(active_sessions(db, identity.id)), _live_refresh(db, identity),
                       grants_ending=tuple(open_grants))
    wanted = entitled(settings.access, grants.account_facts(settings, identity), utcnow().date())
    return Preview(True, 0, 0, grants_starting=tuple(sorted(set(wanted) - set(open_grants))))


def lock(db: Session, settings: Settings, signer: Signer, identity: Identity, *, reason: str,
         actor: str, ip: str | None = None, organization: str | None = None) -> Outcome:
    """Raises ``InvalidInput`` without a reason, ``Conflict`` when already locked or merged."""
    reason = check_reason(reason)
    if identity.status != ACTIVE:
        raise Conflict(f"identity {identity.id} is {identity.status}",
                       public="This identity was merged into another one.")
    if identity.locked_at is not None:
        raise Conflict(f"identity {identity.id} already locked",
                       public="This identity is already locked.")
    identity.locked_at, identity.locked_by, identity.lock_reason = utcnow(), actor, reason
    audit.record(db, AuditEventType.IDENTITY_LOCKED, actor=actor, identity_id=identity.id,
                 organization=organization, ip=ip, reason=reason,
                 before={"state": UNLOCKED}, after={"state": LOCKED})
    ended = end_everything(db, settings, signer, identity, ip=ip, reason="identity_locked")
    jobs = grants.recompute(db, settings, [identity], actor=actor, reason=reason)
    return Outcome(ended.sessions_ended, ended.refresh_tokens_revoked,
                   ended.access_tokens_revoked, tuple(jobs), ended.logout_tokens)


def unlock(db: Session, settings: Settings, identity: Identity, *, reason: str, actor: str,
           ip: str | None = None, organization: str | None = None) -> Outcome:
    """Raises ``InvalidInput`` without a reason, ``Conflict`` when not locked."""
    reason = check_reason(reason)
    if identity.locked_at is None:
        raise Conflict(f"identity {identity.id} not locked", public="This identity is not locked.")
    before = {"state": LOCKED, "locked_at": identity.locked_at.isoformat(),
              "locked_by": identity.locked_by, "lock_reason": identity.lock_reason}
    identity.locked_at = identity.locked_by = identity.lock_reason = None
    audit.record(db, AuditEventType.IDENTITY_UNLOCKED, actor=actor, identity_id=identity.id,
                 organization=organization, ip=ip, reason=reason,
                 before=before, after={"state": UNLOCKED})
    jobs = grants.recompute(db, settings, [identity], actor=actor, reason=reason)
    return Outcome(delivery_jobs=tuple(jobs))


def logout_everywhere(db: Session, settings: Settings, signer: Signer, identity: Identity, *,
                      reason: str, actor: str, ip: str | None = None,
                      organization: str | None = None) -> Outcome:
    """The helpdesk's "log out everywhere": every session and token ends, access stays."""
    reason = check_reason(reason)
    sessions = len(active_sessions(db, identity.id))
    audit.record(db, AuditEventType.LOGOUT_EVERYWHERE, actor=actor, identity_id=identity.id,
                 organization=organization, ip=ip, reason=reason, sessions=sessions)
    return end_everything(db, settings, signer, identity, ip=ip, reason="helpdesk")


def end_everything(db: Session, settings: Settings, signer: Signer, identity: Identity, *,
                   ip: str | None, reason: str) -> Outcome:
    """Every live session of the identity ended (its relying parties told), every refresh
    token family, access token and unused code revoked."""
    logout_tokens: list[int] = []
    sessions = active_sessions(db, identity.id)
    for login in sessions:
        logout_tokens += end_session(db, login, signer, ip=ip, reason=reason,
                                     secret_key=settings.server.secret_key)
    families = db.scalars(select(RefreshToken.family_id).where(
        RefreshToken.identity_id == identity.id, RefreshToken.revoked_at.is_(None)).distinct()).all()
    refresh = access = 0
    for family in families:
        r, a = revoke_family(db, family)
        refresh, access = refresh + r, access + a
    now = utcnow()
    result = db.execute(update(AccessToken).where(AccessToken.identity_id == identity.id,
                                                  AccessToken.revoked_at.is_(None))
                        .values(revoked_at=now))
    db.execute(update(AuthorizationCode).where(AuthorizationCode.identity_id == identity.id,
                                               AuthorizationCode.used_at.is_(None))
               .values(used_at=now))
    access += int(result.rowcount)  # type: ignore[attr-defined]
    return Outcome(len(sessions), refresh, access, (), tuple(logout_tokens))


def _live_refresh(db: Session, identity: Identity) -> int:
    now = utcnow()
    return len(db.scalars(select(RefreshToken.id).where(
        RefreshToken.identity_id == identity.id, RefreshToken.revoked_at.is_(None),
        RefreshToken.rotated_at.is_(None), RefreshToken.expires_at > now)).all())
