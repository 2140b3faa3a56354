"""Redeeming an authorization code in one statement on PostgreSQL: an UPDATE that marks a live,
unused code of the presenting client used, in a WITH whose SELECT returns, as frozen rows, all
that the code exchange reads (the person with their accounts and chosen primary account, the
login session's ``sid``), with no ORM object built.

The UPDATE is the check, as ``refresh_rows.spend_refresh_token``'s is: of two requests racing
with one code only one changes it (the loser's UPDATE matches nothing once the winner commits).
When nothing matches, the caller reads the code (``tokens.find_code``) to say why: unknown,
another client's, used (a reuse, RFC 6749 section 4.1.2: what it issued is revoked) or
expired. The claim belongs to the request's transaction: a request refused after it (a wrong
``redirect_uri`` or PKCE verifier) rolls it back. SQLite has no data-modifying WITH: there
``claim_code`` answers None without a statement and the ORM path finds, then marks, the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from functools import cache
from typing import Any, cast

from sqlalchemy import Connection, Select, Table, bindparam, select, update
from sqlalchemy.orm import Session

from idp.storage.base import UtcDateTime, utcnow
from idp.storage.driver import DriverConnection
from idp.storage.identities import Identity, LinkedAccount, PrimaryAccount
from idp.storage.sessions import LoginSession
from idp.storage.token_rows import AccountRow, ChosenAccount, PersonRow
from idp.storage.tokens import AuthorizationCode, CodeAnswers, digest

MAX_CODE_LENGTH = 512


class CodePerson(PersonRow):
    """The code's person as claims (``idp.identity.claims``), the token generator and the
    token storage read it; Authlib's user."""

    def get_user_id(self) -> str:
        return self.sub


@dataclass(frozen=True)
class SessionSid:
    """The login session a code was issued in, as the ID token reads it (its ``sid``; None on
    a session older than the column, named on first use: ``sessions.public_sid``)."""

    id: int
    sid: str | None


@dataclass(frozen=True)
class ClaimedCode(CodeAnswers):
    """A code just marked used, with Authlib's AuthorizationCodeMixin as ``AuthorizationCode``
    implements it (OpenID Connect flavour)."""

    id: int
    client_pk: int
    identity_id: int
    redirect_uri: str
    scope: str
    nonce: str | None
    auth_time: int
    code_challenge: str | None
    code_challenge_method: str | None
    identity: CodePerson
    login_session: SessionSid | None

    def is_expired(self) -> bool:
        return False  # the claim took only a live code


def claim_code(db: Session | Connection | DriverConnection, code: str,
               client_pk: int) -> ClaimedCode | None:
    """Mark ``code`` used when it is live, unused and ``client_pk``'s, and return it; None when
    it is not (or unknown), and always on SQLite (no statement run). ``db``: the request's
    session, or a connection in the caller's transaction (the driver's own too: the rows are
    read by position, and the one column whose type converts it, ``linked_at``, is converted
    here alike)."""
    if not code or len(code) > MAX_CODE_LENGTH:
        return None
    connection = db.connection() if isinstance(db, Session) else db
    if connection.dialect.name != "postgresql":
        return None
    rows = connection.execute(_claim(), {
        "presented_hash": digest(code), "presenter_pk": client_pk, "now": utcnow()}).fetchall()
    if not rows:
        return None
    (id_, code_client_pk, identity_id, redirect_uri, scope, nonce, auth_time, challenge,
     challenge_method, login_session_id, sub, campus_id, *_, chosen_id, sid) = rows[0]
    accounts = tuple(AccountRow(account_id, organization, username, attributes or {},
                                linked_at.astimezone(UTC))
                     for *_, account_id, organization, username, attributes, linked_at, _, _
                     in rows if account_id is not None)
    chosen = ChosenAccount(chosen_id) if chosen_id is not None else None
    person = CodePerson(identity_id, sub, campus_id, accounts, chosen)
    login = SessionSid(login_session_id, sid) if login_session_id is not None else None
    return ClaimedCode(id_, code_client_pk, identity_id, redirect_uri, scope, nonce, auth_time,
                       challenge, challenge_method, person, login)


@cache
def _claim() -> Select[Any]:
    """Built once: every code exchange on PostgreSQL runs it. One row per account of the
    person, in the relationship's order (by id); ``claim_code`` reads its columns in this
    order."""
    codes = cast(Table, AuthorizationCode.__table__)
    identity = cast(Table, Identity.__table__)
    account = cast(Table, LinkedAccount.__table__)
    chosen = cast(Table, PrimaryAccount.__table__)
    sessions = cast(Table, LoginSession.__table__)
    now = bindparam("now", type_=UtcDateTime())
    claimed = (update(codes)
               .where(codes.c.code_hash == bindparam("presented_hash"),
                      codes.c.client_pk == bindparam("presenter_pk"),
                      codes.c.used_at.is_(None), codes.c.expires_at > now)
               .values(used_at=now)
               .returning(codes.c.id, codes.c.client_pk, codes.c.identity_id,
                          codes.c.redirect_uri, codes.c.scope, codes.c.nonce, codes.c.auth_time,
                          codes.c.code_challenge, codes.c.code_challenge_method,
                          codes.c.login_session_id)
               .cte("claimed_code"))
    return (
        select(claimed, identity.c.sub, identity.c.campus_id,
               account.c.id.label("account_id"), account.c.organization, account.c.username,
               account.c.attributes, account.c.linked_at, chosen.c.account_id.label("chosen_id"),
               sessions.c.sid)
        .select_from(claimed
                     .join(identity, identity.c.id == claimed.c.identity_id)
                     .outerjoin(account, account.c.identity_id == identity.c.id)
                     .outerjoin(chosen, chosen.c.identity_id == identity.c.id)
                     .outerjoin(sessions, sessions.c.id == claimed.c.login_session_id))
        .order_by(account.c.id)
    )
