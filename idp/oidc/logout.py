"""Ending a single sign-on session everywhere: OpenID Connect Back-Channel Logout 1.0.

``end_session`` marks the login session ended and, in the same transaction, queues one Logout
Token for every client of the session that registered a ``backchannel_logout_uri``. After the
caller commits, ``deliver`` (``idp.oidc.backchannel``, the queue shared with Security Event
Tokens) POSTs the due tokens and retries failures later (``idp logout deliver``), so a
receiver that is down loses nothing.

Refresh tokens: a client that registered back-channel logout has said that its sessions follow
ours, so the refresh token families started in the ended session for that client are revoked
with the session. A client without back-channel logout keeps its refresh tokens (offline
access outlives the browser session, OpenID Connect Core 11).
"""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.identity.subjects import subject_for
from idp.oidc.backchannel import (
    LOGOUT_TOKEN_LIFETIME_S,
    MAX_ATTEMPTS,
    Signer,
    backoff_s,
    deliver,
    queue,
)
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.base import utcnow
from idp.storage.clients import Client
from idp.storage.logout import DeliveryKind, clients_of_session
from idp.storage.refresh_tokens import RefreshToken, revoke_family
from idp.storage.sessions import LoginSession, public_sid
from idp.storage.tokens import AuthorizationCode

# Re-exported: the web layer and the CLI reach the shared delivery through this module.
__all__ = ["EVENT", "LOGOUT_TOKEN_LIFETIME_S", "MAX_ATTEMPTS", "Signer", "backoff_s", "deliver",
           "end_expired_sessions", "end_session"]

EVENT = "http://schemas.openid.net/event/backchannel-logout"


def end_session(db: Session, login: LoginSession, signer: Signer, *, ip: str | None,
                reason: str, secret_key: str, client_id: str | None = None) -> list[int]:
    """End ``login`` and queue its logout tokens; returns the queued delivery ids (deliver
    them after commit). Ending an ended session queues nothing. Each token's ``sub`` is the
    one its client knows (public or pairwise, derived under ``secret_key``)."""
    if login.ended_at is not None:
        return []
    login.ended_at = utcnow()
    sid = public_sid(login)
    audit.record(db, AuditEventType.LOGOUT, actor=login.identity.sub,
                 identity_id=login.identity_id, client_id=client_id, ip=ip, reason=reason)
    queued = []
    for client in clients_of_session(db, login.id):
        if not client.backchannel_logout_uri:
            continue
        _revoke_families(db, login, client)
        claims = {"sub": subject_for(client, login.identity, secret_key), "sid": sid,
                  "jti": secrets.token_urlsafe(24), "events": {EVENT: {}}}
        queued.append(queue(db, signer, DeliveryKind.LOGOUT, client, claims,
                            login_session_id=login.id))
    db.flush()
    return [d.id for d in queued]


def end_expired_sessions(db: Session, signer: Signer, *, secret_key: str, limit: int = 500) -> int:
    """Sessions that expired without a logout, and had a back-channel client, are ended now
    (lazily, by ``idp logout deliver``), so their relying parties hear of it too."""
    from idp.storage.logout import LoginSessionClient

    with_receivers = (select(LoginSessionClient.login_session_id)
                      .join(Client, Client.id == LoginSessionClient.client_pk)
                      .where(Client.backchannel_logout_uri.is_not(None)))
    stmt = (select(LoginSession)
            .where(LoginSession.ended_at.is_(None), LoginSession.expires_at <= utcnow(),
                   LoginSession.id.in_(with_receivers))
            .limit(limit))
    ended = 0
    for login in db.scalars(stmt).unique().all():
        end_session(db, login, signer, ip=None, reason="expired", secret_key=secret_key)
        ended += 1
    return ended


def _revoke_families(db: Session, login: LoginSession, client: Client) -> None:
    codes = select(AuthorizationCode.id).where(AuthorizationCode.login_session_id == login.id,
                                               AuthorizationCode.client_pk == client.id)
    families = db.scalars(select(RefreshToken.family_id)
                          .where(RefreshToken.code_id.in_(codes)).distinct()).all()
    for family in families:
        revoke_family(db, family)
