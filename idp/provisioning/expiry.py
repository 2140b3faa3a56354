"""Time passing, as a periodic task of the worker: grants whose grace has run out end (and
their revokes are queued), and once per UTC day every identity is recomputed so that
policy windows (``valid_from``, ``valid_until``) take effect without anyone logging in.

Safe with several workers: the grants ending are locked ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL (a grant is ended by one worker), and the day's recompute is claimed by writing
the day into a ``policy_fingerprints`` row named ``daily_recompute`` (the first worker of
the day runs it; the others see the day already written).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.provisioning.bulk import recompute_all
from idp.provisioning.grants import recompute
from idp.settings.model import Settings
from idp.storage.base import utcnow
from idp.storage.identities import Identity
from idp.storage.provisioning import AccessGrant, GrantState, PolicyFingerprint

log = logging.getLogger(__name__)
INTERVAL_S = 300.0
BATCH = 500
DAILY_MARK = "daily_recompute"


def end_grace(sessions: Callable[[], Session], settings: Settings, *,
              now: datetime | None = None) -> int:
    """End every grant whose grace ran out by ``now``; the number of grants ended."""
    now = now or utcnow()
    ended, after = 0, 0
    while True:
        with sessions() as db:
            rows = db.execute(select(AccessGrant.id, AccessGrant.identity_id).where(
                AccessGrant.state == GrantState.GRACE.value, AccessGrant.until <= now,
                AccessGrant.id > after,
            ).order_by(AccessGrant.id).limit(BATCH).with_for_update(skip_locked=True)).all()
            if not rows:
                db.commit()
                return ended
            identities = list(db.scalars(select(Identity).where(
                Identity.id.in_({r.identity_id for r in rows}))))
            recompute(db, settings, identities, actor="system", reason="grace ended", now=now)
            db.commit()
        ended += len(rows)
        after = rows[-1].id


def claim_day(sessions: Callable[[], Session], now: datetime) -> bool:
    """Whether this worker is the first to claim today's recompute (and now has)."""
    today = now.date().isoformat()
    with sessions() as db:
        mark = db.scalars(select(PolicyFingerprint).where(PolicyFingerprint.name == DAILY_MARK)
                          .with_for_update()).first()
        if mark is not None and mark.fingerprint == today:
            db.rollback()
            return False
        if mark is None:
            db.add(PolicyFingerprint(name=DAILY_MARK, fingerprint=today, updated_at=now))
        else:
            mark.fingerprint, mark.updated_at = today, now
        try:
            db.commit()
        except IntegrityError:  # another worker inserted the row first
            db.rollback()
            return False
    return True


def task(sessions: Callable[[], Session], settings: Settings) -> Callable[[], None]:
    """The worker's periodic task: grace first, then the day's recompute when still due."""
    def run() -> None:
        now = utcnow()
        ended = end_grace(sessions, settings, now=now)
        if ended:
            log.info("ended %d grant(s) whose grace had run out", ended)
        if claim_day(sessions, now):
            result = recompute_all(sessions, settings, reason="daily recompute", now=now)
            log.info("daily recompute: %s", result.as_json())
    return run
