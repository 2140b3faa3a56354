"""Ending a single sign-on session everywhere: OpenID Connect Back-Channel Logout 1.0.

``end_session`` marks the login session ended and, in the same transaction, queues one Logout
Token for every client of the session that registered a ``backchannel_logout_uri``. After the
caller commits, ``deliver`` POSTs the due tokens (``logout_token=...``, short timeout, 200/204
expected); a failure is retried with growing delays by the next ``deliver`` run
(``idp logout deliver``, from cron or a systemd timer), so a receiver that is down loses
nothing. A delivery is given up after ``MAX_ATTEMPTS`` attempts (about two days).

A retried token is signed again with a fresh ``iat``/``exp`` and the same ``jti``: receivers
check ``exp`` (section 2.6), and a token queued yesterday would otherwise arrive expired.

Refresh tokens: a client that registered back-channel logout has said that its sessions follow
ours, so the refresh token families started in the ended session for that client are revoked
with the session. A client without back-channel logout keeps its refresh tokens (offline
access outlives the browser session, OpenID Connect Core 11).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import requests
from joserfc import jwt
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from idp.oidc.keys import KeyRing
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.base import utcnow
from idp.storage.clients import Client
from idp.storage.logout import LogoutDelivery, clients_of_session, due_deliveries
from idp.storage.refresh_tokens import RefreshToken, revoke_family
from idp.storage.sessions import LoginSession, public_sid
from idp.storage.tokens import AuthorizationCode

EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_LIFETIME_S = 120
DELIVERY_TIMEOUT_S = 3.0
MAX_ATTEMPTS = 12
# A delivery being attempted is leased for this long, so that a request and a cron run (or two
# workers) never post the same token at the same time.
LEASE_S = 60


def backoff_s(attempts: int) -> int:
    """Delay before the next attempt after ``attempts`` failures: 30 s, 1 min, 2 min... 6 h."""
    return int(min(30 * 2 ** max(attempts - 1, 0), 6 * 3600))


@dataclass(frozen=True)
class Signer:
    issuer: str
    keyring: KeyRing

    def logout_token(self, client: Client, claims: dict[str, Any]) -> str:
        """Section 2.4: the client's ID token algorithm, ``typ: logout+jwt``, fresh iat/exp."""
        alg = client.id_token_signed_response_alg
        key = self.keyring.key_for(alg)
        now = int(time.time())
        payload = {**claims, "iss": self.issuer, "aud": client.client_id, "iat": now,
                   "exp": now + LOGOUT_TOKEN_LIFETIME_S}
        payload.pop("nonce", None)  # section 2.4: a nonce is prohibited
        header = {"alg": alg, "kid": str(key.kid), "typ": "logout+jwt"}
        return jwt.encode(header, payload, key, algorithms=[alg])


def end_session(db: Session, login: LoginSession, signer: Signer, *, ip: str | None,
                reason: str, client_id: str | None = None) -> list[int]:
    """End ``login`` and queue its logout tokens; returns the queued delivery ids (deliver
    them after commit). Ending an ended session queues nothing."""
    if login.ended_at is not None:
        return []
    login.ended_at = utcnow()
    sid = public_sid(login)
    audit.record(db, AuditEventType.LOGOUT, actor=login.identity.sub,
                 identity_id=login.identity_id, client_id=client_id, ip=ip, reason=reason)
    queued: list[LogoutDelivery] = []
    for client in clients_of_session(db, login.id):
        if not client.backchannel_logout_uri:
            continue
        _revoke_families(db, login, client)
        jti = secrets.token_urlsafe(24)
        claims = {"sub": login.identity.sub, "sid": sid, "jti": jti, "events": {EVENT: {}}}
        delivery = LogoutDelivery(client_pk=client.id, login_session_id=login.id, jti=jti,
                                  token=signer.logout_token(client, claims), attempts=0,
                                  next_attempt_at=utcnow())
        db.add(delivery)
        queued.append(delivery)
    db.flush()
    return [d.id for d in queued]


def end_expired_sessions(db: Session, signer: Signer, limit: int = 500) -> int:
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
        end_session(db, login, signer, ip=None, reason="expired")
        ended += 1
    return ended


def _revoke_families(db: Session, login: LoginSession, client: Client) -> None:
    codes = select(AuthorizationCode.id).where(AuthorizationCode.login_session_id == login.id,
                                               AuthorizationCode.client_pk == client.id)
    families = db.scalars(select(RefreshToken.family_id)
                          .where(RefreshToken.code_id.in_(codes)).distinct()).all()
    for family in families:
        revoke_family(db, family)


Post = Callable[[str, str], int]


def _post(url: str, token: str) -> int:
    response = requests.post(url, data={"logout_token": token}, timeout=DELIVERY_TIMEOUT_S,
                             allow_redirects=False)
    return response.status_code


def deliver(db: Session, signer: Signer, ids: list[int] | None = None, *,
            post: Post = _post) -> tuple[int, int]:
    """Attempt the due deliveries (only ``ids`` when given), committing after each one;
    returns (delivered, failed)."""
    delivered = failed = 0
    for row in due_deliveries(db, ids):
        claimed = db.execute(
            update(LogoutDelivery)
            .where(LogoutDelivery.id == row.id, LogoutDelivery.next_attempt_at == row.next_attempt_at)
            .values(next_attempt_at=utcnow() + timedelta(seconds=LEASE_S))
        )
        db.commit()
        if not claimed.rowcount:  # type: ignore[attr-defined]
            continue  # another process has it
        db.refresh(row)
        if row.attempts:  # a retry: same claims, fresh iat/exp
            row.token = signer.logout_token(row.client, _claims_of(row.token))
        error: str | None
        try:
            status = post(row.client.backchannel_logout_uri or "", row.token)
            error = None if status in (200, 204) else f"HTTP {status}"
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        row.attempts += 1
        if error is None:
            row.delivered_at = utcnow()
            row.next_attempt_at = None
            row.last_error = None
            delivered += 1
            audit.record(db, AuditEventType.LOGOUT_DELIVERED, actor="system",
                         client_id=row.client.client_id, jti=row.jti, attempts=row.attempts)
        else:
            row.last_error = error
            gave_up = row.attempts >= MAX_ATTEMPTS
            row.next_attempt_at = None if gave_up else utcnow() + timedelta(seconds=backoff_s(row.attempts))
            failed += 1
            audit.record(db, AuditEventType.LOGOUT_DELIVERY_FAILED, actor="system",
                         client_id=row.client.client_id, error=error, gave_up=gave_up,
                         jti=row.jti, attempts=row.attempts)
        db.commit()
    return delivered, failed


def _claims_of(token: str) -> dict[str, Any]:
    """The claims of a token we signed ourselves (read back from our own table)."""
    import base64

    payload = token.split(".")[1]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return {k: data[k] for k in ("sub", "sid", "jti", "events") if k in data}
