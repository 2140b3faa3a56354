"""The admin UI's own client, ``campus-admin``: the UI signs staff in as a relying party of
this provider (code flow with PKCE), so staff log in, hold sessions and are audited the same
way as everyone else.

Made or brought in step at every start. Its secret is derived from the server secret (HKDF
with a label of its own), so every worker knows it without storing it anywhere; only its
digest is in the database, like any client's.
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.settings import Settings
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.clients import Client, hash_secret

ADMIN_CLIENT_ID = "campus-admin"
ADMIN_SCOPE = "openid"
CALLBACK_PATH = "/admin/callback"
HELPDESK_CALLBACK_PATH = "/helpdesk/callback"  # the helpdesk console signs staff in alike
_LABEL = b"campus-id/admin-client-secret/v1"


def admin_redirect_uri(settings: Settings, callback: str = CALLBACK_PATH) -> str:
    return settings.server.issuer + callback


def admin_client_secret(settings: Settings) -> str:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LABEL).derive(
        settings.server.secret_key.encode("utf-8"))
    return base64.urlsafe_b64encode(key).rstrip(b"=").decode()


def ensure_admin_client(db: Session, settings: Settings) -> Client:
    """Create or correct ``campus-admin``: trusted (no consent screen), PKCE required, its
    redirect URIs under the issuer (the admin UI's and the helpdesk console's),
    client_secret_post with the derived secret."""
    client = db.scalars(select(Client).where(Client.client_id == ADMIN_CLIENT_ID)).one_or_none()
    if client is None:
        client = Client(client_id=ADMIN_CLIENT_ID)
        db.add(client)
        audit.record(db, AuditEventType.CLIENT_CREATED, actor="system", client_id=ADMIN_CLIENT_ID,
                     name="Campus ID admin", via="startup")
    client.name = "Campus ID admin"
    client.redirect_uris = [admin_redirect_uri(settings),
                            admin_redirect_uri(settings, HELPDESK_CALLBACK_PATH)]
    client.scopes = [ADMIN_SCOPE]
    client.grant_types = ["authorization_code"]
    client.public = False
    client.trusted = True
    client.pkce_required = True
    client.auth_method = "client_secret_post"
    client.secret_hash = hash_secret(admin_client_secret(settings))
    client.previous_secret_hash = None
    client.previous_secret_expires_at = None
    client.source = "internal"
    client.organization = None
    client.deleted_at = None
    client.disabled_at = None
    return client
