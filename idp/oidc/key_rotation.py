"""Rotating signing keys without a failed validation: add a key that is published at once and
signs only after a delay, and retire a replaced key once every token it signed has expired.

Each change is one audit event in the caller's transaction: ``key.rotated`` when a key is
added, ``key.activated`` when its activation is noticed (by ``settle``), ``key.retired``.
Activation itself needs no write: every process switches keys by the clock
(``idp.oidc.key_schedule``); ``settle`` records it and marks due retirements in the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from idp.oidc.key_schedule import KeyState, ScheduledKey
from idp.oidc.keys import SUPPORTED_ALGS, key_schedule, new_key_row
from idp.oidc.logout import LOGOUT_TOKEN_LIFETIME_S
from idp.settings import Settings
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.keys import SigningKey, active_keys, all_keys


class KeyRotationError(Exception):
    """A rotation or retirement that would break validation or names no key: nothing changed."""


@dataclass(frozen=True)
class Settled:
    activated: tuple[str, ...]
    retired: tuple[str, ...]


def retention(settings: Settings) -> timedelta:
    """How long a replaced key stays published: the longest lifetime of a token it may have
    signed (ID, access and logout tokens) plus the configured margin. An ID token also comes
    back as ``id_token_hint`` at logout, expired or not, for as long as the login session it
    was issued in may last: that counts as its lifetime too."""
    oidc = settings.oidc
    longest = max(oidc.id_token_lifetime_s, oidc.access_token_lifetime_s, LOGOUT_TOKEN_LIFETIME_S,
                  settings.server.session_lifetime_s)
    return timedelta(seconds=longest + settings.keys.retire_margin_s)


def rotate(db: Session, secret_key: str, algs: Iterable[str], *, now: datetime,
           delay: timedelta, actor: str) -> list[SigningKey]:
    """Add one key per algorithm, signing from ``now + delay``. Refused (nothing added) for an
    algorithm that already has a key waiting to activate."""
    algs = list(dict.fromkeys(algs))
    unknown = [a for a in algs if a not in SUPPORTED_ALGS]
    if unknown:
        raise KeyRotationError(f"unsupported algorithm {', '.join(unknown)} "
                               f"(one of {', '.join(SUPPORTED_ALGS)})")
    waiting = {k.alg: k for k in active_keys(db) if k.activates_at > now}
    refused = [f"{alg} already has key {waiting[alg].kid} waiting to activate at "
               f"{waiting[alg].activates_at.isoformat()}" for alg in algs if alg in waiting]
    if refused:
        raise KeyRotationError("; ".join(refused))
    added = []
    for alg in algs:
        row = new_key_row(secret_key, alg, now + delay)
        db.add(row)
        audit.record(db, AuditEventType.KEY_ROTATED, actor=actor, kid=row.kid, alg=alg,
                     activates_at=row.activates_at.isoformat())
        added.append(row)
    db.flush()
    return added


def settle(db: Session, *, now: datetime, retention: timedelta, actor: str) -> Settled:
    """Record the activations that happened and retire the keys whose tokens have expired."""
    activated, retired = [], []
    rows = active_keys(db)
    by_kid = {r.kid: r for r in rows}
    for planned in key_schedule(rows, now, retention):
        row = by_kid[planned.kid]
        if planned.state in (KeyState.ACTIVE, KeyState.PREVIOUS) and row.activated_at is None:
            if _mark(db, row, SigningKey.activated_at, now):
                audit.record(db, AuditEventType.KEY_ACTIVATED, actor=actor, kid=row.kid,
                             alg=row.alg, activates_at=row.activates_at.isoformat())
                activated.append(row.kid)
        if planned.state is KeyState.RETIRED and _mark(db, row, SigningKey.retired_at, now):
            audit.record(db, AuditEventType.KEY_RETIRED, actor=actor, kid=row.kid, alg=row.alg,
                         reason="tokens_expired")
            retired.append(row.kid)
    return Settled(tuple(activated), tuple(retired))


def retire(db: Session, kid: str, *, now: datetime, retention: timedelta, actor: str,
           force: bool = False) -> None:
    """Retire one key now. Never the key that signs; a replaced key whose tokens may still be
    valid only with ``force`` (for a compromised key: those tokens then stop validating)."""
    rows = active_keys(db)
    planned = {k.kid: k for k in key_schedule(rows, now, retention)}
    found = planned.get(kid)
    if found is None:
        known = {r.kid for r in all_keys(db)}
        raise KeyRotationError(f"key {kid} is already retired" if kid in known
                               else f"no signing key {kid}")
    if found.state is KeyState.ACTIVE:
        raise KeyRotationError(f"key {kid} signs {found.alg} tokens now: rotate first, and "
                               "retire it once its successor has activated")
    if found.state is KeyState.PREVIOUS and not force:
        assert found.retire_after is not None
        raise KeyRotationError(f"tokens signed by {kid} may be valid until "
                               f"{found.retire_after.isoformat()}; --force retires it anyway")
    row = next(r for r in rows if r.kid == kid)
    if _mark(db, row, SigningKey.retired_at, now):
        audit.record(db, AuditEventType.KEY_RETIRED, actor=actor, kid=kid, alg=row.alg,
                     reason="forced" if found.state is KeyState.PREVIOUS else "manual",
                     state=found.state.value)


def describe(db: Session, *, now: datetime, retention: timedelta) -> list[tuple[SigningKey, ScheduledKey]]:
    """Every key with its state at ``now`` (retired ones included), for ``idp keys list``."""
    rows = all_keys(db)
    planned = {k.kid: k for k in key_schedule(rows, now, retention)}
    return [(r, planned[r.kid]) for r in rows]


def _mark(db: Session, row: SigningKey, column: object, now: datetime) -> bool:
    """Set a timestamp column once: of two processes settling at the same moment one wins."""
    result = db.execute(update(SigningKey)
                        .where(SigningKey.id == row.id, column.is_(None))  # type: ignore[attr-defined]
                        .values({column: now}))
    db.refresh(row)
    return bool(result.rowcount)  # type: ignore[attr-defined]
