"""Counting what the audit trail records and watching the database pools, through SQLAlchemy
events: no code that writes an audit event or opens a connection knows about metrics.

An audit event is counted once its transaction commits (a rolled-back attempt counted
nothing): inserting one notes it on its session (``after_insert``, only for audit rows), the
commit counts what was noted, a rollback forgets it. A pool's checkouts and checkins move the
in-use gauge; its connects and closes the open one.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, object_session, sessionmaker

from idp.metrics.definitions import DB_CAPACITY, DB_IN_USE, DB_OPEN, LINKING, LOGINS, THROTTLED
from idp.storage.audit import AuditEvent, AuditEventType

NOTED = "campus_id.metrics.audit"  # Session.info key: (type, organization, actor, details)

_LOGIN_OUTCOMES: dict[str, str] = {  # audit event type: outcome
    AuditEventType.LOGIN_SUCCEEDED: "succeeded",
    AuditEventType.LOGIN_THROTTLED: "throttled",
    AuditEventType.LOGIN_DIRECTORY_UNAVAILABLE: "directory_unavailable",
    "login.refused_locked": "refused_locked",  # an identity locked by the helpdesk
}
_REFUSALS = frozenset({"invalid_credentials", "account_disabled", "account_locked",
                       "password_expired"})
_LINKING = frozenset({
    AuditEventType.ACCOUNT_LINKED, AuditEventType.LINK_PROPOSED, AuditEventType.LINK_APPROVED,
    AuditEventType.LINK_REJECTED, AuditEventType.IDENTITY_MERGED, AuditEventType.ACCOUNT_UNLINKED,
    AuditEventType.LINK_VALUE_INVALID, AuditEventType.PRIMARY_ACCOUNT_CHOSEN,
})
_COUNTED = frozenset({*_LOGIN_OUTCOMES, AuditEventType.LOGIN_FAILED, *_LINKING})
_installed = False


def count_audit_events(sessions: sessionmaker[Session]) -> None:
    """Count the audit events committed through ``sessions``' sessions."""
    global _installed
    if not _installed:  # one mapper listener for the process, however many apps it builds
        event.listen(AuditEvent, "after_insert", _note)
        _installed = True
    event.listen(sessions, "after_commit", _count)
    event.listen(sessions, "after_rollback", _forget)


def _note(_mapper: Any, _connection: Any, row: AuditEvent) -> None:
    if row.type not in _COUNTED:
        return
    session = object_session(row)
    if session is not None:
        session.info.setdefault(NOTED, []).append(
            (row.type, row.organization or "", row.actor or "", row.details or {}))


def _forget(session: Session) -> None:
    session.info.pop(NOTED, None)


def _count(session: Session) -> None:
    for kind, organization, actor, details in session.info.pop(NOTED, ()):
        count_event(kind, organization, actor, details)


def count_event(kind: str, organization: str, actor: str, details: dict[str, Any]) -> None:
    """The metrics one committed audit event moves."""
    if kind in _LINKING:
        rule = actor.removeprefix("rule:") if actor.startswith("rule:") else ""
        LINKING.labels(kind, rule).inc()
        return
    if kind == AuditEventType.LOGIN_FAILED:
        reason = str(details.get("reason", ""))
        LOGINS.labels(organization, reason if reason in _REFUSALS else "failed").inc()
        return
    LOGINS.labels(organization, _LOGIN_OUTCOMES[kind]).inc()
    if kind == AuditEventType.LOGIN_THROTTLED:
        scope = str(details.get("scope", ""))
        THROTTLED.labels(organization, scope if scope in ("account", "address") else "other").inc()


def watch_pool(engine: Engine) -> None:
    """Keep the connection gauges in step with ``engine``'s pool. A worker forked from the
    process that built the app replaces the pool (same listeners, its own connections): its
    capacity is added, in its own process, at its first checkout there."""
    pool = engine.pool
    size = getattr(pool, "size", None)
    capacity = (size() if callable(size) else 1) + max(getattr(pool, "_max_overflow", 0), 0)
    counted_in = [os.getpid()]
    DB_CAPACITY.inc(capacity)
    # The factory has already used the pool: start from what it holds now.
    in_use = getattr(pool, "checkedout", lambda: 0)()
    DB_IN_USE.inc(in_use)
    DB_OPEN.inc(in_use + getattr(pool, "checkedin", lambda: 0)())

    def checkout(*_: Any) -> None:
        if counted_in[0] != os.getpid():
            counted_in[0] = os.getpid()
            DB_CAPACITY.inc(capacity)
        DB_IN_USE.inc()

    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", lambda *_: DB_IN_USE.dec())
    event.listen(engine, "connect", lambda *_: DB_OPEN.inc())
    event.listen(engine, "close", lambda *_: DB_OPEN.dec())
    event.listen(engine, "close_detached", lambda *_: DB_OPEN.dec())
