"""Storage: SQLAlchemy 2 models, one module per aggregate. Repositories never commit."""

from idp.storage import (
    audit,
    cards,
    client_assertions,
    clients,
    grants,
    identities,
    keys,
    linking,
    logout,
    provisioning,
    pushed_requests,
    refresh_tokens,
    registration_tokens,
    release,
    search,
    sessions,
    tokens,
)
from idp.storage.base import Base

__all__ = [
    "Base", "audit", "cards", "client_assertions", "clients", "grants", "identities", "keys", "linking",
    "logout", "provisioning", "pushed_requests", "refresh_tokens", "registration_tokens",
    "release", "search", "sessions", "tokens",
]
