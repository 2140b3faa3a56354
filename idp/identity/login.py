"""Password login: check the password against the organization's directory, then find or
create the linked account and its campus identity, refreshing attributes from the directory.

The login throttle (``idp.identity.throttle``) is asked first: a throttled attempt never
reaches the directory. Runs inside the caller's transaction and writes the audit events of
what happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import cast

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.directory.base import AuthStatus, DirectoryAccount, LoginNames, PasswordDirectory
from idp.errors import DirectoryUnavailable
from idp.identity.claims import kept_attributes
from idp.identity.throttle import LoginThrottle
from idp.linking.rules import Linker, link_at_login
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.base import utcnow
from idp.storage.identities import (
    Identity,
    LinkedAccount,
    find_account,
    new_identity,
    note_login,
    touch_account,
)

MAX_CREATE_ATTEMPTS = 5


@dataclass(frozen=True)
class LoginOutcome:
    status: AuthStatus
    account: LinkedAccount | None = None
    # Set when the throttle refused the attempt: the password was not checked.
    retry_after_s: int | None = None
    # Set when the password was right but the helpdesk locked the identity (idp.identity.lock).
    identity_locked: bool = False

    @property
    def identity(self) -> Identity | None:
        return self.account.identity if self.account else None


def login_with_password(
    db: Session, directory: PasswordDirectory, username: str, password: str, *, ip: str | None,
    throttle: LoginThrottle, linker: Linker | None = None, client_id: str | None = None,
) -> LoginOutcome:
    """Raises ``DirectoryUnavailable`` (after auditing it) when the directory does not answer.
    With a ``linker``, the linking rules run on the account (``idp.linking.rules``).
    ``client_id``: the relying party the login is for, kept with its audit event."""
    proof = check_password(db, directory, username, password, ip=ip, throttle=throttle,
                           client_id=client_id)
    if proof.found is None:
        return LoginOutcome(proof.status, retry_after_s=proof.retry_after_s)
    org = directory.organization
    account, created, locked = signed_in_account(db, proof.found)
    if linker is not None:
        link_at_login(db, linker, account, proof.found, created=created)
    if created:  # a rule may have moved it onto an identity that already existed
        locked = account.identity.locked_at is not None
    if locked:
        audit.record(db, AuditEventType.LOGIN_REFUSED_LOCKED, actor=f"{org}:{account.username}",
                     identity_id=account.identity_id, organization=org, ip=ip,
                     client_id=client_id)
        return LoginOutcome(AuthStatus.ACCOUNT_LOCKED, identity_locked=True)
    audit.record_at_once(db, AuditEventType.LOGIN_SUCCEEDED, actor=f"{org}:{account.username}",
                         identity_id=account.identity_id, organization=org, ip=ip,
                         client_id=client_id)
    return LoginOutcome(AuthStatus.OK, account)


@dataclass(frozen=True)
class PasswordProof:
    """The directory's answer to a password, without touching any campus identity."""

    status: AuthStatus
    found: DirectoryAccount | None = None
    retry_after_s: int | None = None


def check_password(db: Session, directory: PasswordDirectory, username: str, password: str, *,
                   ip: str | None, throttle: LoginThrottle,
                   client_id: str | None = None) -> PasswordProof:
    """The throttled, audited password check that every login and every proof of a second
    account (``idp.linking.person``) goes through. Raises ``DirectoryUnavailable``."""
    org = directory.organization
    attempt = throttle.begin(org, counted_name(directory, username), ip)
    if not attempt.allowed:
        audit.record(db, AuditEventType.LOGIN_THROTTLED, actor=username[:64], organization=org,
                     ip=ip, client_id=client_id, scope=str(attempt.scope),
                     retry_after_s=attempt.retry_after_s)
        return PasswordProof(AuthStatus.INVALID_CREDENTIALS, retry_after_s=attempt.retry_after_s)
    try:
        result = directory.authenticate(username, password)
    except DirectoryUnavailable as exc:
        throttle.abandoned(attempt)
        audit.record(db, AuditEventType.LOGIN_DIRECTORY_UNAVAILABLE, organization=org, ip=ip,
                     detail=exc.detail)
        raise
    if result.status is not AuthStatus.OK or result.account is None:
        throttle.failed(attempt)
        audit.record(db, AuditEventType.LOGIN_FAILED, actor=username[:64], organization=org, ip=ip,
                     client_id=client_id, reason=result.status.value)
        return PasswordProof(result.status)
    throttle.succeeded(attempt)
    return PasswordProof(AuthStatus.OK, result.account)


