"""Back-channel delivery of signed tokens to relying parties, one queue for every kind.

Rows of ``logout_deliveries`` are queued in the transaction of the change they report (a
session ended: a logout token; an identity merged or split: a Security Event Token). After the
caller commits, ``deliver`` posts the due ones, each the way its kind requires:

* logout token: ``logout_token=...`` form-posted to ``backchannel_logout_uri``, 200 or 204
  expected (OpenID Connect Back-Channel Logout 1.0, 2.5 and 2.8);
* Security Event Token: the JWT itself as an ``application/secevent+jwt`` body to
  ``event_delivery_uri``, 202 expected (RFC 8935, 2; 200 and 204 are taken as well).

Every post goes through ``idp.oidc.outbound`` (one total deadline, a size limit on the answer, no
redirects, public addresses only unless allowed). In the web server a request hands its
queued ids to the process's ``BackgroundDelivery`` (``idp.oidc.delivery_worker``) and answers
without waiting for any receiver. A failure is retried with growing delays by the next
``deliver`` run (``idp logout deliver``, from cron or a systemd timer), so a receiver that is
down loses nothing; a delivery is given
up after ``MAX_ATTEMPTS`` attempts (about two days). A retried token is signed again with a
fresh ``iat`` (and ``exp`` for logout tokens) and the same ``jti``: receivers check ``exp``,
and a token queued yesterday would otherwise arrive expired.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from joserfc import jwt
from sqlalchemy import update
from sqlalchemy.orm import Session

from idp import request_id as request_ids
from idp.oidc import outbound
from idp.oidc.keys import KeyRing
from idp.oidc.outbound import OutboundError
from idp.settings.model import OutboundSettings
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.base import utcnow
from idp.storage.clients import Client
from idp.storage.logout import DeliveryKind, LogoutDelivery, due_deliveries

LOGOUT_TOKEN_LIFETIME_S = 120
MAX_ATTEMPTS = 12
# A delivery being attempted is leased for this long, so that a request and a cron run (or two
# workers) never post the same token at the same time.
LEASE_S = 60
# Claims set at signing time; everything else is the token's content, kept across retries.
_SIGNING_CLAIMS = ("iss", "aud", "iat", "exp")


def backoff_s(attempts: int) -> int:
    """Delay before the next attempt after ``attempts`` failures: 30 s, 1 min, 2 min... 6 h."""
    return int(min(30 * 2 ** max(attempts - 1, 0), 6 * 3600))


@dataclass(frozen=True)
class Signer:
    """Signs back-channel tokens with the provider's keys, in the client's ID token algorithm
    (the one its JWKS validation already expects)."""

    issuer: str
    keyring: KeyRing

    def logout_token(self, client: Client, claims: dict[str, Any]) -> str:
        """Back-Channel Logout 2.4: ``typ: logout+jwt``, fresh iat/exp, never a nonce."""
        now = int(time.time())
        payload = {**claims, "exp": now + LOGOUT_TOKEN_LIFETIME_S}
        payload.pop("nonce", None)
        return self._sign(client, payload, "logout+jwt", now)

    def security_event_token(self, client: Client, claims: dict[str, Any]) -> str:
        """RFC 8417 2.3: ``typ: secevent+jwt``; iss, aud and iat set here, no ``exp``."""
        return self._sign(client, dict(claims), "secevent+jwt", int(time.time()))

    def sign(self, kind: DeliveryKind, client: Client, claims: dict[str, Any]) -> str:
        if kind is DeliveryKind.SECURITY_EVENT:
            return self.security_event_token(client, claims)
        return self.logout_token(client, claims)

    def _sign(self, client: Client, claims: dict[str, Any], typ: str, now: int) -> str:
        alg = client.id_token_signed_response_alg
        key = self.keyring.key_for(alg)
        payload = {**claims, "iss": self.issuer, "aud": client.client_id, "iat": now}
        header = {"alg": alg, "kid": str(key.kid), "typ": typ}
        return jwt.encode(header, payload, key, algorithms=[alg])


# (url, token, limits) -> HTTP status; raises OutboundError when nothing usable answered.
Post = Callable[[str, str, OutboundSettings], int]


def post_logout_token(url: str, token: str, limits: OutboundSettings) -> int:
    body = urlencode({"logout_token": token}).encode("ascii")
    return outbound.call("POST", url, limits, body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded"}).status


def push_security_event(url: str, token: str, limits: OutboundSettings) -> int:
    """RFC 8935 2: the SET is the whole body."""
    return outbound.call("POST", url, limits, body=token.encode("ascii"), headers={
        "Content-Type": "application/secevent+jwt", "Accept": "application/json"}).status


@dataclass(frozen=True)
class Route:
    """Where and how one kind of token goes, and which audit events report the outcome."""

    uri: Callable[[Client], str | None]
    post: Post
    accepted: frozenset[int]
    delivered: AuditEventType
    failed: AuditEventType


ROUTES: Mapping[DeliveryKind, Route] = {
    DeliveryKind.LOGOUT: Route(lambda c: c.backchannel_logout_uri, post_logout_token,
                               frozenset({200, 204}), AuditEventType.LOGOUT_DELIVERED,
                               AuditEventType.LOGOUT_DELIVERY_FAILED),
    DeliveryKind.SECURITY_EVENT: Route(lambda c: c.event_delivery_uri, push_security_event,
                                       frozenset({200, 202, 204}),
                                       AuditEventType.SECURITY_EVENT_DELIVERED,
                                       AuditEventType.SECURITY_EVENT_DELIVERY_FAILED),
}


def queue(db: Session, signer: Signer, kind: DeliveryKind, client: Client, claims: dict[str, Any],
          *, login_session_id: int | None = None) -> LogoutDelivery:
    """Add one signed token for ``client`` to the queue (in the caller's transaction); due now.
    ``claims`` carry a ``jti``."""
    delivery = LogoutDelivery(client_pk=client.id, login_session_id=login_session_id,
                              kind=kind.value, jti=claims["jti"],
                              token=signer.sign(kind, client, claims), attempts=0,
                              next_attempt_at=utcnow())
    db.add(delivery)
    return delivery


def deliver(db: Session, signer: Signer, ids: list[int] | None = None, *,
            limits: OutboundSettings | None = None,
            posts: Mapping[DeliveryKind, Post] | None = None) -> tuple[int, int]:
    """Attempt the due deliveries (only ``ids`` when given), each under ``limits`` (the
    default ``[outbound]`` limits when None) and committed on its own; returns (delivered,
    failed). No transaction is open while a receiver answers. Each attempt runs under the id
    of the request that queued it (``idp.request_id``; the current one, or a new one, for a row
    queued before rows kept it), so its audit event carries that id. ``posts`` replaces the
    HTTP posting of a kind (tests)."""
    limits = limits or OutboundSettings()
    delivered = failed = 0
    due = due_deliveries(db, ids)
    db.commit()
    for row in due:
        with request_ids.bound(row.request_id or request_ids.current()):
            outcome = _deliver_row(db, signer, row, limits, posts or {})
        if outcome is not None:
            delivered, failed = (delivered + 1, failed) if outcome else (delivered, failed + 1)
    return delivered, failed


def _deliver_row(db: Session, signer: Signer, row: LogoutDelivery, limits: OutboundSettings,
                 posts: Mapping[DeliveryKind, Post]) -> bool | None:
    """One attempt, its result written and committed: True delivered, False failed, None when
    another process has the row."""
    claimed = _claim(db, signer, row)
    if claimed is None:
        return None
    route, url = claimed
    post = posts.get(DeliveryKind(row.kind), route.post)
    error = _attempt(post, url, row.token, limits, route)
    row.attempts += 1
    if error is None:
        row.delivered_at = utcnow()
        row.next_attempt_at = None
        row.last_error = None
        audit.record(db, route.delivered, actor="system",
                     client_id=row.client.client_id, jti=row.jti, attempts=row.attempts)
    else:
        row.last_error = error
        gave_up = row.attempts >= MAX_ATTEMPTS
        row.next_attempt_at = None if gave_up else utcnow() + timedelta(seconds=backoff_s(row.attempts))
        audit.record(db, route.failed, actor="system", client_id=row.client.client_id,
                     error=error, gave_up=gave_up, jti=row.jti, attempts=row.attempts)
    db.commit()
    return error is None


def _claim(db: Session, signer: Signer, row: LogoutDelivery) -> tuple[Route, str | None] | None:
    """Lease the row for one attempt (re-signed when it is a retry) and commit, so that the
    attempt itself runs outside any transaction; None when another process has it."""
    claimed = db.execute(
        update(LogoutDelivery)
        .where(LogoutDelivery.id == row.id, LogoutDelivery.next_attempt_at == row.next_attempt_at)
        .values(next_attempt_at=utcnow() + timedelta(seconds=LEASE_S))
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        db.commit()
        return None
    db.refresh(row)
    kind = DeliveryKind(row.kind)
    route = ROUTES[kind]
    if row.attempts:  # a retry: same claims, fresh iat (and exp)
        row.token = signer.sign(kind, row.client, _claims_of(row.token))
    url = route.uri(row.client)
    db.commit()
    return route, url


def _attempt(post: Post, url: str | None, token: str, limits: OutboundSettings,
             route: Route) -> str | None:
    """One POST; None when the receiver accepted it, else what went wrong (for the row and
    the audit trail, never for the client)."""
    if not url:
        return "the client no longer has a URI for this kind of token"
    try:
        status = post(url, token, limits)
    except OutboundError as exc:
        return exc.detail[:500]
    return None if status in route.accepted else f"HTTP {status}"


def _claims_of(token: str) -> dict[str, Any]:
    """The content claims of a token we signed ourselves (read back from our own table)."""
    payload = token.split(".")[1]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return {k: v for k, v in data.items() if k not in _SIGNING_CLAIMS}
