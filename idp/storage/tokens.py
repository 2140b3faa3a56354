"""Authorization codes and access tokens, stored only as SHA-256 digests of their values.

A code is marked used rather than deleted, so that a second use can be recognised and the
tokens issued from the first use revoked (RFC 6749 section 4.1.2). A JWT access token
(RFC 9068) is stored like an opaque one, by the digest of its whole value, and keeps its
``jti``: revoking it works the same way. The exception, a self-contained JWT of the client
credentials grant (``idp.oidc.access_tokens``), gets a row only when it is revoked
(``record_revoked_token``).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    ForeignKey,
    Index,
    Insert,
    Integer,
    Select,
    String,
    Table,
    Text,
    Update,
    bindparam,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, joinedload, lazyload, mapped_column, relationship
from sqlalchemy.orm.attributes import set_committed_value

from idp.storage import on_driver
from idp.storage.base import Base, UtcDateTime, utcnow
from idp.storage.clients import Client
from idp.storage.identities import Identity
from idp.storage.logout import remember_client, remember_client_cte
from idp.storage.sessions import LoginSession


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


class CodeAnswers:
    """What Authlib's AuthorizationCodeMixin (OIDC flavour) asks of a code, from its fields:
    the ORM row's and the claimed row's (``idp.storage.code_rows``)."""

    redirect_uri: str
    scope: str
    nonce: str | None
    auth_time: int

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> str | None:
        return None

    def get_amr(self) -> list[str]:
        return ["pwd"]


class AuthorizationCode(CodeAnswers, Base):
    __tablename__ = "authorization_codes"
    # Is a nonce used again (exists_nonce)? Hash, not B-tree: a nonce may be longer than a
    # B-tree entry can be (migration 0024).
    __table_args__ = (Index("ix_authorization_codes_nonce", "nonce", postgresql_using="hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id"), index=True)
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str | None] = mapped_column(Text, nullable=True)
    auth_time: Mapped[int] = mapped_column(Integer)
    code_challenge: Mapped[str | None] = mapped_column(String(128), nullable=True)
    code_challenge_method: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # The single sign-on session the code was issued in: its ``sid`` goes into the ID token,
    # and ending the session reaches the refresh token families started from this code.
    login_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("login_sessions.id"), index=True, nullable=True
    )
    client: Mapped[Client] = relationship(lazy="joined")
    identity: Mapped[Identity] = relationship(lazy="joined")
    login_session: Mapped[LoginSession | None] = relationship(lazy="select")

    def is_expired(self) -> bool:
        return utcnow() >= self.expires_at


class TokenState:
    """Authlib's TokenMixin (introspection and revocation) for a stored access token, as the ORM
    model (``AccessToken``) and its row (``idp.storage.token_rows.StoredToken``) both hold it."""

    if TYPE_CHECKING:
        client_pk: int
        scope: str
        expires_at: datetime
        revoked_at: datetime | None

    def check_client(self, client: Client) -> bool:
        return self.client_pk == client.id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return max(0, int((self.expires_at - utcnow()).total_seconds()))

    def is_expired(self) -> bool:
        return utcnow() >= self.expires_at

    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class AccessToken(TokenState, Base):
    __tablename__ = "access_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("identities.id"), index=True)
    code_id: Mapped[int | None] = mapped_column(
        ForeignKey("authorization_codes.id"), index=True, nullable=True
    )
    scope: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    jti: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    family_id: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    client: Mapped[Client] = relationship(lazy="joined")
    identity: Mapped[Identity | None] = relationship(lazy="joined")

    def is_active(self) -> bool:
        return self.revoked_at is None and utcnow() < self.expires_at



def store_code(db: Session, row: dict[str, Any]) -> None:
    """Insert a code (``row``: every column but the id) by a prepared statement on the
    session's connection (nothing reads it back in the request that issues it). Issued in a
    login session, the code's client is noted as taking part in it (logout must reach it,
    ``idp.storage.logout.remember_client``): on PostgreSQL in the same statement, a
    data-modifying WITH, so one round trip does both, past SQLAlchemy's execution
    (``idp.storage.on_driver``)."""
    connection = db.connection()
    if row["login_session_id"] is None:
        connection.execute(_INSERT_CODE, row)
    elif connection.dialect.name == "postgresql":
        on_driver.rows(connection, _insert_code_remembering_client(), row)
    else:
        remember_client(db, row["login_session_id"], row["client_pk"])
        connection.execute(_INSERT_CODE, row)


_INSERT_CODE = insert(cast(Table, AuthorizationCode.__table__))


@cache
def _insert_code_remembering_client() -> Insert:
    codes = cast(Table, AuthorizationCode.__table__)
    columns = [column.name for column in codes.columns if column.name != "id"]
    return (insert(codes).values({name: bindparam(name) for name in columns})
            .add_cte(remember_client_cte()).returning(codes.c.id))


def find_code(db: Session, code: str) -> AuthorizationCode | None:
    """The code with all that redeeming it reads, in one statement: the person and their
    accounts (the ID token's claims) and the login session (its ``sid``). Not the client: the
    token endpoint has its snapshot already, and decoding its JSON columns is not free."""
    return db.scalars(_find_code(), {"code_hash": digest(code)}).unique().one_or_none()


@cache
def _find_code() -> Select[AuthorizationCode]:
    """Built once: with its loader options, building it cost twice what running it does."""
    return (
        select(AuthorizationCode)
        .where(AuthorizationCode.code_hash == bindparam("code_hash"))
        .options(lazyload(AuthorizationCode.client),
                 joinedload(AuthorizationCode.identity).joinedload(Identity.accounts),
                 # Of the login session, only what the ID token takes (its sid).
                 joinedload(AuthorizationCode.login_session).load_only(LoginSession.id,
                                                                       LoginSession.sid)
                 .lazyload(LoginSession.identity),
                 joinedload(AuthorizationCode.login_session).lazyload(LoginSession.account))
    )


def mark_code_used(db: Session, code: AuthorizationCode) -> bool:
    """Atomically claim the code; False when another request used it first. On the session's
    connection: an ORM update would flush the session and evaluate its condition against every
    loaded object first (``code`` is brought up to date by hand)."""
    now = utcnow()
    result = db.connection().execute(_mark_code_used(), {"code_id": code.id, "now": now})
    if not result.rowcount:
        return False
    set_committed_value(code, "used_at", now)
    return True


@cache
def _mark_code_used() -> Update:
    table = cast(Table, AuthorizationCode.__table__)
    return (update(table)
            .where(table.c.id == bindparam("code_id"), table.c.used_at.is_(None))
            .values(used_at=bindparam("now")))


def revoke_tokens_of_code(db: Session, code: AuthorizationCode) -> int:
    result = db.execute(
        update(AccessToken)
        .where(AccessToken.code_id == code.id, AccessToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def find_access_token(db: Session, token: str, *, with_accounts: bool = False) -> AccessToken | None:
    """The token with its person, in one statement; the person's accounts joined too when
    ``with_accounts`` (UserInfo's claims), else read only if used. The client comes only when
    asked for (revocation's audit): the endpoints take its snapshot from the client cache, and
    decoding its JSON columns doubled the cost of a lookup."""
    if not token or len(token) > 4096:
        return None
    stmt = _find_access_token(with_accounts)
    return db.scalars(stmt, {"token_hash": digest(token)}).unique().one_or_none()


@cache
def _find_access_token(with_accounts: bool) -> Select[AccessToken]:
    """Built once per variant: every UserInfo and introspection request runs one."""
    person = joinedload(AccessToken.identity)
    return (select(AccessToken).where(AccessToken.token_hash == bindparam("token_hash"))
            .options(lazyload(AccessToken.client),
                     person.joinedload(Identity.accounts) if with_accounts
                     else person.lazyload(Identity.accounts)))


def revoke_access_token(db: Session, token: AccessToken) -> bool:
    result = db.execute(
        update(AccessToken)
        .where(AccessToken.id == token.id, AccessToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def record_revoked_token(db: Session, *, token_hash: str, jti: str, client_pk: int, scope: str,
                         issued_at: datetime, expires_at: datetime) -> bool:
    """A row, revoked at once, for a token that had none (a self-contained JWT): found by its
    digest, it is inactive from now on. False when a row exists already (revoked meanwhile)."""
    try:
        with db.begin_nested():
            db.execute(insert(AccessToken).values(
                token_hash=token_hash, jti=jti, client_pk=client_pk, identity_id=None,
                scope=scope, issued_at=issued_at, expires_at=expires_at, revoked_at=utcnow()))
    except IntegrityError:
        return False
    return True
