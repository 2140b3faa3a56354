"""What a helpdesk client may see and find: its organization scope, identity search and an
identity's audit trail (its aliases' events included).

Search is bounded, paged by identity id, and reads indexes only: names, e-mail addresses and
usernames through the accounts' normalised search terms (``idp.storage.search``: case-folded,
ё as е), where each word of the query must begin a term of the same account (prefix match, so
``смир`` finds Смирнова and ``анна смирнова`` finds her; ``мирнова`` only on PostgreSQL, where
a typo is forgiven in a name that finds nobody as typed); the whole query also matches a
username or e-mail exactly, ``user@scope`` a username at the organization of that scope, and
``sub``, alias ``sub`` and ``campus_id`` exactly.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Integer,
    Select,
    Text,
    any_,
    cast,
    func,
    or_,
    select,
    true,
    union,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute, Session

from idp.linking import normalize
from idp.linking.fingerprints import Fingerprinter
from idp.linking.normalize import Valid
from idp.provisioning.card_numbers import check_card_number
from idp.settings import MatchClaim, OrganizationSettings
from idp.settings.model import Settings
from idp.storage import search as terms
from idp.storage.audit import AuditEvent, AuditEventType
from idp.storage.cards import CampusCard
from idp.storage.identities import ACTIVE, Identity, IdentityAlias, LinkedAccount
from idp.storage.linking import LinkProposal, MatchFingerprint

MAX_LIMIT = 100
MAX_WORDS = 5  # a name query of more words finds by identifiers only
MIN_PREFIX = 2  # every word of a name query has at least this many characters
MAX_ID = 2**62  # ids and cursors beyond this exist nowhere (and overflow SQLite's INTEGER)
HELPDESK = "helpdesk"


@dataclass(frozen=True)
class HelpdeskScope:
    """The organizations a client acts for; ``None``: all of them."""

    organizations: frozenset[str] | None

    @classmethod
    def of_roles(cls, roles: Collection[str]) -> HelpdeskScope | None:
        """None when the roles give no helpdesk access at all."""
        orgs: set[str] = set()
        for role in roles:
            name, sep, org = role.partition(":")
            if name != HELPDESK:
                continue
            if not sep:
                return cls(None)
            orgs.add(org)
        return cls(frozenset(orgs)) if orgs else None

    def covers(self, identity: Identity) -> bool:
        """May read it: the identity has an account of one of the organizations."""
        if self.organizations is None:
            return True
        return any(a.organization in self.organizations for a in identity.accounts)

    def includes(self, organization: str | None) -> bool:
        return self.organizations is None or organization in self.organizations

    def owns(self, identity: Identity) -> bool:
        """May change it: EVERY account of the identity is of the organizations. A change
        to an identity that also holds another organization's account moves that account's
        person too, which only an unscoped helpdesk may decide."""
        return all(self.includes(a.organization) for a in identity.accounts)

    def organization_of(self, identity: Identity) -> str | None:
        """The organization an event about the identity is recorded under: its first account
        in the scope, so that the scoped helpdesk sees the event in the audit trail."""
        return next((a.organization for a in identity.accounts if self.includes(a.organization)),
                    None)

    def redact(self, value: Any, organizations: Collection[str]) -> Any:
        """``value`` (an audit event's details) without what names another organization's
        accounts: an entry keyed by such an organization or account goes, and an
        ``org:username`` string becomes the organization alone."""
        if self.organizations is None:
            return value
        hidden = {org for org in organizations if org not in self.organizations}
        return _redact(value, hidden)


def _redact(value: Any, hidden: set[str]) -> Any:
    if isinstance(value, dict):  # keyed by a hidden organization or account: its data goes
        return {k: _redact(v, hidden) for k, v in value.items()
                if not (isinstance(k, str) and k.partition(":")[0] in hidden)}
    if isinstance(value, list):
        return [_redact(v, hidden) for v in value]
    if isinstance(value, str):
        org, sep, _rest = value.partition(":")
        if sep and org in hidden:
            return org
    return value


def redact_access(body: dict[str, Any], scope: HelpdeskScope,
                  organizations: Mapping[str, OrganizationSettings]) -> dict[str, Any]:
    """``explain``'s answer as ``scope`` may read it: for ``helpdesk:ORG``, another
    organization's account in ``because`` is named by its organization alone."""
    if scope.organizations is None:
        return body
    by_scope = {o.scope.lower(): o.id for o in organizations.values()}
    for grant in body["grants"]:
        for reason in grant["because"]:
            organization = by_scope.get(reason["account"].rpartition("@")[2].lower())
            if not scope.includes(organization):
                reason["account"] = organization or "redacted"
    return body


@dataclass(frozen=True)
class SnilsSearch:
    """What finding a person by SNILS needs: the linking rules that compare a SNILS alone and
    the key their fingerprints are made with. A typed SNILS is fingerprinted as linking does
    (``idp.linking.fingerprints``) and matched against the stored fingerprints; the SNILS
    itself is never stored, and its fingerprint never leaves the query."""

    fingerprinter: Fingerprinter = field(repr=False)
    rules: tuple[str, ...]

    @classmethod
    def of(cls, settings: Settings) -> SnilsSearch:
        rules = tuple(sorted(r.name for r in settings.linking.rules.values()
                             if tuple(r.match) == (MatchClaim.SNILS,)))
        return cls(Fingerprinter.from_secret(settings.server.secret_key), rules)

    def digests(self, q: str) -> list[tuple[str, str]]:
        """(rule, fingerprint) of ``q`` under each rule; none when ``q`` is no valid SNILS
        (wrong length, characters other than digits and separators, a failed check number)."""
        if not self.rules or not any(ch.isdigit() for ch in q):
            return []
        value = normalize.snils(q)
        if not isinstance(value, Valid):
            return []
        return [(rule, self.fingerprinter.digest(rule, [(MatchClaim.SNILS.value, value.value)]))
                for rule in self.rules]


def search(db: Session, q: str, *, organizations: Mapping[str, OrganizationSettings],
           scope: HelpdeskScope, limit: int, after: int = 0,
           snils: SnilsSearch | None = None) -> tuple[list[Identity], int | None]:
    """Active identities matching ``q`` (name in Cyrillic or Latin letters, username,
    ``user@scope``, email, campus_id, card number, SNILS when ``snils`` is given, sub or alias
    sub), ``limit`` at most after identity id ``after``; and the next cursor. On PostgreSQL a
    name query that matches nobody exactly is asked again forgiving a typo in the words that
    match no term as typed (in every word when each matches some term)."""
    q = q.strip()
    dialect = db.get_bind().dialect.name
    ids = matching_ids(q, organizations, dialect, snils=snils)
    found = _page(db, ids, scope, dialect, limit, after)
    if not found and dialect == "postgresql" and (words := _name_words(q)) and (
            not after or not _page(db, ids, scope, dialect, limit=0, after=0)):
        spelled = [terms.spellings(w) for w in words]
        matched = db.execute(terms.words_found(spelled, dialect)).one()
        typos = [i for i, ok in enumerate(matched) if not ok] or range(len(words))
        found = _page(db, matching_ids(q, organizations, dialect, snils=snils, similar=typos),
                      scope, dialect, limit, after)
    more = len(found) > limit
    found = found[:limit]
    return found, (found[-1].id if more else None)


def _page(db: Session, ids: Select[tuple[int]], scope: HelpdeskScope, dialect: str, limit: int,
          after: int) -> list[Identity]:
    """The active identities among ``ids`` in the scope, ``limit`` + 1 at most (so that the
    caller knows whether more follow) after id ``after``."""
    stmt = select(Identity).where(Identity.status == ACTIVE, Identity.id > after,
                                  _among(Identity.id, ids, dialect))
    if scope.organizations is not None:
        stmt = stmt.where(Identity.accounts.any(
            LinkedAccount.organization.in_(sorted(scope.organizations))))
    return list(db.scalars(stmt.order_by(Identity.id).limit(limit + 1)))


def _among(column: InstrumentedAttribute[int], ids: Select[Any] | CompoundSelect[Any],
           dialect: str) -> ColumnElement[bool]:
    """``column IN (ids)``; on PostgreSQL ``column = ANY(ids as one array)``, the ids gathered
    first and the rows read by them: as a join, the planner may read a whole table (or its
    index, in order, trusting a LIMIT to stop it) when it guesses many ids, as it does for
    two common first names' words."""
    if dialect != "postgresql":
        return column.in_(ids)
    gathered = select(func.array_agg(ids.subquery().c[0])).scalar_subquery()
    return column == any_(cast(gathered, ARRAY(Integer)))


def _name_words(q: str) -> list[str]:
    """The words of a name query; none when it has too many or too short words."""
    words = terms.words(q)
    if 0 < len(words) <= MAX_WORDS and all(len(w) >= MIN_PREFIX for w in words):
        return words
    return []


def matching_ids(q: str, organizations: Mapping[str, OrganizationSettings],
                 dialect: str, *, snils: SnilsSearch | None = None,
                 similar: Collection[int] = ()) -> Select[tuple[int]]:
    """Identity ids by every kind of match, in one SELECT ... UNION, each part an index read:
    the whole query as a term (a username, an e-mail address), ``user@scope`` as a username at
    that organization, the words of a name (each, as typed or as its Latin skeleton, a prefix
    of a term of the same account; the words whose index is in ``similar`` also a term of
    similar spelling), ``sub``, ``campus_id``, alias ``sub``, a card number (its check digit
    right) and a SNILS (by fingerprint)."""
    text = terms.normalize(q)
    accounts: list[Select[Any] | CompoundSelect[Any]] = [terms.exact_match(text)]
    user, at, domain = text.rpartition("@")
    orgs = [o.id for o in organizations.values() if o.scope.lower() == domain] if at and user else []
    if orgs:
        accounts.append(select(LinkedAccount.id).where(LinkedAccount.id.in_(terms.exact_match(user)),
                                                       LinkedAccount.organization.in_(orgs)))
    if words := _name_words(q):
        accounts.append(terms.all_words_match([terms.spellings(w) for w in words], dialect,
                                              similar=similar))
    digests = snils.digests(q) if snils is not None else []
    if digests:
        accounts.append(select(MatchFingerprint.account_id).where(or_(*[
            (MatchFingerprint.rule == rule) & (MatchFingerprint.hash == digest)
            for rule, digest in digests])))
    by_account = select(LinkedAccount.identity_id).where(
        _among(LinkedAccount.id, union(*accounts), dialect))
    direct = select(Identity.id).where(or_(Identity.sub == q, Identity.campus_id == q))
    by_alias = select(IdentityAlias.identity_id).where(IdentityAlias.sub == q)
    by_old_campus_id = (select(IdentityAlias.identity_id)
                        .join(Identity, Identity.sub == IdentityAlias.sub)
                        .where(Identity.campus_id == q))
    parts = [direct, by_alias, by_old_campus_id]
    if (number := _card_number(q)) is not None:
        parts.append(select(CampusCard.identity_id).where(CampusCard.number == number))
    matched = by_account.union(*parts).subquery()
    return select(matched.c[0])


def _card_number(q: str) -> str | None:
    """The card number ``q`` is written as (spaces and dashes allowed, its check digit
    right); None for anything else."""
    if not q or not q[0].isdigit():
        return None
    number, _problem = check_card_number(q)
    return number


def _like(text: str) -> str:
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def related_identity_ids(db: Session, identity: Identity) -> list[int]:
    """The identity and every identity merged into it (whose subs are now its aliases)."""
    merged = select(Identity.id).join(IdentityAlias, IdentityAlias.sub == Identity.sub).where(
        IdentityAlias.identity_id == identity.id)
    return [identity.id, *db.scalars(merged)]


def audit_trail(db: Session, identity: Identity, *, limit: int, before: int | None = None,
                scope: HelpdeskScope | None = None,
                event_type: str | None = None) -> tuple[list[AuditEvent], int | None]:
    """Events of the identity and of its aliases, newest first (of one ``event_type`` when
    given); an unlink that created the identity is found by the new ``sub`` it recorded. A
    scoped helpdesk sees only the events of its organizations' accounts."""
    stmt = _scoped_trail(db, identity, scope)
    if event_type is not None:
        stmt = stmt.where(AuditEvent.type == event_type)
    if before is not None:
        stmt = stmt.where(AuditEvent.id < before)
    found = list(db.scalars(stmt.order_by(AuditEvent.id.desc()).limit(limit + 1)))
    more = len(found) > limit
    found = found[:limit]
    return found, (found[-1].id if more else None)


def audit_types(db: Session, identity: Identity, *,
                scope: HelpdeskScope | None = None) -> list[str]:
    """The kinds of event in the identity's trail as ``scope`` sees it, for a filter."""
    stmt = _scoped_trail(db, identity, scope).with_only_columns(AuditEvent.type).distinct()
    return sorted(db.scalars(stmt))


def _scoped_trail(db: Session, identity: Identity,
                  scope: HelpdeskScope | None) -> Select[AuditEvent]:
    stmt = select(AuditEvent).where(_trail_of(db, identity))
    if scope is not None and scope.organizations is not None:
        stmt = stmt.where(AuditEvent.organization.in_(sorted(scope.organizations)))
    return stmt


def audit_export(db: Session, identity: Identity | None, *, since: datetime | None = None,
                 batch: int = 500) -> Iterator[AuditEvent]:
    """Every event (of ``identity`` and its aliases when given), oldest first, read in
    batches by id so that an export of the whole trail holds only one batch in memory."""
    condition = _trail_of(db, identity) if identity is not None else true()
    after = 0
    while True:
        stmt = select(AuditEvent).where(condition, AuditEvent.id > after)
        if since is not None:
            stmt = stmt.where(AuditEvent.at >= since)
        rows = list(db.scalars(stmt.order_by(AuditEvent.id).limit(batch)))
        yield from rows
        if len(rows) < batch:
            return
        after = rows[-1].id


def _trail_of(db: Session, identity: Identity) -> ColumnElement[bool]:
    ids = related_identity_ids(db, identity)
    subs = [identity.sub, *(a.sub for a in db.scalars(
        select(IdentityAlias).where(IdentityAlias.identity_id == identity.id)))]
    created_by_unlink = [
        cast(AuditEvent.details, Text).like(f'%"new_sub": {_like(json.dumps(sub))}%', escape="!")
        for sub in subs
    ]
    return or_(
        AuditEvent.identity_id.in_(ids),
        (AuditEvent.type == AuditEventType.ACCOUNT_UNLINKED.value) & or_(*created_by_unlink),
    )


def find_proposal(db: Session, proposal_id: int) -> LinkProposal | None:
    if not 0 < proposal_id <= MAX_ID:
        return None
    return db.get(LinkProposal, proposal_id)


def proposals(db: Session, scope: HelpdeskScope, *, status: str | None, limit: int,
              after: int = 0) -> tuple[list[LinkProposal], int | None]:
    stmt = select(LinkProposal).where(LinkProposal.id > after, *proposals_seen_by(scope))
    if status is not None:
        stmt = stmt.where(LinkProposal.status == status)
    found = list(db.scalars(stmt.order_by(LinkProposal.id).limit(limit + 1)))
    more = len(found) > limit
    found = found[:limit]
    return found, (found[-1].id if more else None)


def proposals_seen_by(scope: HelpdeskScope) -> list[ColumnElement[bool]]:
    """The conditions on ``link_proposals`` that leave the proposals ``scope`` may see: for
    ``helpdesk:ORG``, those where either identity has an account of ORG; none for all."""
    if scope.organizations is None:
        return []
    in_scope = select(LinkedAccount.identity_id).where(
        LinkedAccount.organization.in_(sorted(scope.organizations)))
    return [or_(LinkProposal.identity_id.in_(in_scope),
                LinkProposal.candidate_identity_id.in_(in_scope))]
