"""Signing keys: generated on first start, kept in the database encrypted, published as JWKS.

The private JWK is sealed with AES-256-GCM under a key derived (HKDF-SHA256) from the server
secret, so a copy of the database alone does not let anyone sign tokens.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc.jwk import ECKey, RSAKey
from sqlalchemy.orm import Session

from idp.storage import audit
from idp.storage.keys import SigningKey, active_keys

SUPPORTED_ALGS = ("ES256", "RS256")
JoseKey = ECKey | RSAKey


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
    raise ValueError(f"unsupported signing algorithm {alg}")


def ensure_keys(db: Session, secret_key: str) -> None:
    """Create a key for every supported algorithm that has none (first start)."""
    have = {k.alg for k in active_keys(db)}
    for alg in SUPPORTED_ALGS:
        if alg in have:
            continue
        key = generate_key(alg)
        kid = str(key.kid)
        private = json.dumps(key.as_dict(private=True)).encode()
        db.add(SigningKey(kid=kid, alg=alg, encrypted_private_jwk=seal(secret_key, kid, private)))
        audit.record(db, audit.AuditEventType.SIGNING_KEY_CREATED, actor="system", kid=kid, alg=alg)


@dataclass(frozen=True)
class KeyRing:
    """The keys a process signs with: the newest active key of each algorithm."""

    signing: dict[str, JoseKey]
    published: tuple[JoseKey, ...]

    def key_for(self, alg: str) -> JoseKey:
        return self.signing[alg]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.as_dict(private=False) for k in self.published]}

    @cached_property
    def jwks_body(self) -> bytes:
        """The JWKS document serialised once per ring (a ring never changes; new keys make a
        new ring), so serving it exports no key per request."""
        return json.dumps(self.jwks(), separators=(",", ":")).encode()


def load_keyring(db: Session, secret_key: str) -> KeyRing:
    from joserfc.jwk import import_key

    keys = []
    signing: dict[str, JoseKey] = {}
    for row in active_keys(db):
        data = json.loads(unseal(secret_key, row.kid, row.encrypted_private_jwk))
        key = import_key(data)
        assert isinstance(key, ECKey | RSAKey)
        keys.append(key)
        signing[row.alg] = key  # rows are oldest first: the newest wins
    missing = [alg for alg in SUPPORTED_ALGS if alg not in signing]
    if missing:
        raise RuntimeError(f"no signing key for {', '.join(missing)}; run `idp db upgrade`")
    return KeyRing(signing=signing, published=tuple(keys))
