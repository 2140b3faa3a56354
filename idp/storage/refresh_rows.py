"""Spending a refresh token in one statement: an UPDATE that marks a live token of the presenting
client rotated and returns, as a frozen row, all that its rotation reads (the family, the scope,
the expiry, the person's ``sub``), with no ORM object built.

The UPDATE is the check: only a token that is not rotated, not revoked and not expired, and is
the client's own, is changed, so two requests racing with one token cannot both spend it (the
loser's UPDATE matches nothing once the winner commits). When nothing matches, the caller reads
the token (``refresh_tokens.find_refresh_token``) to say why: unknown, spent (a reuse, RFC 9700
section 4.14.2), revoked, expired or another client's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import cast

from sqlalchemy import Connection, Table, Update, bindparam, select, update

from idp.storage.base import UtcDateTime, utcnow
from idp.storage.clients import Client
from idp.storage.driver import DriverConnection
from idp.storage.identities import Identity
from idp.storage.refresh_tokens import RefreshToken
from idp.storage.tokens import digest

MAX_TOKEN_LENGTH = 512


@dataclass(frozen=True)
class RefreshPerson:
    """The token's person as the token generator and storage read it (Authlib's user)."""

    id: int
    sub: str

    def get_user_id(self) -> str:
        return self.sub


@dataclass(frozen=True)
class SpentRefreshToken:
    """A refresh token just spent, as its child's storage (``idp.oidc.tokens.store_issued``)
    and Authlib's refresh grant read it."""

    id: int
    family_id: str
    client_pk: int
    code_id: int | None
    scope: str
    auth_time: int | None
    expires_at: datetime
    identity: RefreshPerson

    def check_client(self, client: Client) -> bool:
        return self.client_pk == client.id

    def get_scope(self) -> str:
        return self.scope


def spend_refresh_token(connection: Connection | DriverConnection, token: str,
                        client: Client) -> SpentRefreshToken | None:
    """Mark ``token`` rotated when it is live and ``client``'s; None when it is not (or unknown).
    ``connection``: in the caller's transaction (a session's, or one of its own)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    row = connection.execute(_spend(), {
        "presented_hash": digest(token), "presenter_pk": client.id, "now": utcnow()}).fetchone()
    if row is None:
        return None
    id_, family_id, client_pk, identity_id, code_id, scope, auth_time, expires_at, sub = row
    return SpentRefreshToken(id_, family_id, client_pk, code_id, scope, auth_time, expires_at,
                             RefreshPerson(identity_id, sub))


@cache
def _spend() -> Update:
    """Built once: every refresh runs it. Its RETURNING in ``spend_refresh_token``'s order."""
    table = cast(Table, RefreshToken.__table__)
    identity = cast(Table, Identity.__table__)
    now = bindparam("now", type_=UtcDateTime())
    sub = (select(identity.c.sub).where(identity.c.id == table.c.identity_id)
           .scalar_subquery().label("sub"))
    return (update(table)
            .where(table.c.token_hash == bindparam("presented_hash"),
                   table.c.client_pk == bindparam("presenter_pk"),
                   table.c.rotated_at.is_(None), table.c.revoked_at.is_(None),
                   table.c.expires_at > now, table.c.idle_expires_at > now)
            .values(rotated_at=now)
            .returning(table.c.id, table.c.family_id, table.c.client_pk, table.c.identity_id,
                       table.c.code_id, table.c.scope, table.c.auth_time, table.c.expires_at, sub))
