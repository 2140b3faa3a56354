"""The two cached documents a verifier works from: the issuer's key set (a JWKS, RFC 7517) and
its revocation list, read from files or from the bytes ``refresh`` fetched.

Only keys that can sign a pass are kept: EC P-256 (ES256) and Ed25519 (EdDSA); an RSA key of
the same JWKS is skipped. A document that is not what it should be raises ``CacheError``."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

PublicKey = ec.EllipticCurvePublicKey | Ed25519PublicKey


class CacheError(Exception):
    """A cached key set or revocation list that cannot be used (unreadable or malformed)."""


@dataclass(frozen=True)
class KeySet:
    """Pass-signing public keys by key id, each with its COSE algorithm (-7 ES256, -8 EdDSA)."""

    keys: dict[str, tuple[int, PublicKey]]


@dataclass(frozen=True)
class Revoked:
    """Passes of ``campus_id`` issued at or before ``before`` (seconds since the epoch) are
    revoked: those proving ``entitlement``, or all of them when it is empty."""

    campus_id: str
    before: int
    entitlement: str = ""


@dataclass(frozen=True)
class Revocations:
    issuer: str
    issued_at: int
    ttl: int  # how long the list may be used before it is fetched again, in seconds
    entries: tuple[Revoked, ...]

    def revokes(self, campus_id: str, entitlements: tuple[str, ...], iat: int) -> bool:
        return any(e.campus_id == campus_id and iat <= e.before
                   and (not e.entitlement or e.entitlement in entitlements)
                   for e in self.entries)


def _b64url(value: Any) -> bytes:
    if not isinstance(value, str):
        raise CacheError("a key parameter is not a string")
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _public_key(jwk: dict[str, Any]) -> tuple[int, PublicKey] | None:
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if kty == "EC" and crv == "P-256" and jwk.get("alg", "ES256") == "ES256":
        x, y = _b64url(jwk.get("x")), _b64url(jwk.get("y"))
        if len(x) != 32 or len(y) != 32:
            raise CacheError("an EC key with a bad point")
        numbers = ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"),
                                                ec.SECP256R1())
        return -7, numbers.public_key()
    if kty == "OKP" and crv == "Ed25519" and jwk.get("alg", "EdDSA") in ("EdDSA", "Ed25519"):
        return -8, Ed25519PublicKey.from_public_bytes(_b64url(jwk.get("x")))
    return None


def parse_keys(data: bytes) -> KeySet:
    try:
        document = json.loads(data)
        keys: dict[str, tuple[int, PublicKey]] = {}
        for jwk in document["keys"]:
            if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig" or "kid" not in jwk:
                continue
            found = _public_key(jwk)
            if found is not None:
                keys[str(jwk["kid"])] = found
    except (ValueError, KeyError, TypeError) as exc:
        raise CacheError(f"not a key set: {exc}") from exc
    if not keys:
        raise CacheError("the key set has no ES256 or EdDSA signing key")
    return KeySet(keys)


def parse_revocations(data: bytes) -> Revocations:
    try:
        document = json.loads(data)
        entries = tuple(Revoked(campus_id=str(e["campus_id"]), before=int(e["before"]),
                                entitlement=str(e.get("entitlement", "")))
                        for e in document["revoked"])
        return Revocations(issuer=str(document["issuer"]), issued_at=int(document["issued_at"]),
                           ttl=int(document["ttl"]), entries=entries)
    except (ValueError, KeyError, TypeError) as exc:
        raise CacheError(f"not a revocation list: {exc}") from exc


def _read(path: str | Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CacheError(f"{path}: cannot be read: {exc.strerror}") from exc


def load_keys(path: str | Path) -> KeySet:
    data = _read(path)
    try:
        return parse_keys(data)
    except CacheError as exc:
        raise CacheError(f"{path}: {exc}") from None


def load_revocations(path: str | Path) -> Revocations:
    data = _read(path)
    try:
        return parse_revocations(data)
    except CacheError as exc:
        raise CacheError(f"{path}: {exc}") from None
