"""What the provider asks of an organization's directory, as small capability protocols.

A wrong password or an unknown user is a normal result (``AuthStatus.INVALID_CREDENTIALS``),
never an exception; a directory that cannot be reached raises ``DirectoryUnavailable``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable


class AuthStatus(StrEnum):
    OK = "ok"
    INVALID_CREDENTIALS = "invalid_credentials"  # wrong password or no such user: never told apart
    ACCOUNT_DISABLED = "account_disabled"
    ACCOUNT_LOCKED = "account_locked"
    PASSWORD_EXPIRED = "password_expired"


@dataclass(frozen=True)
class DirectoryAccount:
    """One account as the directory describes it, already mapped to claim names.

    ``external_id`` is the stable key (entryUUID, or objectGUID decoded to a UUID), never the
    DN or the username, which both change. ``attributes`` maps a claim name (``given_name``,
    ``email``, ``affiliation``...) to its values; affiliations are already translated to the
    eduPerson vocabulary through the organization's ``affiliation_map``.
    """

    organization: str
    external_id: str
    username: str
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def first(self, claim: str) -> str | None:
        values = self.attributes.get(claim, ())
        return values[0] if values else None


@dataclass(frozen=True)
class AuthResult:
    status: AuthStatus
    account: DirectoryAccount | None = None


class PasswordDirectory(Protocol):
    """A directory that checks a person's password with a live bind (passwords are never stored)."""

    organization: str

    def authenticate(self, username: str, password: str) -> AuthResult:
        """Find the account by username and bind as it. Raises ``DirectoryUnavailable`` when no
        URI answers within the timeout."""
        ...


@runtime_checkable
class GroupDirectory(Protocol):
    """A directory that can also tell whether an account is a member of a group (staff roles
    from ``admin_group_dn``)."""

    organization: str

    def is_member(self, username: str, group_dn: str) -> bool:
        """Raises ``DirectoryUnavailable`` when no URI answers within the timeout."""
        ...


@runtime_checkable
class LoginNames(Protocol):
    """A directory that takes one account under several typed names (Active Directory: the
    sAMAccountName and the userPrincipalName ``name@suffix``) and tells the login throttle
    which name to count an attempt under, so that the forms share one counter."""

    def login_name(self, username: str) -> str:
        ...


@dataclass(frozen=True)
class DirectoryEntry:
    """One account of a directory listing, and whether the directory says it is disabled
    (Active Directory's ``userAccountControl``, or the organization's ``disabled_filter``)."""

    account: DirectoryAccount
    disabled: bool


@dataclass
class DirectoryListing:
    """The accounts of a directory, read page by page while ``entries`` is iterated.

    ``entries`` raises ``DirectoryUnavailable`` when the directory fails part of the way: what
    it yielded until then is not the whole directory. ``incremental`` is true when only the
    accounts changed since the ``since`` mark come (a full listing also tells who is gone).
    ``mark`` is set once ``entries`` is exhausted: the ``since`` of the next listing (None:
    the next one must be full). ``skipped`` counts entries without a usable id or username.
    """

    entries: Iterator[DirectoryEntry]
    incremental: bool
    mark: str | None = None
    skipped: int = 0


@runtime_checkable
class ListableDirectory(Protocol):
    """A directory that can also list its accounts, all or those changed since a mark (the
    directory sync)."""

    organization: str

    def listing(self, since: str | None = None) -> DirectoryListing:
        """``since`` None: every account. Raises ``DirectoryUnavailable`` when no server
        answers; ``entries`` raises it too when the listing fails part of the way."""
        ...
