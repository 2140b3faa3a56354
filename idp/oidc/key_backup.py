"""What a backup says about the signing keys, and the check that a secret opens them.

The keys in the database are sealed under a key derived from ``secret_key`` (``idp.oidc.keys``),
so a backup is only as good as the secret kept beside it. A backup records the secret's
fingerprint (an HKDF output under a label of its own: it reveals nothing of the secret or of the
sealing key) and a restore compares it before touching the target, then unseals every key it
restored. Plain SQL on the columns every revision has, so it works on an older schema too.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection, text

from idp.oidc.keys import unseal

FINGERPRINT_INFO = b"campus-id/secret-key-fingerprint/v1"


def secret_fingerprint(secret_key: str) -> str:
    """32 hex digits that name ``secret_key`` without giving it away."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=16, salt=None, info=FINGERPRINT_INFO)
    return hkdf.derive(secret_key.encode("utf-8")).hex()


def published_kids(conn: Connection) -> list[str]:
    """The kids of the keys not retired, oldest first."""
    rows = conn.execute(text("SELECT kid FROM signing_keys WHERE retired_at IS NULL "
                             "ORDER BY activates_at, id"))
    return [str(row[0]) for row in rows]


def undecryptable_kids(conn: Connection, secret_key: str) -> list[str]:
    """The kids of the keys not retired that ``secret_key`` does not unseal."""
    rows = conn.execute(text("SELECT kid, encrypted_private_jwk FROM signing_keys "
                             "WHERE retired_at IS NULL ORDER BY activates_at, id"))
    failed: list[str] = []
    for kid, sealed in rows:
        try:
            unseal(secret_key, str(kid), bytes(sealed))
        except InvalidTag:
            failed.append(str(kid))
    return failed
