"""How identities came to be as they are, from the audit trail alone.

``replay`` folds the membership events, oldest first, into which identity (``sub``) each
account belongs to and which retired ``sub`` answers to which survivor. It reads only what the
events recorded (never the identity tables), so comparing its result with the database checks
that every change to membership was audited with enough to explain it:

* ``identity.created`` and ``account.linked``: the account belongs to ``sub``;
* ``identity.merged`` and ``link.approved`` (with an ``absorbed_sub``): every account of
  ``absorbed_sub`` belongs to ``sub``, and ``absorbed_sub`` (and its own aliases) answer to it;
* ``account.unlinked``: the account belongs to ``new_sub``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from idp.storage.audit import AuditEventType


@dataclass
class Membership:
    accounts: dict[str, str] = field(default_factory=dict)  # "org:username" -> sub
    aliases: dict[str, str] = field(default_factory=dict)  # retired sub -> survivor's sub

    def groups(self) -> dict[str, frozenset[str]]:
        """Each sub that has accounts, with them."""
        found: dict[str, set[str]] = {}
        for account, sub in self.accounts.items():
            found.setdefault(sub, set()).add(account)
        return {sub: frozenset(accounts) for sub, accounts in found.items()}


def replay(events: Iterable[tuple[str, Mapping[str, Any]]]) -> Membership:
    """``events``: (type, details) pairs in the order they were recorded."""
    state = Membership()
    for kind, details in events:
        if kind in (AuditEventType.IDENTITY_CREATED, AuditEventType.ACCOUNT_LINKED):
            state.accounts[details["account"]] = details["sub"]
        elif kind in (AuditEventType.IDENTITY_MERGED, AuditEventType.LINK_APPROVED):
            if details.get("absorbed_sub"):
                _merge(state, details["sub"], details["absorbed_sub"])
        elif kind == AuditEventType.ACCOUNT_UNLINKED:
            state.accounts[details["account"]] = details["new_sub"]
    return state


def _merge(state: Membership, survivor: str, absorbed: str) -> None:
    for account, sub in state.accounts.items():
        if sub == absorbed:
            state.accounts[account] = survivor
    for alias, sub in state.aliases.items():
        if sub == absorbed:
            state.aliases[alias] = survivor
    state.aliases[absorbed] = survivor
