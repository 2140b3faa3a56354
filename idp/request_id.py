"""The id of the request (or background job, or command) being handled, shared by every
layer: the log lines written while handling it carry it (``idp.logs``), and so does each audit
event written in it (``idp.storage.audit.record``). A context variable, so that storage reads
it without knowing of Flask, and threads and tasks each see their own.

Imports nothing of ``idp``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

MAX_LENGTH = 64
"""The longest id taken from a client (and the width of ``audit_events.request_id``)."""

HEADER = "X-Request-ID"

_SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+=-]{0,63}")
_current: ContextVar[str | None] = ContextVar("request_id", default=None)


def new() -> str:
    """A fresh id: 32 hexadecimal digits, random."""
    return secrets.token_hex(16)


def sane(offered: str | None) -> str | None:
    """``offered`` (an ``X-Request-ID`` a proxy or client sent) when it is fit to log as it
    is: 1 to 64 characters of letters, digits and ``. _ : @ + = -``, starting with a letter or
    digit; None otherwise (no control characters, spaces, quotes or arbitrary bytes ever reach
    a log line or the audit trail)."""
    if offered is None or len(offered) > MAX_LENGTH or not _SANE.fullmatch(offered):
        return None
    return offered


def from_header(offered: str | None) -> str:
    """The id of a request that came with ``offered``: that one when it is sane, else new."""
    return sane(offered) or new()


def current() -> str | None:
    """The id of the request, job or command being handled here, if any."""
    return _current.get()


def begin(request_id: str) -> Token[str | None]:
    """Make ``request_id`` the current one; the returned token ends it (``end``)."""
    return _current.set(request_id)


def end(token: Token[str | None]) -> None:
    _current.reset(token)


@contextmanager
def bound(request_id: str | None = None) -> Iterator[str]:
    """Within the block, ``request_id`` (a new one by default) is the current id: one
    background job or command."""
    chosen = request_id or new()
    token = _current.set(chosen)
    try:
        yield chosen
    finally:
        _current.reset(token)
