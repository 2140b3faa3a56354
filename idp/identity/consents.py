"""Revoking a consent from "My Campus ID": the remembered decision goes, and with it
everything the relying party holds for this identity.

In one transaction: the consent row is deleted (the next authorization request asks again),
every refresh token family of the client for the identity is revoked (the next refresh is
``invalid_grant``), its access tokens are revoked (introspection says inactive, UserInfo
refuses them) and its codes not yet redeemed are spent. One audit event says what went.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.base import utcnow
from idp.storage.clients import Client
from idp.storage.grants import Consent
from idp.storage.refresh_tokens import RefreshToken, revoke_family
from idp.storage.tokens import AccessToken, AuthorizationCode


@dataclass(frozen=True)
class Revoked:
    client_id: str
    refresh_tokens: int
    access_tokens: int


def revoke_consent(db: Session, consent: Consent, *, actor: str, ip: str | None) -> Revoked:
    identity_id, client_pk = consent.identity_id, consent.client_pk
    client = db.get_one(Client, client_pk)
    families = db.scalars(select(RefreshToken.family_id).where(
        RefreshToken.identity_id == identity_id, RefreshToken.client_pk == client_pk).distinct()).all()
    refresh = access = 0
    for family in families:
        r, a = revoke_family(db, family)
        refresh, access = refresh + r, access + a
    now = utcnow()
    result = db.execute(update(AccessToken).where(
        AccessToken.identity_id == identity_id, AccessToken.client_pk == client_pk,
        AccessToken.revoked_at.is_(None)).values(revoked_at=now))
    access += int(result.rowcount)  # type: ignore[attr-defined]
    db.execute(update(AuthorizationCode).where(
        AuthorizationCode.identity_id == identity_id, AuthorizationCode.client_pk == client_pk,
        AuthorizationCode.used_at.is_(None)).values(used_at=now))
    audit.record(db, AuditEventType.CONSENT_REVOKED, actor=actor, identity_id=identity_id,
                 client_id=client.client_id, ip=ip, scope=consent.scope,
                 refresh_tokens=refresh, access_tokens=access)
    db.delete(consent)
    db.flush()
    return Revoked(client.client_id, refresh, access)
