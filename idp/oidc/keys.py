"""Signing keys: generated on first start, kept in the database encrypted, published as JWKS.

The private JWK is sealed with AES-256-GCM under a key derived (HKDF-SHA256) from the server
secret, so a copy of the database alone does not let anyone sign tokens. A ``KeyRing`` is one
process's snapshot of the keys (``idp.oidc.key_schedule`` says which signs and which are only
published); ``idp.oidc.live_keys`` replaces it when the keys or their states change.
"""

from __future__ import annotations

import json
import os
import secrets
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, OKPKey, RSAKey, import_key
from joserfc.jws import JWSRegistry
from sqlalchemy.orm import Session

from idp.oidc.key_schedule import KeyState, KeyTimes, ScheduledKey, next_change, schedule
from idp.storage import audit
from idp.storage.base import utcnow
from idp.storage.keys import SigningKey, active_keys

SUPPORTED_ALGS = ("ES256", "RS256", "EdDSA")
JoseKey = ECKey | RSAKey | OKPKey

# "EdDSA" (RFC 8037) is the name relying party libraries know; joserfc calls it deprecated and
# not recommended only because RFC 9864 prefers "Ed25519". We offer it deliberately, so the
# warning is not news, and code that signs with joserfc's recommended set (Authlib's RFC 9068
# access tokens) may use it too.
warnings.filterwarnings("ignore", message="EdDSA is deprecated", category=SecurityWarning)
if "EdDSA" not in JWSRegistry.recommended:
    JWSRegistry.recommended.append("EdDSA")


def _wrapping_key(secret_key: str) -> AESGCM:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"campus-id/signing-key-encryption/v1")
    return AESGCM(hkdf.derive(secret_key.encode("utf-8")))


def seal(secret_key: str, kid: str, plaintext: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + _wrapping_key(secret_key).encrypt(nonce, plaintext, kid.encode())


def unseal(secret_key: str, kid: str, sealed: bytes) -> bytes:
    return _wrapping_key(secret_key).decrypt(sealed[:12], sealed[12:], kid.encode())


def generate_key(alg: str) -> JoseKey:
    kid = f"{alg.lower()}-{secrets.token_urlsafe(12)}"
    params: Any = {"kid": kid, "alg": alg, "use": "sig"}
    if alg == "ES256":
        return ECKey.generate_key("P-256", parameters=params, private=True)
    if alg == "RS256":
        return RSAKey.generate_key(2048, parameters=params, private=True)
    if alg == "EdDSA":
        return OKPKey.generate_key("Ed25519", parameters=params, private=True)
    raise ValueError(f"unsupported signing algorithm {alg}")


def new_key_row(secret_key: str, alg: str, activates_at: datetime) -> SigningKey:
    """A new key of ``alg``, sealed, signing from ``activates_at`` (not yet added)."""
    key = generate_key(alg)
    kid = str(key.kid)
    private = json.dumps(key.as_dict(private=True)).encode()
    return SigningKey(kid=kid, alg=alg, encrypted_private_jwk=seal(secret_key, kid, private),
                      activates_at=activates_at)


def ensure_keys(db: Session, secret_key: str, now: datetime | None = None) -> None:
    """Create a key for every supported algorithm that has none (first start, or an algorithm
    added by an upgrade). Active at once: no token of that algorithm exists yet."""
    have = {k.alg for k in active_keys(db)}
    now = now or utcnow()
    for alg in SUPPORTED_ALGS:
        if alg in have:
            continue
        row = new_key_row(secret_key, alg, now)
        row.activated_at = now
        db.add(row)
        audit.record(db, audit.AuditEventType.SIGNING_KEY_CREATED, actor="system", kid=row.kid,
                     alg=alg)
    db.flush()


@dataclass(frozen=True)
class KeyRing:
    """One snapshot of the keys: the signing key of each algorithm and every published key,
    true until ``valid_until`` (the next activation or retirement) or a key is added."""

    signing: dict[str, JoseKey]
    published: tuple[JoseKey, ...]
    valid_until: datetime | None = None

    def key_for(self, alg: str) -> JoseKey:
        return self.signing[alg]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.as_dict(private=False) for k in self.published]}

    @cached_property
    def jwks_body(self) -> bytes:
        """The JWKS document serialised once per ring (a ring never changes; new keys make a
        new ring), so serving it exports no key per request."""
        return json.dumps(self.jwks(), separators=(",", ":")).encode()


def key_schedule(rows: list[SigningKey], now: datetime, retention: timedelta) -> list[ScheduledKey]:
    times = [KeyTimes(r.kid, r.alg, r.activates_at, r.retired_at) for r in rows]
    return schedule(times, now, retention)


def load_keyring(db: Session, secret_key: str, *, retention: timedelta,
                 now: datetime | None = None, known: Mapping[str, JoseKey] | None = None) -> KeyRing:
    """The ring at ``now``. Keys in ``known`` (by kid, from the previous ring) are reused; the
    others are unsealed and imported (an RSA key takes tens of milliseconds)."""
    now = now or utcnow()
    known = known or {}
    rows = active_keys(db)
    planned = key_schedule(rows, now, retention)
    states = {k.kid: k.state for k in planned}
    signing: dict[str, JoseKey] = {}
    published: list[JoseKey] = []
    for row in rows:
        state = states[row.kid]
        if state is KeyState.RETIRED:
            continue
        key = known.get(row.kid) or _unsealed(secret_key, row)
        published.append(key)
        if state is KeyState.ACTIVE:
            signing[row.alg] = key
    missing = [alg for alg in SUPPORTED_ALGS if alg not in signing]
    if missing:
        raise RuntimeError(f"no signing key for {', '.join(missing)}; run `idp db upgrade`")
    return KeyRing(signing=signing, published=tuple(published),
                   valid_until=next_change(planned, now))


def _unsealed(secret_key: str, row: SigningKey) -> JoseKey:
    key = import_key(json.loads(unseal(secret_key, row.kid, row.encrypted_private_jwk)))
    assert isinstance(key, ECKey | RSAKey | OKPKey)
    return key
