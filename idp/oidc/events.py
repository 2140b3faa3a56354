"""Security Event Tokens (RFC 8417) telling relying parties that an identity changed its ``sub``.

A merge retires the absorbed identity's ``sub`` (an alias of the survivor from then on); an
unlink moves an account to a new identity with a new ``sub``. Relying parties that registered
an ``event_delivery_uri`` and know either identity (a consent, a login session, an
authorization code, an access or refresh token) get one SET each, queued in the transaction
of the change and delivered like logout tokens (``idp.oidc.backchannel``). Event types are
URNs of ours (no fake domain); the payload names subjects only, never a person's attributes,
each as the client knows it (its pairwise value for a pairwise client, ``subject_for``):

* ``urn:campus-id:event:identity-merged``: ``{"sub": survivor, "previous_sub": absorbed}``;
* ``urn:campus-id:event:account-unlinked``: ``{"sub": the identity that stays,
  "new_sub": the new identity, "organization": the moved account's organization}``.

Top-level claims: iss, aud (the client_id), iat, jti, ``txn`` (the same in every SET of one
change, RFC 8417 2.2), ``toe`` (when the change happened) and ``events``; no ``exp``, no
top-level ``sub``, ``typ: secevent+jwt``, signed in the client's ID token algorithm.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Collection
from enum import StrEnum
from typing import Any

from sqlalchemy import select, union
from sqlalchemy.orm import Session

from idp.identity.subjects import subject_for
from idp.oidc.backchannel import Signer, queue
from idp.storage.clients import Client
from idp.storage.grants import Consent
from idp.storage.identities import Identity, find_identity_by_sub
from idp.storage.logout import DeliveryKind, LoginSessionClient
from idp.storage.refresh_tokens import RefreshToken
from idp.storage.sessions import LoginSession
from idp.storage.tokens import AccessToken, AuthorizationCode


class IdentityEvent(StrEnum):
    MERGED = "urn:campus-id:event:identity-merged"
    ACCOUNT_UNLINKED = "urn:campus-id:event:account-unlinked"


def queue_merge(db: Session, signer: Signer, survivor: Identity, absorbed_sub: str, *,
                secret_key: str) -> list[int]:
    """After a merge (everything of the absorbed identity now names the survivor)."""
    absorbed = find_identity_by_sub(db, absorbed_sub)
    assert absorbed is not None  # a merged identity stays, marked merged

    def payload(client: Client) -> dict[str, Any]:
        return {"sub": subject_for(client, survivor, secret_key),
                "previous_sub": subject_for(client, absorbed, secret_key)}

    return _queue(db, signer, IdentityEvent.MERGED, payload, [survivor.id])


def queue_unlink(db: Session, signer: Signer, identity: Identity, created: Identity,
                 organization: str, *, secret_key: str) -> list[int]:
    """After an unlink: relying parties of either identity hear of both subs."""

    def payload(client: Client) -> dict[str, Any]:
        return {"sub": subject_for(client, identity, secret_key),
                "new_sub": subject_for(client, created, secret_key), "organization": organization}

    return _queue(db, signer, IdentityEvent.ACCOUNT_UNLINKED, payload, [identity.id, created.id])


def receivers(db: Session, identity_ids: Collection[int]) -> list[Client]:
    """Clients with an ``event_delivery_uri`` that have met any of these identities."""
    ids = list(identity_ids)
    met = union(
        select(Consent.client_pk).where(Consent.identity_id.in_(ids)),
        select(AuthorizationCode.client_pk).where(AuthorizationCode.identity_id.in_(ids)),
        select(AccessToken.client_pk).where(AccessToken.identity_id.in_(ids)),
        select(RefreshToken.client_pk).where(RefreshToken.identity_id.in_(ids)),
        select(LoginSessionClient.client_pk)
        .join(LoginSession, LoginSession.id == LoginSessionClient.login_session_id)
        .where(LoginSession.identity_id.in_(ids)),
    ).subquery()
    stmt = select(Client).where(Client.id.in_(select(met.c[0])),
                                Client.event_delivery_uri.is_not(None),
                                Client.deleted_at.is_(None))
    return list(db.scalars(stmt.order_by(Client.id)))


def _queue(db: Session, signer: Signer, event: IdentityEvent,
           payload: Callable[[Client], dict[str, Any]], identity_ids: list[int]) -> list[int]:
    db.flush()
    txn = secrets.token_urlsafe(16)
    toe = int(time.time())
    queued = [queue(db, signer, DeliveryKind.SECURITY_EVENT, client,
                    {"jti": secrets.token_urlsafe(24), "txn": txn, "toe": toe,
                     "events": {event.value: payload(client)}})
              for client in receivers(db, identity_ids)]
    db.flush()
    return [d.id for d in queued]
