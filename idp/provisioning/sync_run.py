"""What a directory sync of one organization carries from page to page: who it writes for and
when, and what each page did and found."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class SyncRun:
    """Which organization a sync writes, as whom (audit actor), and its moment."""

    organization: str
    actor: str
    now: datetime


@dataclass
class PageOutcome:
    """What writing one page did and found (merged into the sync's totals after commit)."""

    new: int = 0
    changed: int = 0
    # Accounts the directory says are disabled and that are not marked so yet: id -> state.
    removals: dict[int, str] = field(default_factory=dict)
    # Of those, the ones still active: the accounts that would lose access (the brake counts).
    ending: set[int] = field(default_factory=set)
    # Identities with grant changes held back (grace or end) until the brake has spoken.
    held: set[int] = field(default_factory=set)

    def add(self, page: PageOutcome) -> None:
        self.new += page.new
        self.changed += page.changed
        self.removals.update(page.removals)
        self.ending |= page.ending
        self.held |= page.held
