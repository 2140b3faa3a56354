"""Finding the person an operator names in ``idp access explain`` and ``idp card``:
``user@scope`` (an account of an organization, found whatever its directory says of it now:
gone and disabled accounts too), a ``sub`` (an alias sub answers with the identity that
absorbed it), a campus id (nine digits) or a card number (twelve, spaces and dashes allowed;
an active or a revoked card finds its holder). Digits that are neither are refused with
what is wrong (``NotACardNumber``): a mistyped card number never finds someone else."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.errors import InvalidInput
from idp.provisioning.card_numbers import check_card_number
from idp.settings.model import Settings
from idp.storage.cards import CampusCard
from idp.storage.identities import IN_DIRECTORY, Identity, LinkedAccount, resolve_sub

CAMPUS_ID_LENGTH = 9
_SEPARATORS = str.maketrans("", "", " -\u00a0")


class NotACardNumber(InvalidInput):
    """Digits typed for a person that are neither a campus id nor a valid card number."""


def find_person(db: Session, settings: Settings, name: str) -> Identity | None:
    name = name.strip()
    if not name:
        return None
    username, at, scope = name.rpartition("@")
    if at:
        return _by_account(db, settings, username, scope)
    digits = name.translate(_SEPARATORS)
    if digits.isascii() and digits.isdigit() and len(digits) == CAMPUS_ID_LENGTH:
        found = db.scalars(select(Identity).where(Identity.campus_id == digits)).one_or_none()
        if found is not None:
            return _current(db, found)
    elif digits.isascii() and digits.isdigit():
        card = named_card(db, name)  # or NotACardNumber: never a lookup of something else
        return _current(db, db.get_one(Identity, card.identity_id)) if card else None
    resolved = resolve_sub(db, name)
    return resolved[0] if resolved is not None else None


def named_card(db: Session, name: str) -> CampusCard | None:
    """The card ``name`` is the number of, active or revoked; None when ``name`` is not
    digits (spaces and dashes allowed) or no card has that number.

    Raises ``NotACardNumber`` (check_card_number's reason) for other digits than a campus
    id's nine, e.g. one digit wrong or two neighbours swapped."""
    digits = name.strip().translate(_SEPARATORS)
    if not (digits.isascii() and digits.isdigit()) or len(digits) == CAMPUS_ID_LENGTH:
        return None
    number, problem = check_card_number(name)
    if number is None:
        raise NotACardNumber(f"not a card number: {name!r}",
                             public=f"{name.strip()!r} is not a card number. {problem}")
    return db.scalars(select(CampusCard).where(CampusCard.number == number)).one_or_none()


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
