"""The one-line calls the login, directory and token code make to count and time what they
do. Each costs a label lookup and one update of a value in memory (or, with several worker
processes, of a memory-mapped file): about a microsecond, never a lock held across I/O."""

from __future__ import annotations

import time

from idp.metrics.definitions import DIRECTORY_SECONDS, TOKENS


def directory_round_trip(organization: str, uri: str, operation: str, started: float) -> None:
    """One search or bind at ``uri`` that began at ``started`` (``time.perf_counter()``)."""
    DIRECTORY_SECONDS.labels(organization, uri, operation).observe(time.perf_counter() - started)


def token_issued(grant_type: str | None, client_id: str | None) -> None:
    """A token response (RFC 6749 5.1) about to be sent."""
    TOKENS.labels(grant_type or "none", client_id or "none").inc()