def counted_name(directory: PasswordDirectory, username: str) -> str:
    """The name the login throttle counts an attempt under: one per account, whichever of its
    names was typed (``LoginNames``)."""
    if _takes_login_names(type(directory)):
        return cast(LoginNames, directory).login_name(username)
    return username


@cache
def _takes_login_names(kind: type) -> bool:
    """``LoginNames`` asked once per class of directory: a protocol's ``isinstance`` check
    walks its members at every call (every login asks)."""
    return issubclass(kind, LoginNames)


def upsert_account(db: Session, found: DirectoryAccount) -> LinkedAccount:
    """The linked account for a directory account, created with a new identity on first login."""
    return find_or_create_account(db, found)[0]


def find_or_create_account(db: Session, found: DirectoryAccount, *,
                           attach_to: Identity | None = None) -> tuple[LinkedAccount, bool]:
    """The linked account, and whether this call created it (with a new identity, or on
    ``attach_to`` when given: a person linking an account that never logged in).

    Two concurrent first logins of the same account meet at the unique constraint on
    (organization, external_id): the loser re-reads the winner's row.
    """
    for _ in range(MAX_CREATE_ATTEMPTS):
        account = find_account(db, found.organization, found.external_id)
        if account is not None:
            _refresh(db, account, found)
            return account, False
        try:
            with db.begin_nested():
                account = _create(db, found, attach_to)
            return account, True
        except IntegrityError:
            continue  # lost a race, or a campus_id collided: look again
    raise RuntimeError("could not create a campus identity after several attempts")


def signed_in_account(db: Session, found: DirectoryAccount) -> tuple[LinkedAccount, bool, bool]:
    """``find_or_create_account`` for a login, and whether the identity of an account it did
    not create is locked (linking never moves such an account, so that answer stands; the
    caller asks again for a created one). A known account (every login but the first) is
    read and its time set by one statement (``touch_account``); the rest take the general
    path."""
    touched = touch_account(db, found.organization, found.external_id, utcnow())
    if touched is None:
        account, created = find_or_create_account(db, found)
        return account, created, not created and account.identity.locked_at is not None
    _refresh_touched(touched.account, found)
    return touched.account, False, touched.locked


def _refresh_touched(account: LinkedAccount, found: DirectoryAccount) -> None:
    """``_refresh`` of an account whose login time is already set."""
    kept = _kept(found)
    if account.username == found.username and account.attributes == kept:
        return  # the usual login: only the time changed, and it is written
    account.username = found.username
    account.attributes = kept
    account.last_login_at = utcnow()


def _create(db: Session, found: DirectoryAccount, attach_to: Identity | None = None) -> LinkedAccount:
    identity = attach_to if attach_to is not None else new_identity(db)
    db.flush()
    account = LinkedAccount(
        identity=identity,
        organization=found.organization,
        external_id=found.external_id,
        username=found.username,
        attributes=_kept(found),
        last_login_at=utcnow(),
    )
    db.add(account)
    db.flush()
    if attach_to is not None:
        return account  # the caller audits the link
    audit.record(db, AuditEventType.IDENTITY_CREATED, actor="system", identity_id=identity.id,
                 organization=found.organization, sub=identity.sub, campus_id=identity.campus_id,
                 account=f"{found.organization}:{found.username}")
    return account


def _refresh(db: Session, account: LinkedAccount, found: DirectoryAccount) -> None:
    kept = _kept(found)
    if account.username == found.username and account.attributes == kept:
        note_login(db, account, utcnow())  # the usual login: only the time changes
        return
    account.username = found.username
    account.attributes = kept
    account.last_login_at = utcnow()


def _kept(found: DirectoryAccount) -> dict[str, list[str]]:
    """Every mapped attribute (claims and access policies read them) but the linking
    identifiers (``idp.identity.claims.kept_attributes``)."""
    return kept_attributes(found.attributes)
