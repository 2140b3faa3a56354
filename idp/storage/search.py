"""Search terms of linked accounts: the normalised words a helpdesk finds a person by.

One row per (account, word) of its username, e-mail addresses (whole, and the parts before and
after the ``@``) and names, normalised like the linking rules compare names (NFC, case-folded, ё read
as е); and beside each word of a name its Latin skeleton (``idp.linking.transliterate``) marked
with a leading ``~``, so that ``Elkina`` finds Ёлкина. ``term`` is indexed for prefix matches,
so a search reads an index instead of every account's attributes; on PostgreSQL the skeleton
terms are also kept once each in ``name_skeletons``, whose trigram index finds the similar
spellings of a word with a typo. Invariant: an account's rows are its current terms; a
``before_flush`` hook rewrites them whenever a username or attributes change, whichever code
changed them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    ForeignKey,
    Index,
    Select,
    String,
    and_,
    any_,
    cast,
    delete,
    event,
    func,
    inspect,
    select,
    union_all,
)
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from idp.linking.transliterate import skeleton
from idp.storage.base import Base
from idp.storage.identities import LinkedAccount

MAX_TERM = 200
NAME_ATTRIBUTES = ("given_name", "family_name", "middle_name", "display_name", "name")
EMAIL_ATTRIBUTES = ("email",)
NAME_PUNCTUATION = frozenset("-'’")
SKELETON = "~"  # marks a name word's Latin skeleton among the terms
# Trigram similarity of a skeleton with one letter left out, added or changed in a name of six
# letters or more: 0.4 and up; two different names of one length seldom reach it (elkna and
# elena: 0.33).
SIMILARITY = 0.4


class AccountSearchTerm(Base):
    __tablename__ = "account_search_terms"
    __table_args__ = (
        # PostgreSQL: covering (the account id in the index), so a prefix reads the index alone.
        Index("ix_account_search_terms_term", "term", postgresql_ops={"term": "text_pattern_ops"},
              postgresql_include=["account_id"]),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("linked_accounts.id"), index=True)
    term: Mapped[str] = mapped_column(String(MAX_TERM))
    account: Mapped[LinkedAccount] = relationship()


class NameSkeleton(Base):
    """Every skeleton term of ``account_search_terms`` once: the vocabulary a typo is looked up
    in (PostgreSQL), a few thousand names where the terms are one per account and word. A
    trigger of migration 0023 adds each skeleton term written, by whichever code; one that no
    account has any more stays and finds nobody. SQLite searches without typos: there the
    table stays empty and its index is declared empty (WHERE 0), which keeps one model for both
    databases."""

    __tablename__ = "name_skeletons"
    __table_args__ = (
        Index("ix_name_skeletons_trgm", "term", postgresql_using="gin",
              postgresql_ops={"term": "gin_trgm_ops"}, sqlite_where=sql_text("0")),
    )

    term: Mapped[str] = mapped_column(String(MAX_TERM), primary_key=True)


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
            found += [skeleton_term(w) for w in words(value)]
    return [t[:MAX_TERM] for t in dict.fromkeys(found) if t]


def skeleton_term(word: str) -> str:
    """The stored form of a word's Latin skeleton; empty when it has none."""
    found = skeleton(word)
    return SKELETON + found if found else ""


def _values(raw: Any) -> Iterable[str]:
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list | tuple):
        return [v for v in raw if isinstance(v, str)]
    return []


def _prefix(word: str, dialect: str) -> ColumnElement[bool]:
    """A term starting with ``word`` (already normalised), as a range read of the term index:
    ``LIKE 'word%'`` on PostgreSQL (indexable through text_pattern_ops, whatever the
    collation), ``word <= term < successor`` on SQLite, whose LIKE ignores case and so no
    index (its default collation compares code points, so the range is exact)."""
    if dialect == "sqlite":
        successor = word[:-1] + chr(ord(word[-1]) + 1)
        return and_(AccountSearchTerm.term >= word, AccountSearchTerm.term < successor)
    escaped = word.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return AccountSearchTerm.term.like(f"{escaped}%", escape="!")


def prefix_match(word: str, dialect: str) -> Select[Any]:
    """Ids of accounts with a term starting with ``word`` (already normalised)."""
    return select(AccountSearchTerm.account_id).where(_prefix(word, dialect))


def word_match(spellings: list[str], dialect: str, *,
               similar: bool = False) -> Select[Any] | CompoundSelect[Any]:
    """Ids of accounts with a term starting with one of ``spellings`` (one word of a query as
    typed and as a skeleton term), one range read of the term index each (on PostgreSQL of the
    index alone: it holds the account ids); with ``similar`` (PostgreSQL only) also a skeleton
    term of similar spelling: one typo in a name is forgiven, not in a username or an e-mail
    address."""
    reads = [prefix_match(w, dialect) for w in spellings if w]
    if similar and dialect == "postgresql":
        reads += [select(AccountSearchTerm.account_id).where(
            AccountSearchTerm.term == any_(similar_skeletons(w)))
            for w in spellings if w.startswith(SKELETON)]
    return reads[0] if len(reads) == 1 else union_all(*reads)


def similar_skeletons(skeleton_term: str) -> ColumnElement[Any]:
    """The skeleton terms of trigram similarity at least ``SIMILARITY`` to ``skeleton_term``,
    as one array (PostgreSQL): pg_trgm's ``%`` (at least its similarity_threshold, 0.3 unless
    set) reads the candidates from the vocabulary's trigram index, and the array lets the
    terms' index find their accounts by equality."""
    found = select(func.array_agg(NameSkeleton.term)).where(
        NameSkeleton.term.op("%", is_comparison=True)(skeleton_term),
        func.similarity(NameSkeleton.term, skeleton_term) >= SIMILARITY)
    return cast(found.scalar_subquery(), ARRAY(String))


def all_words_match(query_words: list[list[str]], dialect: str, *,
                    similar: Collection[int] = ()) -> Select[Any]:
    """Ids of accounts where every word (each given as its spellings) matches some term (the
    first word's accounts that are among each other word's, as IN so that every database
    runs it); the words whose index is in ``similar`` may also match a skeleton term of
    similar spelling (PostgreSQL)."""
    first, *others = [word_match(spellings, dialect, similar=i in similar)
                      for i, spellings in enumerate(query_words)]
    found = first.subquery()
    return select(found.c.account_id).where(*[found.c.account_id.in_(o) for o in others])


def words_found(query_words: list[list[str]], dialect: str) -> Select[Any]:
    """One row: for each word (given as its spellings), whether any term matches it, with
    no typo forgiven (an index probe each)."""
    probes: list[Any] = [word_match(spellings, dialect).exists() for spellings in query_words]
    return select(*probes)


def all_prefixes_match(prefixes: list[str], dialect: str) -> Select[Any]:
    """Ids of accounts where every one of ``prefixes`` begins some term."""
    return all_words_match([[w] for w in prefixes], dialect)


def spellings(word: str) -> list[str]:
    """One normalised query word as typed and, when it is written like a name (letters,
    hyphens, apostrophes), as a skeleton term."""
    if not all(ch.isalpha() or ch in NAME_PUNCTUATION for ch in word):
        return [word]
    return list(dict.fromkeys(t for t in (word, skeleton_term(word)) if t))


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
