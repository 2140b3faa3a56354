"""The back-channel deliveries that are due, in one call: logout tokens for sessions that
expired since the last run, and retries of logout tokens and Security Event Tokens that failed
(``idp logout deliver``, and the delivery worker every ``INTERVAL_S``, so a session ended by a
directory sync reaches its relying parties without a cron job of its own)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from idp.oidc.key_rotation import retention
from idp.oidc.keys import load_keyring
from idp.oidc.logout import Signer, deliver, end_expired_sessions
from idp.settings.model import Settings

INTERVAL_S = 30.0


def deliver_due(db: Session, settings: Settings) -> tuple[int, int, int]:
    """Sessions ended, tokens delivered, deliveries failed. Ends the expired sessions in a
    transaction committed before any delivery is attempted."""
    keyring = load_keyring(db, settings.server.secret_key, retention=retention(settings))
    signer = Signer(settings.server.issuer, keyring)
    ended = end_expired_sessions(db, signer, secret_key=settings.server.secret_key)
    db.commit()
    delivered, failed = deliver(db, signer, limits=settings.outbound)
    return ended, delivered, failed
