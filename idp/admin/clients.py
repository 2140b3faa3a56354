"""What staff do to relying parties: create, edit, disable, enable, delete, rotate a secret,
read a client's audit trail. Each change writes one audit event naming the staff member, in
the caller's transaction; the views and the CLI only parse and render.

Metadata goes through the same strict validation as dynamic registration
(``idp.oidc.client_metadata``), so a client means the same however it was registered.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.errors import Conflict
from idp.oidc.client_metadata import ClientMetadata
from idp.oidc.registration import apply_metadata, delete_client, revoke_client_tokens, summary
from idp.storage import audit
from idp.storage.audit import AuditEvent, AuditEventType
from idp.storage.base import utcnow
from idp.storage.clients import Client, hash_secret, new_client_id, new_client_secret

MAX_TRAIL = 200
# Clients kept in step with the configuration file at every start (``idp.admin.registry``), and the
# admin UI's own client: the file is theirs, so a change made elsewhere is refused.
STATIC_SOURCES = ("config", "internal")


@dataclass(frozen=True)
class Actor:
    """Who does it, as the audit trail names them (``staff:SUB`` in the UI, ``client:ID`` on
    the API), and where they came from."""

    label: str
    ip: str | None = None


@dataclass(frozen=True)
class Rotated:
    secret: str
    previous_expires_at: datetime | None


def clients_of(db: Session, organizations: Collection[str] | None) -> list[Client]:
    """Clients not deleted, of these organizations (None: every client, consortium ones too)."""
    stmt = select(Client).where(Client.deleted_at.is_(None)).order_by(Client.name, Client.id)
    if organizations is not None:
        stmt = stmt.where(Client.organization.in_(list(organizations)))
    return list(db.scalars(stmt))


def describe(client: Client) -> dict[str, Any]:
    """What automation and operators see of a client (the client management API, ``idp
    clients list``): never a secret or its digest."""
    return {
        "client_id": client.client_id,
        "organization": client.organization,
        "disabled": client.disabled_at is not None,
        "created_at": client.created_at.isoformat(),
        "source": client.source,
        **summary(client),
    }


def find_managed_client(db: Session, client_id: str) -> Client | None:
    """A client by id, disabled or not (never a deleted one)."""
    if not client_id or len(client_id) > 64:
        return None
    stmt = select(Client).where(Client.client_id == client_id, Client.deleted_at.is_(None))
    return db.scalars(stmt).one_or_none()


def create_client(db: Session, organization: str, metadata: ClientMetadata,
                  actor: Actor) -> tuple[Client, str | None]:
    """A client of ``organization``; its secret (None for a public client), shown once."""
    client = Client(client_id=new_client_id(), source="admin", organization=organization,
                    created_at=utcnow(), trusted=False)
    secret = apply_metadata(client, metadata)
    db.add(client)
    audit.record(db, AuditEventType.CLIENT_CREATED, actor=actor.label, ip=actor.ip,
                 organization=organization, client_id=client.client_id, via="admin",
                 **summary(client))
    return client, secret


def update_client(db: Session, client: Client, metadata: ClientMetadata, actor: Actor) -> None:
    """Replace the client's metadata; its secret stays unless it became public."""
    require_editable(client, "edit")
    before = summary(client)
    if metadata.public != client.public and not metadata.public:
        raise Conflict("public to confidential", public="A public client cannot become "
                       "confidential here: create a new client instead.")
    apply_metadata(client, metadata)
    after = summary(client)
    audit.record(db, AuditEventType.CLIENT_UPDATED, actor=actor.label, ip=actor.ip,
                 organization=client.organization, client_id=client.client_id, via="admin",
                 changed=sorted(k for k in after if after[k] != before.get(k)))


class StaticClientChange(Conflict):
    """A change to a client of the configuration file: 409, nothing changed; the caller writes
    it to the audit trail (``record_refusal``)."""

    public = "This client is defined in the configuration file; change it there."

    def __init__(self, client: Client, action: str) -> None:
        super().__init__(f"{client.client_id} is a static client: {action} refused")
        self.action = action


def disable_client(db: Session, client: Client, actor: Actor) -> None:
    """It logs nobody in and gets no tokens from now on; its live tokens are revoked. A
    client of the configuration file is disabled there (by removing it), never here."""
    require_editable(client, "disable")
    if client.disabled_at is not None:
        return
    client.disabled_at = utcnow()
    revoked = revoke_client_tokens(db, client)
    audit.record(db, AuditEventType.CLIENT_DISABLED, actor=actor.label, ip=actor.ip,
                 organization=client.organization, client_id=client.client_id,
                 **revoked.details())


def enable_client(db: Session, client: Client, actor: Actor) -> None:
    """Allowed for a client of the configuration file too: the file says it is in use, so
    enabling one disabled before such changes were refused brings it back in step."""
    if client.disabled_at is None:
        return
    client.disabled_at = None
    audit.record(db, AuditEventType.CLIENT_ENABLED, actor=actor.label, ip=actor.ip,
                 organization=client.organization, client_id=client.client_id)


def remove_client(db: Session, client: Client, actor: Actor) -> None:
    """Soft delete (``deleted_at``), its tokens revoked, as RFC 7592 deletion does."""
    require_editable(client, "delete")
    delete_client(db, client, ip=actor.ip, actor=actor.label)


def rotate_secret(db: Session, client: Client, overlap: timedelta, actor: Actor | str,
                  *, now: datetime | None = None) -> Rotated:
    """A new secret, shown once; the current one keeps working for ``overlap`` (none when
    zero), and one kept from an earlier rotation stops now."""
    require_editable(client, "rotate the secret")
    if client.public or not client.secret_hash:
        raise Conflict(f"{client.client_id} has no secret",
                       public="A public client has no secret to rotate.")
    moment = now or utcnow()
    secret = new_client_secret()
    if overlap > timedelta(0):
        client.previous_secret_hash = client.secret_hash
        client.previous_secret_expires_at = moment + overlap
    else:
        client.previous_secret_hash = None
        client.previous_secret_expires_at = None
    client.secret_hash = hash_secret(secret)
    label, ip = (actor.label, actor.ip) if isinstance(actor, Actor) else (actor, None)
    expires = client.previous_secret_expires_at
    audit.record(db, AuditEventType.CLIENT_SECRET_ROTATED, actor=label, ip=ip,
                 organization=client.organization, client_id=client.client_id,
                 previous_secret_expires_at=expires.isoformat() if expires else None)
    return Rotated(secret, expires)


def trail(db: Session, client: Client, limit: int = MAX_TRAIL) -> list[AuditEvent]:
    """The client's audit events, newest first."""
    stmt = (select(AuditEvent).where(AuditEvent.client_id == client.client_id)
            .order_by(AuditEvent.id.desc()).limit(limit))
    return list(db.scalars(stmt))


def record_refusal(db: Session, client: Client, refused: StaticClientChange, actor: Actor,
                   path: str | None = None) -> None:
    """The refused change, as ``admin.forbidden`` like every refused staff action; the caller
    rolls back what the request did first and commits this on its own."""
    audit.record(db, AuditEventType.ADMIN_FORBIDDEN, actor=actor.label, ip=actor.ip,
                 organization=client.organization, client_id=client.client_id,
                 path=audit.printable(path)[:200] if path else None,
                 reason=f"{refused.action}: a client of the configuration file")


def require_editable(client: Client, action: str) -> None:
    """Clients of the configuration file are kept in step with it at every start: a change
    made here would be undone or would contradict the file, so it is refused."""
    if client.source in STATIC_SOURCES:
        raise StaticClientChange(client, action)
