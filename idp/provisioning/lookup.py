"""Finding the person an operator names in ``idp access explain``: ``user@scope`` (an account
of an organization, found whatever its directory says of it now: gone and disabled accounts
too), a ``sub`` (an alias sub answers with the identity that absorbed it) or a campus id."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.settings.model import Settings
from idp.storage.identities import IN_DIRECTORY, Identity, LinkedAccount, resolve_sub

CAMPUS_ID_LENGTH = 9


def find_person(db: Session, settings: Settings, name: str) -> Identity | None:
    name = name.strip()
    if not name:
        return None
    username, at, scope = name.rpartition("@")
    if at:
        return _by_account(db, settings, username, scope)
    if name.isdigit() and len(name) == CAMPUS_ID_LENGTH:
        found = db.scalars(select(Identity).where(Identity.campus_id == name)).one_or_none()
        if found is not None:
            return _current(db, found)
    resolved = resolve_sub(db, name)
    return resolved[0] if resolved is not None else None


def _by_account(db: Session, settings: Settings, username: str, scope: str) -> Identity | None:
    organizations = [o.id for o in settings.organizations.values()
                     if o.scope.lower() == scope.lower()]
    if not organizations or not username:
        return None
    accounts = list(db.scalars(select(LinkedAccount).where(
        LinkedAccount.organization.in_(organizations),
        LinkedAccount.username == username.lower()).limit(10)))
    if not accounts:
        return None
    # A username handed on after its first holder left: the one the directory holds now.
    chosen = min(accounts, key=lambda a: (a.directory_state != IN_DIRECTORY,
                                          -a.linked_at.timestamp(), -a.id))
    return chosen.identity


def _current(db: Session, identity: Identity) -> Identity:
    """The identity answering for ``identity`` today: itself, or the one that absorbed it."""
    seen: set[int] = set()
    while identity.merged_into_id is not None and identity.id not in seen:
        seen.add(identity.id)
        identity = db.get_one(Identity, identity.merged_into_id)
    return identity
