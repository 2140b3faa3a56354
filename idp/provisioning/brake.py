"""The safety brake: a change that would take access from too many of an organization's
accounts at once ends nothing until an operator accepts it, because a directory outage or a
mistyped policy must never look like "everyone left"."""

from __future__ import annotations

from idp.settings.model import DirectorySettings


def over_limit(removing: int, active: int, directory: DirectorySettings) -> bool:
    """More than BOTH ``max_removal_fraction`` of the active accounts and
    ``max_removal_floor`` accounts."""
    return (removing > directory.max_removal_fraction * active
            and removing > directory.max_removal_floor)


def reason(organization: str, removing: int, active: int, directory: DirectorySettings) -> str:
    return (f"{organization}: would end access for {removing} of {active} active accounts "
            f"(limit: more than {directory.max_removal_fraction:.0%} and more than "
            f"{directory.max_removal_floor}); run again with --accept-removals to proceed")
