"""Campus identities and the directory accounts linked to them.

Invariants kept by the schema: a ``sub`` and a ``campus_id`` are unique and never reused;
an account (organization, external_id) exists once and belongs to exactly one identity.
An identity absorbed by a merge stays (status ``merged``, ``merged_into_id``) and its ``sub``
becomes an alias of the survivor, unique in ``identity_aliases``; a new identity never takes
a ``sub`` that is already an alias (checked in ``new_identity``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Select,
    String,
    Table,
    Text,
    UniqueConstraint,
    Update,
    bindparam,
    exists,
    false,
    select,
    update,
)
from sqlalchemy.orm import (
    Mapped,
    Session,
    joinedload,
    mapped_column,
    relationship,
)
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from idp.storage import on_driver
from idp.storage.adopted import adopt
from idp.storage.base import Base, UtcDateTime, utcnow

ACTIVE = "active"
MERGED = "merged"
# linked_accounts.directory_state: what the organization's directory last said of the account.
IN_DIRECTORY = "active"
DISABLED = "disabled"
GONE = "gone"


class Identity(Base):
    __tablename__ = "identities"

    id: Mapped[int] = mapped_column(primary_key=True)
    sub: Mapped[str] = mapped_column(String(64), unique=True)
    campus_id: Mapped[str] = mapped_column(String(16), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    # ``merged``: absorbed by ``merged_into_id``, which answers for its sub from then on.
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE)
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("identities.id"), index=True, nullable=True
    )
    # Set while the helpdesk has locked the identity (``idp.identity.lock``): no login
    # anywhere, no access granted; who locked it (the actor) and why.
    locked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    locked_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lock_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    accounts: Mapped[list[LinkedAccount]] = relationship(
        back_populates="identity", order_by="LinkedAccount.id", lazy="selectin"
    )
    # The account the person chose for single-valued claims (``idp.identity.claims``);
    # read only when claims are made. Stale (the account moved away) means no choice.
    primary_choice: Mapped[PrimaryAccount | None] = relationship(lazy="select")

    def get_user_id(self) -> str:
        """Authlib's user contract: the subject."""
        return self.sub


