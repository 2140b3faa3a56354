"""UserInfo's answer to a bearer token (OpenID Connect Core 5.3), shared by the view
(``idp.web.oidc.userinfo``) and its fast lane (``idp.web.lanes``).

Opaque and JWT access tokens are both looked up by digest, so a revoked one of either kind is
refused, and so is one issued by the client credentials grant (no person).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from idp.identity.release import released_claims
from idp.storage.token_rows import find_person_token

if TYPE_CHECKING:
    from idp.context import Services


@dataclass(frozen=True)
class Refused:
    """RFC 6750 3.1: the status and the ``error`` of the ``WWW-Authenticate`` challenge."""

    status: int
    error: str


def claims(services: Services, connection: Connection, session: Callable[[], Session],
           token: str) -> dict[str, Any] | Refused:
    """The claims the token's client receives, or why not. ``connection``: where the token
    row is read; ``session``: a session's maker, called only when a client or its release
    policy is not remembered."""
    found = find_person_token(connection, token)
    if found is None or not found.is_active() or found.identity is None:
        return Refused(401, "invalid_token")
    client = services.clients.by_pk(session, found.client_pk)
    if client is None:  # deleted (which revokes its tokens anyway)
        return Refused(401, "invalid_token")
    scopes = found.scope.split()
    if "openid" not in scopes:
        return Refused(403, "insufficient_scope")
    return released_claims(services.settings, client, found.identity, scopes,
                           services.release_policies.get(session, client.id), connection)
