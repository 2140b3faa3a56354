"""Search terms of linked accounts: the normalised words a helpdesk finds a person by.

One row per (account, word) of its username, e-mail addresses (whole, and the parts before and
after the ``@``) and names, normalised like the linking rules compare names (NFC, case-folded, ё read
as е). ``term`` is indexed for prefix matches, so a search reads the index instead of every
account's attributes. Invariant: an account's rows are its current terms; a ``before_flush``
hook rewrites them whenever a username or attributes change, whichever code changed them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import ForeignKey, Index, Select, String, delete, event, inspect, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from idp.storage.base import Base
from idp.storage.identities import LinkedAccount

MAX_TERM = 200
NAME_ATTRIBUTES = ("given_name", "family_name", "middle_name", "display_name", "name")
EMAIL_ATTRIBUTES = ("email",)


class AccountSearchTerm(Base):
    __tablename__ = "account_search_terms"
    __table_args__ = (
        Index("ix_account_search_terms_term", "term", postgresql_ops={"term": "text_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("linked_accounts.id"), index=True)
    term: Mapped[str] = mapped_column(String(MAX_TERM))
    account: Mapped[LinkedAccount] = relationship()


def normalize(text: str) -> str:
    """NFC, case-folded, ё as е, spaces collapsed: how terms are stored and queries read."""
    folded = unicodedata.normalize("NFC", text).casefold().replace("ё", "е")
    return " ".join(folded.split())


def words(text: str) -> list[str]:
    return normalize(text).split()


def terms_of(username: str, attributes: Mapping[str, Any]) -> list[str]:
    """The distinct terms of one account."""
    found: list[str] = [normalize(username)]
    for name in EMAIL_ATTRIBUTES:
        for value in _values(attributes.get(name)):
            email = normalize(value)
            local, _, domain = email.partition("@")
            found += [email, local, domain]
    for name in NAME_ATTRIBUTES:
        for value in _values(attributes.get(name)):
            found += words(value)
    return [t[:MAX_TERM] for t in dict.fromkeys(found) if t]


def _values(raw: Any) -> Iterable[str]:
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list | tuple):
        return [v for v in raw if isinstance(v, str)]
    return []


def prefix_match(word: str, dialect: str) -> Select[Any]:
    """Ids of accounts with a term starting with ``word`` (already normalised), as a range read
    of the term index: ``LIKE 'word%'`` on PostgreSQL (indexable through text_pattern_ops,
    whatever the collation), ``word <= term < successor`` on SQLite, whose LIKE ignores case
    and so no index (its default collation compares code points, so the range is exact)."""
    stmt = select(AccountSearchTerm.account_id)
    if dialect == "sqlite":
        successor = word[:-1] + chr(ord(word[-1]) + 1)
        return stmt.where(AccountSearchTerm.term >= word, AccountSearchTerm.term < successor)
    escaped = word.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return stmt.where(AccountSearchTerm.term.like(f"{escaped}%", escape="!"))


def all_prefixes_match(prefixes: list[str], dialect: str) -> Select[Any]:
    """Ids of accounts where every one of ``prefixes`` begins some term (one index range read
    per word, nested as IN so that every database runs it)."""
    found = prefix_match(prefixes[0], dialect)
    for word in prefixes[1:]:
        found = found.where(
            AccountSearchTerm.account_id.in_(prefix_match(word, dialect).correlate(None)))
    return found


def exact_match(word: str) -> Select[Any]:
    return select(AccountSearchTerm.account_id).where(AccountSearchTerm.term == word)


@event.listens_for(Session, "before_flush")
def _keep_terms(session: Session, _context: Any, _instances: Any) -> None:
    """New accounts get their terms; an account whose username or attributes changed gets
    them rewritten (in the same flush, so in the same transaction)."""
    for obj in list(session.new):
        if isinstance(obj, LinkedAccount):
            _add_terms(session, obj)
    for obj in list(session.dirty):
        if isinstance(obj, LinkedAccount) and _terms_changed(obj):
            with session.no_autoflush:
                session.execute(delete(AccountSearchTerm)
                                .where(AccountSearchTerm.account_id == obj.id))
            _add_terms(session, obj)


def _add_terms(session: Session, account: LinkedAccount) -> None:
    for term in terms_of(account.username or "", account.attributes or {}):
        session.add(AccountSearchTerm(account=account, term=term))


def _terms_changed(account: LinkedAccount) -> bool:
    state = inspect(account)
    return any(state.attrs[name].history.has_changes() for name in ("username", "attributes"))
