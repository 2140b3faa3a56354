"""The one-line calls the login, directory and token code make to count and time what they
do. Each costs a cached lookup and one update of a value in memory (or, with several worker
processes, of a memory-mapped file): microseconds (bench/metrics_cost.py), no I/O."""

from __future__ import annotations

import functools
import time

from prometheus_client import Counter, Histogram

from idp.metrics.definitions import DIRECTORY_SECONDS, TOKENS


def directory_round_trip(organization: str, uri: str, operation: str, started: float) -> None:
    """One search or bind at ``uri`` that began at ``started`` (``time.perf_counter()``)."""
    _directory(organization, uri, operation).observe(time.perf_counter() - started)


def token_issued(grant_type: str | None, client_id: str | None) -> None:
    """A token response (RFC 6749 5.1) about to be sent."""
    _tokens(grant_type or "none", client_id or "none").inc()


# Each label set's child, cached at C speed (prometheus_client's labels() validates and locks
# on every call); bounded like the labels themselves.
@functools.cache
def _directory(organization: str, uri: str, operation: str) -> Histogram:
    return DIRECTORY_SECONDS.labels(organization, uri, operation)


@functools.cache
def _tokens(grant_type: str, client_id: str) -> Counter:
    return TOKENS.labels(grant_type, client_id)
