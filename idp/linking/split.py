"""Splitting an identity: several of its accounts move off it together onto ONE new identity.

Built on the unlink of ``idp.linking.actions`` (no second copy of its logic): the first
account is unlinked onto a new identity, each next one onto that same identity, so every
account moved writes its own ``account.unlinked`` event (the same ``new_sub``, and the
accounts of the whole split in its evidence), relying parties are told as for an unlink, and
the access grants of both identities are recomputed. One unit of work in the caller's
transaction; the identity keeps at least one account.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from idp.errors import Conflict, InvalidInput, NotFound
from idp.linking import actions
from idp.oidc.backchannel import Signer
from idp.settings.model import Settings
from idp.storage.identities import Identity, account_key


def check_accounts(identity: Identity, keys: Sequence[str]) -> list[str]:
    """The accounts (``org:username``) to move, each once and each the identity's; at least
    one, and at least one account stays."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        raise InvalidInput("no account", public="Choose at least one account to move.")
    own = {account_key(a) for a in identity.accounts}
    for key in wanted:
        if key not in own:
            raise NotFound(f"account {key!r} not on {identity.sub}",
                           public=f"{key} is not linked to this identity.")
    if len(wanted) >= len(own):
        raise Conflict("split of every account",
                       public="At least one account must stay with the identity.")
    return wanted


def split(db: Session, signer: Signer, identity: Identity, keys: Sequence[str], *, reason: str,
          actor: str, settings: Settings, evidence: Mapping[str, Any] | None = None,
          ip: str | None = None) -> tuple[Identity, list[int]]:
    """Move the accounts ``keys`` onto one new identity; returns it and the Security Event
    Tokens queued (deliver them after commit, ``actions.deliver_now``)."""
    wanted = check_accounts(identity, keys)
    created: Identity | None = None
    queued: list[int] = []
    for key in wanted:
        created, more = actions.unlink(
            db, signer, identity, key, reason=reason, actor=actor, settings=settings, ip=ip,
            onto=created, evidence={"method": "helpdesk", "split": wanted, **(evidence or {})})
        queued += more
    assert created is not None  # check_accounts: at least one account
    return created, queued
