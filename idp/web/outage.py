"""Answers while the database does not: 503 with ``Retry-After``, a page that says so to a
person, ``temporarily_unavailable`` to a client (the name RFC 6749 4.1.2.1 gives a server that
cannot serve for a while), never an error that blames the request.

The request's unit of work is dropped; SQLAlchemy's pool replaces dead connections at the next
checkout, so the provider recovers by itself when the database is back (no restart). The
outage is audited when the database takes the event (a dropped connection, say), at most once
a minute per process, and logged every time.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

from flask import Response, jsonify, render_template, request
from sqlalchemy import exc

from idp import context
from idp.storage import audit
from idp.storage.audit import AuditEventType

log = logging.getLogger(__name__)
RETRY_AFTER_S = 30
AUDIT_EVERY_S = 60.0
# Errors of reaching the database, as opposed to errors of a statement (an IntegrityError is
# a bug to fix, not an outage): connections refused or dropped, a database gone, the pool
# exhausted, SQLite's lock held past its timeout.
DATABASE_ERRORS: tuple[type[Exception], ...] = (exc.OperationalError, exc.InterfaceError,
                                                exc.TimeoutError)
_last_audit = -AUDIT_EVERY_S
_audit_lock = threading.Lock()


def answer(error: Exception, *, json: bool) -> Response:
    """The response to a request that failed because the database did not answer."""
    reason = _reason(error)
    log.error("database unavailable during %s %s: %s", request.method, request.path, reason)
    _drop_request_session()
    _audit(reason)
    if json:
        response = jsonify(error="temporarily_unavailable",
                           error_description="The service is temporarily unavailable. "
                                             f"Try again in {RETRY_AFTER_S} seconds.")
    else:
        response = Response(render_template("unavailable.html"), mimetype="text/html")
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    response.headers["Cache-Control"] = "no-store"
    return response


def _reason(error: Exception) -> str:
    orig = getattr(error, "orig", None) or error
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _drop_request_session() -> None:
    db = context.open_db()
    if db is not None:
        with contextlib.suppress(Exception):
            db.rollback()


def _audit(reason: str) -> None:
    """Record the outage in a unit of work of its own, when the database takes it."""
    global _last_audit
    with _audit_lock:
        now = time.monotonic()
        if now - _last_audit < AUDIT_EVERY_S:
            return
        _last_audit = now
    try:
        with context.services().sessions() as db:
            audit.record(db, AuditEventType.SERVICE_DATABASE_UNAVAILABLE, actor="system",
                         ip=request.remote_addr, path=request.path, reason=reason[:300])
            db.commit()
    except DATABASE_ERRORS as error:
        log.warning("could not audit the database outage either: %s", _reason(error))
