"""Stored access tokens as the endpoints that only read them see them: one Core statement and
frozen rows, with no ORM object built, tracked or expired (building the token, the identity
and its accounts as ORM objects cost several times the statement, bench/profile.py
``userinfo``).

``find_person_token``: a token with its person, their accounts and the primary account they
chose, all that UserInfo's claims read (``idp.identity.claims``), as ``AccessToken`` with
``Identity.accounts`` and ``Identity.primary_choice`` would give them. ``find_stored_token``:
a token with its person's ``sub``, all that introspection (RFC 7662) reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Connection, Select, Table, bindparam, select

from idp.storage.base import utcnow
from idp.storage.identities import Identity, LinkedAccount, PrimaryAccount
from idp.storage.tokens import AccessToken, TokenState, digest

MAX_TOKEN_LENGTH = 4096


@dataclass(frozen=True)
class AccountRow:
    """What claims read of a ``LinkedAccount``."""

    id: int
    organization: str
    username: str
    attributes: dict[str, Any]
    linked_at: datetime


@dataclass(frozen=True)
class ChosenAccount:
    """A ``PrimaryAccount``: the account the person chose."""

    account_id: int


@dataclass(frozen=True)
class PersonRow:
    """What claims read of an ``Identity``; its accounts in the relationship's order (by id)."""

    id: int
    sub: str
    campus_id: str
    accounts: tuple[AccountRow, ...]
    primary_choice: ChosenAccount | None


@dataclass(frozen=True)
class PersonToken:
    """An ``AccessToken`` with its person (None for a service's token)."""

    client_pk: int
    scope: str
    expires_at: datetime
    revoked_at: datetime | None
    identity: PersonRow | None

    def is_active(self) -> bool:
        return self.revoked_at is None and utcnow() < self.expires_at


def find_person_token(db: Connection, token: str) -> PersonToken | None:
    """The stored token ``token`` with its person, or None."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    rows = db.execute(_person_token(), {"token_hash": digest(token)}).all()
    if not rows:
        return None
    first = rows[0]
    person = None
    if first.identity_id is not None:
        accounts = tuple(AccountRow(r.account_id, r.organization, r.username, r.attributes or {},
                                    r.linked_at)
                         for r in rows if r.account_id is not None)
        chosen = ChosenAccount(first.chosen_id) if first.chosen_id is not None else None
        person = PersonRow(first.identity_id, first.sub, first.campus_id, accounts, chosen)
    return PersonToken(first.client_pk, first.scope, first.expires_at, first.revoked_at, person)


@cache
def _person_token() -> Select[Any]:
    """Built once: every UserInfo request runs it. One row per account (one row without an
    account for a service's token)."""
    token = cast(Table, AccessToken.__table__)
    identity = cast(Table, Identity.__table__)
    account = cast(Table, LinkedAccount.__table__)
    chosen = cast(Table, PrimaryAccount.__table__)
    return (
        select(token.c.client_pk, token.c.scope, token.c.expires_at, token.c.revoked_at,
               token.c.identity_id, identity.c.sub, identity.c.campus_id,
               account.c.id.label("account_id"), account.c.organization, account.c.username,
               account.c.attributes, account.c.linked_at, chosen.c.account_id.label("chosen_id"))
        .select_from(token
                     .outerjoin(identity, identity.c.id == token.c.identity_id)
                     .outerjoin(account, account.c.identity_id == identity.c.id)
                     .outerjoin(chosen, chosen.c.identity_id == identity.c.id))
        .where(token.c.token_hash == bindparam("token_hash"))
        .order_by(account.c.id)
    )


@dataclass(frozen=True)
class SubjectRow:
    """The public ``sub`` of a token's person."""

    sub: str


@dataclass(frozen=True)
class StoredToken(TokenState):
    """An ``AccessToken`` as introspection reads it; Authlib's TokenMixin as ``AccessToken``
    implements it."""

    client_pk: int
    scope: str
    issued_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    jti: str | None
    identity: SubjectRow | None


def find_stored_token(db: Connection, token: str) -> StoredToken | None:
    """The stored token ``token`` with its person's ``sub``, or None."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    row = db.execute(_stored_token(), {"token_hash": digest(token)}).first()
    if row is None:
        return None
    person = SubjectRow(row.sub) if row.sub is not None else None
    return StoredToken(row.client_pk, row.scope, row.issued_at, row.expires_at, row.revoked_at,
                       row.jti, person)


@cache
def _stored_token() -> Select[Any]:
    """Built once: every introspection of a stored token runs it."""
    token = cast(Table, AccessToken.__table__)
    identity = cast(Table, Identity.__table__)
    return (
        select(token.c.client_pk, token.c.scope, token.c.issued_at, token.c.expires_at,
               token.c.revoked_at, token.c.jti, identity.c.sub)
        .select_from(token.outerjoin(identity, identity.c.id == token.c.identity_id))
        .where(token.c.token_hash == bindparam("token_hash"))
    )
