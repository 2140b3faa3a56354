"""Initial access tokens seen from the admin UI: an organization's tokens, and revoking one
(audited). Creating one is ``idp.oidc.registration.issue_initial_access_token``, as for the CLI."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.admin.clients import Actor
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.base import utcnow
from idp.storage.registration_tokens import InitialAccessToken

MAX_LISTED = 200


def tokens_of(db: Session, organizations: Collection[str]) -> list[InitialAccessToken]:
    """Newest first."""
    stmt = (select(InitialAccessToken)
            .where(InitialAccessToken.organization.in_(list(organizations)))
            .order_by(InitialAccessToken.id.desc()).limit(MAX_LISTED))
    return list(db.scalars(stmt))


def find_token(db: Session, token_id: int) -> InitialAccessToken | None:
    return db.get(InitialAccessToken, token_id)


def revoke_token(db: Session, token: InitialAccessToken, actor: Actor) -> None:
    if token.revoked_at is not None:
        return
    token.revoked_at = utcnow()
    audit.record(db, AuditEventType.REGISTRATION_TOKEN_REVOKED, actor=actor.label, ip=actor.ip,
                 organization=token.organization, token_id=token.id)
