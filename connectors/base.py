"""The contract between the provider's delivery worker and a downstream connector.

A connector turns one delivery job (a grant or a revoke of one resource for one person) into
calls to the system it serves. Those calls must be safe to repeat: delivery is at least once,
and every attempt of a job carries the same ``Delivery.key``. A connector says how a failed
attempt failed by what it raises: ``RetryLater`` (the worker tries again with backoff) or
``NeverWorks`` (the job is dead-lettered at once); anything else it raises is a bug. This
module imports nothing from ``idp``: the provider depends on it, never the other way round.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable


class DeliveryKind(StrEnum):
    GRANT = "grant"
    REVOKE = "revoke"


@dataclass(frozen=True)
class Delivery:
    """One job as the connector sees it; its content is fixed when the job is queued."""

    key: str  # idempotency key, the same on every attempt of this job
    kind: DeliveryKind
    resource: str
    grant: Mapping[str, Any]  # {"state", "since", "until"}: ISO strings or None
    person: Mapping[str, Any]  # {"campus_id", "sub", "name", "email", "organizations", "affiliations"}
    # The resources of this connector the person still holds (active or grace) after this
    # change, this one included unless it ended: a connector serving several resources can
    # tell whether anything of it is left (Moodle suspends a user who has no course left).
    held: tuple[str, ...] = ()


class RetryLater(Exception):
    """This attempt failed in a way that may pass (a timeout, a refused connection, a 5xx).

    The message is what the worker keeps as the job's ``last_error`` (the answer's status and
    the start of its body); ``retry_after_s`` is the wait the other side asked for, if any.
    """

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class NeverWorks(Exception):
    """Repeating this job cannot help (a 4xx other than 408 or 429): dead-letter it at once.

    The message is kept as the job's ``last_error``.
    """


@runtime_checkable
class Connector(Protocol):
    """Grants and revokes; ``deliver`` must finish or raise within ``deadline_s`` seconds."""

    @property
    def name(self) -> str:
        """The instance's name, the key of its ``[connectors.NAME]`` table."""
        ...

    def deliver(self, delivery: Delivery, *, deadline_s: float) -> None:
        """Make the grant or revoke hold downstream; safe to repeat with the same delivery."""
        ...


@runtime_checkable
class ListingConnector(Connector, Protocol):
    """A connector that can also say what it holds, for the reconcile pass."""

    def list_granted(self, resource: str) -> Iterable[str]:
        """The campus ids the downstream system holds as granted for ``resource``."""
        ...
