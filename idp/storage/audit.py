"""The audit trail: one row per security event, written in the caller's transaction.

Details never hold a password or a token value; they hold what an auditor needs to explain
what happened (who, which client, which account, from where).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any, cast

from sqlalchemy import JSON, Insert, Integer, String, Table, insert, inspect, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from idp import request_id as request_ids
from idp.storage import on_driver
from idp.storage.adopted import adopt
from idp.storage.base import Base, UtcDateTime, utcnow


class AuditEventType(StrEnum):
    LOGIN_SUCCEEDED = "login.succeeded"
    LOGIN_FAILED = "login.failed"
    LOGIN_DIRECTORY_UNAVAILABLE = "login.directory_unavailable"
    LOGIN_THROTTLED = "login.throttled"
    LOGIN_REFUSED_LOCKED = "login.refused_locked"
    LOGIN_THROTTLE_CLEARED = "login.throttle_cleared"
    IDENTITY_LOCKED = "identity.locked"
    IDENTITY_UNLOCKED = "identity.unlocked"
    SERVICE_DATABASE_UNAVAILABLE = "service.database_unavailable"
    IDENTITY_CREATED = "identity.created"
    ACCOUNT_LINKED = "account.linked"
    ACCOUNT_UNLINKED = "account.unlinked"
    IDENTITY_MERGED = "identity.merged"
    LINK_APPROVED = "link.approved"
    LINK_REJECTED = "link.rejected"
    LINK_PROPOSED = "link.proposed"
    LINK_VALUE_INVALID = "link.invalid_value"
    LINK_PROOF_FAILED = "link.proof_failed"
    LINK_REAUTH_FAILED = "link.reauth_failed"
    LINK_UNDO_REFUSED = "link.undo_refused"
    PRIMARY_ACCOUNT_CHOSEN = "identity.primary_chosen"
    CONSENT_GRANTED = "consent.granted"
    CONSENT_DENIED = "consent.denied"
    CONSENT_REVOKED = "consent.revoked"
    CODE_REUSED = "token.code_reused"
    TOKEN_ISSUED = "token.issued"
    REFRESH_TOKEN_REUSED = "token.refresh_reused"
    TOKEN_REVOKED = "token.revoked"
    CLIENT_CREATED = "client.created"
    CLIENT_UPDATED = "client.updated"
    CLIENT_DELETED = "client.deleted"
    CLIENT_ASSERTION_REPLAYED = "client.assertion_replayed"
    CLIENT_RELEASE_CHANGED = "client.release_changed"
    CLIENT_DISABLED = "client.disabled"
    CLIENT_ENABLED = "client.enabled"
    CLIENT_SECRET_ROTATED = "client.secret_rotated"
    REGISTRATION_TOKEN_REVOKED = "registration_token.revoked"
    ADMIN_SIGNED_IN = "admin.signed_in"
    ADMIN_FORBIDDEN = "admin.forbidden"
    REGISTRATION_TOKEN_CREATED = "registration_token.created"
    REGISTRATION_TOKEN_USED = "registration_token.used"
    REGISTRATION_REFUSED = "registration.refused"
    REGISTRATION_FAILED = "registration.failed"
    SIGNING_KEY_CREATED = "key.created"
    KEY_ROTATED = "key.rotated"
    KEY_ACTIVATED = "key.activated"
    KEY_RETIRED = "key.retired"
    LOGOUT = "session.logout"
    LOGOUT_EVERYWHERE = "session.logout_everywhere"
    LOGOUT_DELIVERED = "logout.delivered"
    LOGOUT_DELIVERY_FAILED = "logout.delivery_failed"
    SECURITY_EVENT_DELIVERED = "security_event.delivered"
    SECURITY_EVENT_DELIVERY_FAILED = "security_event.delivery_failed"
    ACCESS_GRANTED = "access.granted"
    ACCESS_GRACE = "access.grace"
    ACCESS_ENDED = "access.ended"
    ACCESS_RECOMPUTE_STOPPED = "access.recompute_stopped"
    DELIVERY_FAILED = "delivery.failed"
    DELIVERY_RETRIED = "delivery.retried"
    DIRECTORY_SYNCED = "directory.synced"
    DIRECTORY_SYNC_STOPPED = "directory.sync_stopped"
    ACCOUNT_DISABLED = "account.disabled"
    ACCOUNT_GONE = "account.gone"
    ACCOUNT_REACTIVATED = "account.reactivated"
    CARD_ISSUED = "card.issued"
    CARD_REVOKED = "card.revoked"


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    actor: Mapped[str] = mapped_column(String(200), default="")
    identity_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    client_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    organization: Mapped[str | None] = mapped_column(String(32), nullable=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)


def record(
    db: Session,
    type: AuditEventType,
    *,
    actor: str = "",
    identity_id: int | None = None,
    client_id: str | None = None,
    organization: str | None = None,
    ip: str | None = None,
    **details: Any,
) -> AuditEvent:
    """The event, added to ``db``: written at the next flush, committed with the caller's
    transaction."""
    event = AuditEvent(**_fields(type, actor, identity_id, client_id, organization, ip, details))
    db.add(event)
    return event


def record_at_once(
    db: Session,
    type: AuditEventType,
    *,
    actor: str = "",
    identity_id: int | None = None,
    client_id: str | None = None,
    organization: str | None = None,
    ip: str | None = None,
    **details: Any,
) -> AuditEvent:
    """``record``, written now by one prepared INSERT in the session's transaction instead of
    at the next flush (the unit of work cost several times the statement; the login writes
    one per request), past SQLAlchemy's execution on PostgreSQL (``idp.storage.on_driver``).
    What a flush would do is kept: the session's pending changes go first (ids stay in the
    order events happened), the row joins the session as if flushed, and the mapper's
    ``after_insert`` listeners (the metrics' count) see it."""
    if db.autoflush:
        db.flush()
    values = {"at": utcnow(),
              **_fields(type, actor, identity_id, client_id, organization, ip, details)}
    connection = db.connection()
    ((values["id"],),) = on_driver.rows(connection, _insert_event(), values)
    event = adopt(db, AuditEvent, values)
    mapper = inspect(AuditEvent)
    mapper.dispatch.after_insert(mapper, connection, inspect(event))  # as a flush calls it
    return event


def _fields(type: AuditEventType, actor: str, identity_id: int | None, client_id: str | None,
            organization: str | None, ip: str | None, details: dict[str, Any]) -> dict[str, Any]:
    """An event's columns (all but ``at`` and ``id``) as both ways write them."""
    return {"type": type.value, "actor": printable(actor)[:200], "identity_id": identity_id,
            "client_id": client_id, "organization": organization, "ip": ip, "details": details,
            "request_id": request_ids.current()}


@cache
def _insert_event() -> Insert:
    """Built once."""
    table = cast(Table, AuditEvent.__table__)
    return insert(table).returning(table.c.id)


def printable(text: str) -> str:
    """Control characters (a NUL typed into a username...) escaped, so that any input can be
    recorded as it was given, on every database."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)


def events(db: Session, type: AuditEventType | None = None) -> list[AuditEvent]:
    stmt = select(AuditEvent).order_by(AuditEvent.id)
    if type is not None:
        stmt = stmt.where(AuditEvent.type == type.value)
    return list(db.scalars(stmt))
