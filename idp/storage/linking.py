"""Match fingerprints and link proposals: what linking rules remember between logins.

A fingerprint row holds one account's keyed hash under one rule (never the clear value), or
no hash when the account's value was invalid (reported once, matched never). A proposal is
one entry of the review queue: an account whose identity might be the same person as another
identity, with the rule that said so. Repositories never commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from functools import lru_cache

from sqlalchemy import (
    ForeignKey,
    Index,
    Select,
    String,
    UniqueConstraint,
    and_,
    bindparam,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from idp.storage import on_driver
from idp.storage.base import Base, UtcDateTime, utcnow
from idp.storage.identities import LinkedAccount


class ProposalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class ProposalReason(StrEnum):
    PROPOSE_RULE = "propose_rule"  # the rule only ever proposes
    SEVERAL_MATCHES = "several_matches"  # a link rule matched more than one other identity
    MERGE_REQUIRED = "merge_required"  # both identities already had history: a merge decides
    STAFF_ROLE = "staff_role"  # a link rule would join a staff account's identity or move one
    UNTRUSTED = "untrusted_directory"  # ... join accounts of a directory ``[linking] trust`` omits


class MatchFingerprint(Base):
    __tablename__ = "match_fingerprints"
    __table_args__ = (
        UniqueConstraint("account_id", "rule"),
        Index("ix_match_fingerprints_rule_hash", "rule", "hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("linked_accounts.id"))
    rule: Mapped[str] = mapped_column(String(32))
    hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class LinkProposal(Base):
    __tablename__ = "link_proposals"

    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=ProposalStatus.PENDING.value, index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("linked_accounts.id"), index=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id"), index=True)
    candidate_identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


def lock_match_keys(db: Session, digests: Iterable[str]) -> None:
    """Serialise the logins that could match each other, until the transaction ends.

    PostgreSQL: a transaction-level advisory lock per fingerprint, taken in sorted order (no
    deadlock); after it, READ COMMITTED reads see the fingerprints of whoever held it first.
    SQLite needs nothing: every transaction there starts with BEGIN IMMEDIATE, so writers
    already run one at a time.
    """
    if db.get_bind().dialect.name != "postgresql":
        return
    keys = [int.from_bytes(bytes.fromhex(digest)[:8], "big", signed=True)
            for digest in sorted(set(digests))]
    if keys:  # one statement for them all, taking them in this order (a sync locks hundreds)
        db.execute(text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) "
                        "WITH ORDINALITY AS t(k, n) ORDER BY n"), {"keys": keys})


def fingerprints_of(db: Session, account_id: int) -> dict[str, MatchFingerprint]:
    rows = db.scalars(select(MatchFingerprint).where(MatchFingerprint.account_id == account_id))
    return {row.rule: row for row in rows}


def settled(db: Session, account: LinkedAccount, expected: Mapping[str, str | None]) -> bool:
    """Whether the account's stored fingerprints are exactly ``expected`` (rule to hash, None
    for an invalid value; no row for a rule without a value or no longer configured) and no
    account of another identity shares any of those hashes: a login that would write, report,
    link and propose nothing. One statement, taken without the match keys' locks: what it
    reads of this account was committed by an earlier login, so a concurrent login that could
    match it (and holds a lock) finds it anyway, as if it had come second."""
    digests = [(rule, digest) for rule, digest in expected.items() if digest is not None]
    params: dict[str, object] = {"account_id": account.id, "identity_id": account.identity_id}
    for n, (rule, digest) in enumerate(digests):
        params[f"rule_{n}"], params[f"hash_{n}"] = rule, digest
    stored: dict[str, str | None] = {}
    # On the session's connection past SQLAlchemy's execution (plain columns), and without a
    # flush first: the login's pending change of the account (its attributes) is nothing
    # this reads, and it goes out with the login's other writes.
    rows = on_driver.rows(db.connection(), _settled(len(digests)), params)
    for account_id, stored_rule, stored_hash in rows:
        if account_id != account.id:
            return False  # a match: the full procedure decides, under the locks
        stored[stored_rule] = stored_hash
    return stored == dict(expected)


@lru_cache(maxsize=16)
def _settled(digests: int) -> Select[int, str, str | None]:
    """``settled``'s statement for this many hashes, built once (every login runs it)."""
    own = MatchFingerprint.account_id == bindparam("account_id")
    if not digests:  # no value to match others by (or_() of nothing is deprecated)
        return (select(MatchFingerprint.account_id, MatchFingerprint.rule, MatchFingerprint.hash)
                .where(own))
    others = and_(or_(*[(MatchFingerprint.rule == bindparam(f"rule_{n}"))
                        & (MatchFingerprint.hash == bindparam(f"hash_{n}")) for n in range(digests)]),
                  LinkedAccount.identity_id != bindparam("identity_id"))
    return (
        select(MatchFingerprint.account_id, MatchFingerprint.rule, MatchFingerprint.hash)
        .join(LinkedAccount, LinkedAccount.id == MatchFingerprint.account_id)
        .where(or_(own, others))
    )


def set_fingerprint(db: Session, existing: MatchFingerprint | None, account_id: int, rule: str,
                    digest: str | None) -> None:
    if existing is None:
        db.add(MatchFingerprint(account_id=account_id, rule=rule, hash=digest))
    elif existing.hash != digest:
        existing.hash = digest
        existing.updated_at = utcnow()


def matching_accounts(db: Session, rule: str, digest: str, *,
                      other_than_identity: int) -> list[LinkedAccount]:
    """The accounts of other identities with this fingerprint under this rule."""
    stmt = (
        select(LinkedAccount)
        .join(MatchFingerprint, MatchFingerprint.account_id == LinkedAccount.id)
        .where(MatchFingerprint.rule == rule, MatchFingerprint.hash == digest,
               LinkedAccount.identity_id != other_than_identity)
        .order_by(LinkedAccount.id)
    )
    return list(db.scalars(stmt))


def pending_proposal_exists(db: Session, rule: str, identity_a: int, identity_b: int) -> bool:
    """Whether the queue already holds this pair under this rule, whichever side raised it."""
    pair = or_(
        (LinkProposal.identity_id == identity_a) & (LinkProposal.candidate_identity_id == identity_b),
        (LinkProposal.identity_id == identity_b) & (LinkProposal.candidate_identity_id == identity_a),
    )
    stmt = select(func.count()).select_from(LinkProposal).where(
        LinkProposal.rule == rule, LinkProposal.status == ProposalStatus.PENDING.value, pair)
    return bool(db.scalar(stmt))


def pending_proposals(db: Session) -> list[LinkProposal]:
    stmt = select(LinkProposal).where(LinkProposal.status == ProposalStatus.PENDING.value)
    return list(db.scalars(stmt.order_by(LinkProposal.id)))
