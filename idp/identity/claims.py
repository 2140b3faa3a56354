"""The claims a relying party receives for a campus identity, by granted scope.

Single-valued claims come from the primary account: the one the person chose on /account,
else the first organization in the configured precedence (``[linking] primary_precedence``),
then the oldest link; ``affiliations``,
``entitlements`` and ``organizations`` are the union over all accounts (``entitlements`` also
holds the URIs of the resources the person's grants give, docs/access.md). docs/claims.md names
the eduPerson attribute behind each campus claim.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

from idp.settings import MatchClaim, OrganizationSettings
from idp.storage.identities import LinkedAccount

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s]+$")  # RFC 3986 scheme ":" and no space
SUPPORTED_SCOPES = ("openid", "profile", "email", "campus")

# Directory attributes that claims need, kept on the account between logins.
KEPT_ATTRIBUTES = frozenset(
    {"given_name", "family_name", "middle_name", "display_name", "email", "affiliation",
     "entitlement", "locale"}
)
# What linking compares but no claim carries (SNILS, a birth date): personal identifiers,
# never kept in clear (linking keeps only keyed hashes of them). Every other attribute an
# organization maps is kept, since access policies may name it (``programme``...).
LINKING_IDENTIFIERS = frozenset(c.value for c in MatchClaim) - KEPT_ATTRIBUTES


class Account(Protocol):
    """What claims read of an account: a ``LinkedAccount``, or its row
    (``idp.storage.token_rows``)."""

    @property
    def id(self) -> int: ...
    @property
    def organization(self) -> str: ...
    @property
    def username(self) -> str: ...
    @property
    def attributes(self) -> Mapping[str, Any]: ...
    @property
    def linked_at(self) -> datetime: ...


class Choice(Protocol):
    @property
    def account_id(self) -> int: ...


AccountT = TypeVar("AccountT", bound=Account, covariant=True)


class Person(Protocol[AccountT]):
    """What claims read of a campus identity: an ``Identity``, or its row."""

    @property
    def id(self) -> int: ...
    @property
    def sub(self) -> str: ...
    @property
    def campus_id(self) -> str: ...
    @property
    def accounts(self) -> Sequence[AccountT]: ...
    @property
    def primary_choice(self) -> Choice | None: ...


A = TypeVar("A", bound=Account)


def primary_account(identity: Person[A], precedence: Sequence[str] = ()) -> A:
    """The account the person chose on /account, while it is still theirs; else an
    organization earlier in ``precedence`` wins; unlisted ones come after, oldest link first."""
    if len(identity.accounts) == 1:
        return identity.accounts[0]  # most people: no need to read a choice
    choice = identity.primary_choice
    if choice is not None:
        for account in identity.accounts:
            if account.id == choice.account_id:
                return account
    rank = {org: i for i, org in enumerate(precedence)}
    return min(identity.accounts,
               key=lambda a: (rank.get(a.organization, len(rank)), a.linked_at, a.id))


def kept_attributes(attributes: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """What of a directory account's mapped attributes is stored on it: all but the linking
    identifiers, and none without a value."""
    kept = {k: list(v) for k, v in attributes.items() if k not in LINKING_IDENTIFIERS}
    return {k: v for k, v in kept.items() if v}


def claims_for(
    identity: Person[Account], scopes: Iterable[str], organizations: Mapping[str, OrganizationSettings],
    precedence: Sequence[str] = (), granted_entitlements: Iterable[str] = (),
) -> dict[str, Any]:
    """``granted_entitlements``: the entitlement URIs of the person's active and grace grants
    (``idp.identity.entitlements``), carried beside the directories' own."""
    granted = set(scopes)
    claims: dict[str, Any] = {"sub": identity.sub}
    account = primary_account(identity, precedence)
    attrs = account.attributes
    if "profile" in granted:
        org = organizations.get(account.organization)
        scope = org.scope if org else account.organization
        claims.update(
            name=_full_name(attrs),
            given_name=first_value(attrs, "given_name"),
            family_name=first_value(attrs, "family_name"),
            middle_name=first_value(attrs, "middle_name"),
            preferred_username=f"{account.username}@{scope}",
            locale=first_value(attrs, "locale") or "ru-RU",
        )
    if "email" in granted and (email := first_value(attrs, "email")):
        # Addresses come from the university's own directory, which manages them.
        claims.update(email=email, email_verified=True)
    if "campus" in granted:
        claims.update(
            campus_id=identity.campus_id,
            affiliations=scoped_affiliations(identity.accounts, organizations),
            entitlements=entitlement_uris(identity.accounts, granted_entitlements),
            organizations=sorted({a.organization for a in identity.accounts}),
        )
    return {k: v for k, v in claims.items() if v not in (None, "", [])}


def scoped_affiliations(
    accounts: Iterable[Account], organizations: Mapping[str, OrganizationSettings]
) -> list[str]:
    """eduPersonScopedAffiliation style values: ``student@tpu.ru``."""
    values: set[str] = set()
    for account in accounts:
        org = organizations.get(account.organization)
        scope = org.scope if org else account.organization
        values.update(f"{aff}@{scope}" for aff in account.attributes.get("affiliation", []))
    return sorted(values)


def entitlement_uris(accounts: Iterable[Account], granted: Iterable[str] = ()) -> list[str]:
    """eduPersonEntitlement values: absolute URIs (``urn:mace:...``, ``https://...``) only,
    from the directories and from the person's grants (``granted``)."""
    values = {str(v).strip() for a in accounts for v in a.attributes.get("entitlement", [])}
    values.update(str(v).strip() for v in granted)
    return sorted(v for v in values if _URI.match(v))


def first_value(attrs: Mapping[str, Any], name: str) -> str | None:
    values = attrs.get(name) or []
    return str(values[0]) if values else None


def display_name(account: LinkedAccount) -> str | None:
    """How the account's directory names the person (its display name, else given, middle
    and family names)."""
    return _full_name(account.attributes or {})


def _full_name(attrs: Mapping[str, Any]) -> str | None:
    if display := first_value(attrs, "display_name"):
        return display
    parts = [first_value(attrs, n) for n in ("given_name", "middle_name", "family_name")]
    return " ".join(p for p in parts if p) or None
