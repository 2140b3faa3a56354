"""Which resources a campus identity may use, and why: the pure evaluation of
``[access.policies]`` over the person's accounts (no database, no clock of its own).

A policy holds for an account when every condition it gives holds for that same account: its
organization, one of its eduPerson affiliations, each named attribute having one of the
accepted values, today inside the policy's window (``valid_from`` and ``valid_until`` both
inclusive). Only accounts that their directory still holds as active count.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from idp.settings.model import AccessSettings, PolicySettings


@dataclass(frozen=True)
class AccountFacts:
    """What policies may look at of one account."""

    account_id: int
    organization: str
    name: str  # ``user@scope``, how people and ``access explain`` name it
    active: bool  # its directory still holds it and has not disabled it
    attributes: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True, order=True)
class Reason:
    """One policy granting one resource through one account."""

    policy: str
    account: str
    account_id: int

    def as_json(self) -> dict[str, str | int]:
        return {"policy": self.policy, "account": self.account, "account_id": self.account_id}


def policy_holds(policy: PolicySettings, account: AccountFacts, today: date) -> bool:
    if not account.active:
        return False
    if policy.valid_from is not None and today < policy.valid_from:
        return False
    if policy.valid_until is not None and today > policy.valid_until:
        return False
    if policy.organizations and account.organization not in policy.organizations:
        return False
    if policy.affiliations and not set(policy.affiliations) & set(
            account.attributes.get("affiliation", ())):
        return False
    return all(set(accepted) & set(account.attributes.get(claim, ()))
               for claim, accepted in policy.attributes.items())


def entitled(access: AccessSettings, accounts: Iterable[AccountFacts],
             today: date) -> dict[str, list[Reason]]:
    """Each resource the person may use, with EVERY policy and account that grants it."""
    accounts = list(accounts)
    result: dict[str, list[Reason]] = {}
    for policy in access.policies.values():
        holders = [a for a in accounts if policy_holds(policy, a, today)]
        if not holders:
            continue
        for resource in policy.resources:
            result.setdefault(resource, []).extend(
                Reason(policy.id, a.name, a.account_id) for a in holders)
    return {resource: sorted(set(reasons)) for resource, reasons in result.items()}


def grace_days(access: AccessSettings, policy_ids: Iterable[str]) -> int:
    """How long access goes on after these policies stop holding: the longest of their grace
    periods (a policy since removed from the configuration gives none)."""
    return max((access.policies[p].grace_days for p in policy_ids if p in access.policies),
               default=0)
