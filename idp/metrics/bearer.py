"""The bearer token that protects ``/metrics`` (RFC 6750 2.1), checked in constant time."""

from __future__ import annotations

import hmac


def bearer_matches(header: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``token``."""
    scheme, _, value = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip() or not token:
        return False
    return hmac.compare_digest(value.strip().encode(), token.encode())