class LinkedAccount(Base):
    __tablename__ = "linked_accounts"
    __table_args__ = (UniqueConstraint("organization", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id"), index=True)
    organization: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(256))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    linked_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # Whether the account held a staff role from its directory group when its roles were last
    # resolved (admin sign-in); automatic linking keeps such accounts apart (idp.linking.rules).
    staff_role: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # ``active``, ``disabled`` or ``gone`` as the last directory sync or login found it
    # (idp.provisioning.sync); only an active account satisfies an access policy.
    directory_state: Mapped[str] = mapped_column(String(16), default=IN_DIRECTORY,
                                                 server_default=IN_DIRECTORY)
    directory_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    identity: Mapped[Identity] = relationship(back_populates="accounts")


class PrimaryAccount(Base):
    """The person's own choice of primary account: one per identity, an account at most once."""

    __tablename__ = "primary_accounts"

    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("linked_accounts.id"), unique=True)
    chosen_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class IdentityAlias(Base):
    """A retired ``sub`` (of an identity absorbed by a merge) and the identity answering for it.

    Chains never form: when a survivor is itself absorbed, its aliases move to the new survivor.
    """

    __tablename__ = "identity_aliases"

    id: Mapped[int] = mapped_column(primary_key=True)
    sub: Mapped[str] = mapped_column(String(64), unique=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


def new_identity(db: Session) -> Identity:
    """A new identity (added, not flushed) whose sub is neither an identity's nor an alias's."""
    while True:
        sub = new_sub()
        taken = db.scalar(select(exists().where(IdentityAlias.sub == sub)))
        if not taken and find_identity_by_sub(db, sub) is None:
            identity = Identity(sub=sub, campus_id=new_campus_id(), status=ACTIVE)
            db.add(identity)
            return identity


def new_sub() -> str:
    """An opaque random subject: says nothing about the person or their university."""
    return secrets.token_urlsafe(24)


def new_campus_id() -> str:
    """Nine digits, the last a Luhn check digit so a mistyped card number is caught."""
    body = str(secrets.randbelow(90_000_000) + 10_000_000)
    return body + luhn_digit(body)


def luhn_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def find_account(db: Session, organization: str, external_id: str) -> LinkedAccount | None:
    params = {"organization": organization, "external_id": external_id}
    return db.scalars(_find_account(), params).one_or_none()


@cache
def _find_account() -> Select[LinkedAccount]:
    """Built once (every login runs it): building a statement costs more than running it.
    With its identity in the same statement: a login reads it (is it locked?)."""
    return (select(LinkedAccount)
            .where(LinkedAccount.organization == bindparam("organization"),
                   LinkedAccount.external_id == bindparam("external_id"))
            .options(joinedload(LinkedAccount.identity)))


def note_login(db: Session, account: LinkedAccount, at: datetime) -> None:
    """Set the account's ``last_login_at`` by one prepared UPDATE on the session's connection,
    for a login that changed nothing else on it (no unit of work, whose flush cost more than
    the statement); the loaded object is brought up to date by hand."""
    db.connection().execute(_note_login(), {"account_id": account.id, "at": at})
    set_committed_value(account, "last_login_at", at)


@cache
def _note_login() -> Update:
    table = cast(Table, LinkedAccount.__table__)
    return update(table).where(table.c.id == bindparam("account_id")).values(
        last_login_at=bindparam("at"))


@dataclass(frozen=True)
class Touched:
    """A known account that is logging in: the account (its ``last_login_at`` already set)
    and whether its identity is locked, both read by the statement that set the time."""

    account: LinkedAccount
    locked: bool


def touch_account(db: Session, organization: str, external_id: str, at: datetime) -> Touched | None:
    """A login's ``find_account`` and ``note_login`` in one statement (UPDATE ... RETURNING,
    on PostgreSQL and SQLite alike), the identity's lock with it; None for an account never
    seen. Every login of a known account sets ``last_login_at``, changed or not, so the write
    may come first. The account joins the session as if loaded (``idp.storage.adopted``): the query
    machinery cost more than the statement. Pending changes are flushed first, as the query
    it replaces would have done."""
    if db.autoflush:
        db.flush()
    params = {"org": organization, "ext_id": external_id, "at": at}
    found = on_driver.rows(db.connection(), _touch_account(), params)
    if not found:
        return None
    *columns, locked_at = found[0]
    values = dict(zip(_ACCOUNT_COLUMNS, columns, strict=True))
    locked = locked_at is not None
    held = db.identity_map.get(identity_key(LinkedAccount, values["id"]))
    if isinstance(held, LinkedAccount):  # already in the session: a query would return it
        set_committed_value(held, "last_login_at", at)
        return Touched(held, locked)
    return Touched(adopt(db, LinkedAccount, values), locked)  # its identity loads on first use


_ACCOUNT_COLUMNS = tuple(column.key for column in cast(Table, LinkedAccount.__table__).columns)


@cache
def _touch_account() -> Update:
    """Built once (every login of a known account runs it)."""
    accounts = cast(Table, LinkedAccount.__table__)
    identities = cast(Table, Identity.__table__)
    locked_at = (select(identities.c.locked_at).where(identities.c.id == accounts.c.identity_id)
                 .scalar_subquery().label("identity_locked_at"))
    return (update(accounts)
            .where(accounts.c.organization == bindparam("org"),
                   accounts.c.external_id == bindparam("ext_id"))
            .values(last_login_at=bindparam("at"))
            .returning(*accounts.c, locked_at))  # the account's columns in _ACCOUNT_COLUMNS' order


def find_identity_by_sub(db: Session, sub: str) -> Identity | None:
    return db.scalars(select(Identity).where(Identity.sub == sub)).one_or_none()


def resolve_sub(db: Session, sub: str) -> tuple[Identity, bool] | None:
    """The identity answering for ``sub`` today, and whether ``sub`` was an alias of it."""
    if not sub or len(sub) > 64:
        return None
    alias = db.scalars(select(IdentityAlias).where(IdentityAlias.sub == sub)).one_or_none()
    if alias is not None:
        return db.get_one(Identity, alias.identity_id), True
    found = find_identity_by_sub(db, sub)
    return (found, False) if found is not None else None


def aliases_of(db: Session, identity_id: int) -> list[IdentityAlias]:
    stmt = select(IdentityAlias).where(IdentityAlias.identity_id == identity_id)
    return list(db.scalars(stmt.order_by(IdentityAlias.id)))


def account_key(account: LinkedAccount) -> str:
    """How people and audit events name an account: ``tpu:ivanov``."""
    return f"{account.organization}:{account.username}"


def get_identity(db: Session, identity_id: int) -> Identity | None:
    return db.get(Identity, identity_id)
