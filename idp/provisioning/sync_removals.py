"""What a directory sync ends, once its safety brake let it through: accounts marked disabled
or gone (each audited), their sessions ended and their tokens revoked, and the grants of their
people recomputed (grace, then end), in batches with their own transactions.

Sessions and tokens: a login session opened by the account ends (``idp.oidc.logout.end_session``:
audited, logout tokens queued for back-channel clients, delivered by ``idp logout deliver``),
and every refresh token family, access token and unused code issued through the account's
sessions is revoked (``idp.linking.merge.end_tokens_of_sessions``, what an unlink does). When
the person has no other account that its directory still holds, everything of the identity
goes: all its sessions and all its refresh token families, whichever account opened them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from idp.linking.merge import end_tokens_of_sessions
from idp.oidc.key_rotation import retention
from idp.oidc.keys import ensure_keys, load_keyring
from idp.oidc.logout import Signer, end_session
from idp.provisioning.grants import apply, grants_of, plan
from idp.provisioning.sync_run import SyncRun
from idp.settings.model import Settings
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.base import utcnow
from idp.storage.identities import DISABLED, GONE, IN_DIRECTORY, Identity, LinkedAccount, account_key
from idp.storage.provisioning import AccessGrant, GrantState
from idp.storage.refresh_tokens import RefreshToken, revoke_family
from idp.storage.sessions import LoginSession

BATCH = 500
_EVENTS = {DISABLED: AuditEventType.ACCOUNT_DISABLED, GONE: AuditEventType.ACCOUNT_GONE}


@dataclass
class Ended:
    disabled: int = 0
    gone: int = 0
    grants_ended: int = 0  # grants that went to grace or ended


def apply_removals(sessions: Callable[[], Session], settings: Settings, run: SyncRun,
                   removals: Mapping[int, str], recompute: Iterable[int]) -> Ended:
    """Mark ``removals`` (account id -> disabled or gone), end what they opened, and
    recompute the grants of their people and of the identities in ``recompute``."""
    ended = Ended()
    ids = sorted(removals)
    for start in range(0, len(ids), BATCH):
        with sessions() as db:
            touched = _mark(db, settings, run, {i: removals[i] for i in ids[start:start + BATCH]},
                            ended)
            ended.grants_ended += recompute_grants(db, settings, run, touched)
            db.commit()
    rest = sorted(set(recompute) | _grace_over(sessions, run))
    for start in range(0, len(rest), BATCH):
        with sessions() as db:
            ended.grants_ended += recompute_grants(db, settings, run, rest[start:start + BATCH])
            db.commit()
    return ended


def _mark(db: Session, settings: Settings, run: SyncRun, states: Mapping[int, str],
          ended: Ended) -> list[int]:
    accounts = list(db.scalars(select(LinkedAccount).where(LinkedAccount.id.in_(list(states)))
                               .options(selectinload(LinkedAccount.identity))))
    changed = []
    for account in accounts:  # every state first: "another account still held" reads them
        if account.directory_state != states[account.id]:
            previous, account.directory_state = account.directory_state, states[account.id]
            changed.append((account, previous))
    signer = _LazySigner(db, settings)
    for account, previous in changed:
        state = account.directory_state
        audit.record(db, _EVENTS[state], actor=run.actor, identity_id=account.identity_id,
                     organization=run.organization, account=account_key(account), previous=previous)
        ended.disabled += state == DISABLED
        ended.gone += state == GONE
        end_access(db, settings, account, signer, reason=f"directory sync: account {state}")
    return sorted({account.identity_id for account, _ in changed})


def end_access(db: Session, settings: Settings, account: LinkedAccount, signer: Callable[[], Signer],
               *, reason: str) -> None:
    """End the sessions and tokens of an account that its directory no longer holds (all of
    its person's when no other account of theirs is still held)."""
    identity = account.identity
    alone = not any(a.directory_state == IN_DIRECTORY for a in identity.accounts if a.id != account.id)
    live = select(LoginSession).where(LoginSession.ended_at.is_(None),
                                      LoginSession.expires_at > utcnow())
    live = (live.where(LoginSession.identity_id == identity.id) if alone
            else live.where(LoginSession.account_id == account.id))
    for login in db.scalars(live.order_by(LoginSession.id)).unique().all():
        end_session(db, login, signer(), ip=None, reason=reason,
                    secret_key=settings.server.secret_key)
    for each in identity.accounts if alone else [account]:
        end_tokens_of_sessions(db, each)
    if alone:
        families = db.scalars(select(RefreshToken.family_id).where(
            RefreshToken.identity_id == identity.id, RefreshToken.revoked_at.is_(None)).distinct())
        for family in families.all():
            revoke_family(db, family)


class _LazySigner:
    """The provider's signer, loaded from the database only when a session is to end."""

    def __init__(self, db: Session, settings: Settings) -> None:
        self._db, self._settings = db, settings
        self._signer: Signer | None = None

    def __call__(self) -> Signer:
        if self._signer is None:
            settings = self._settings
            ensure_keys(self._db, settings.server.secret_key)  # as a server's first start would
            self._db.flush()
            keyring = load_keyring(self._db, settings.server.secret_key,
                                   retention=retention(settings))
            self._signer = Signer(settings.server.issuer, keyring)
        return self._signer


def recompute_grants(db: Session, settings: Settings, run: SyncRun,
                     identity_ids: Iterable[int]) -> int:
    """Plan and apply every grant change of these people; how many grants went to grace or
    ended."""
    ids = list(identity_ids)
    if not ids:
        return 0
    current = grants_of(db, ids)
    count = 0
    for identity in db.scalars(select(Identity).where(Identity.id.in_(ids))):
        steps = plan(settings, identity, current[identity.id], run.now)
        count += sum(1 for s in steps if s.delivered and s.after is not GrantState.ACTIVE)
        apply(db, settings, identity, steps, current[identity.id], actor=run.actor,
              reason="directory sync", now=run.now)
    return count


def _grace_over(sessions: Callable[[], Session], run: SyncRun) -> set[int]:
    """People of the organization whose grace ran out: their grants end with this sync."""
    with sessions() as db:
        return set(db.scalars(
            select(AccessGrant.identity_id).distinct()
            .join(LinkedAccount, LinkedAccount.identity_id == AccessGrant.identity_id)
            .where(LinkedAccount.organization == run.organization,
                   AccessGrant.state == GrantState.GRACE.value, AccessGrant.until <= run.now)))
