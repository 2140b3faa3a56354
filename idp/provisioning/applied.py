"""Which access settings the grants were last computed under: a stable SHA-256 of the
resources and policies, kept in ``policy_fingerprints`` under the name ``access``, so that
``idp serve`` recomputes every grant at start only when they changed (``idp access
recompute`` records it too).

The fingerprint is recorded only after a recompute that ended everything it meant to: one
that the safety brake stopped is tried again at the next start, and loudly logged each time,
until ``idp access recompute --accept-removals`` or a configuration it no longer stops.
Two instances starting at once on PostgreSQL take turns (an advisory lock held by a session
of its own while the first recomputes, so the second finds the new fingerprint and does
nothing); on SQLite one host serves.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from datetime import date
from enum import Enum
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from idp.provisioning.bulk import RecomputeResult, recompute_all
from idp.settings.model import AccessSettings, Settings
from idp.storage.base import utcnow
from idp.storage.provisioning import AccessGrant, GrantState, PolicyFingerprint

NAME = "access"
RECOMPUTE_LOCK = 0x43_49_44_41  # an advisory lock key of its own ("CIDA")
log = logging.getLogger(__name__)


def fingerprint(access: AccessSettings) -> str:
    """The same for the same resources and policies, whatever order the file gave them in."""
    document = {"resources": _plain(dict(access.resources)), "policies": _plain(dict(access.policies))}
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    return value


def applied(db: Session) -> str | None:
    row = db.get(PolicyFingerprint, NAME)
    return row.fingerprint if row is not None else None


def record(db: Session, value: str) -> None:
    """The caller commits."""
    row = db.get(PolicyFingerprint, NAME)
    if row is None:
        db.add(PolicyFingerprint(name=NAME, fingerprint=value, updated_at=utcnow()))
    else:
        row.fingerprint, row.updated_at = value, utcnow()


def recompute_and_record(sessions: Callable[[], Session], settings: Settings, *,
                         accept_removals: bool, actor: str, reason: str) -> RecomputeResult:
    """Every grant recomputed; the fingerprint recorded unless the brake stopped something."""
    current = fingerprint(settings.access)
    result = recompute_all(sessions, settings, accept_removals=accept_removals, actor=actor,
                           reason=reason)
    if not result.stopped:
        with sessions() as db:
            record(db, current)
            db.commit()
    return result


def recompute_if_changed(sessions: Callable[[], Session], settings: Settings) -> RecomputeResult | None:
    """At start: None when the settings are those last applied (or there is nothing to do);
    otherwise the result of recomputing every grant, each organization the brake stopped
    logged as an error (serving goes on)."""
    with sessions() as guard:
        if guard.get_bind().dialect.name == "postgresql":
            guard.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": RECOMPUTE_LOCK})
        result = _recompute_if_changed(sessions, settings)
        guard.rollback()  # releases the lock
    return result


def _recompute_if_changed(sessions: Callable[[], Session], settings: Settings,
                          ) -> RecomputeResult | None:
    current = fingerprint(settings.access)
    with sessions() as db:
        if applied(db) == current:
            return None
        if not settings.access.policies and not _any_holding(db):
            record(db, current)  # nothing granted, nothing to grant: no pass over everyone
            db.commit()
            return None
    result = recompute_and_record(sessions, settings, accept_removals=False, actor="system",
                                  reason="access settings changed")
    for organization, why in sorted(result.stopped.items()):
        log.error("ACCESS NOT APPLIED for %s: the safety brake stopped the recompute of the "
                  "changed access settings: %s", organization, why)
    log.info("access settings changed: grants recomputed: %s", result.as_json())
    return result


def _any_holding(db: Session) -> bool:
    return db.scalars(select(AccessGrant.id).where(
        AccessGrant.state != GrantState.ENDED.value).limit(1)).first() is not None
