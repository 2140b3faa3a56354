"""A pass on the wire: ``CP1:`` then Base45 (RFC 9285) of a tagged COSE_Sign1 (RFC 9052 4.2)
over a CWT claims set (RFC 8392), signed with the provider's ES256 or EdDSA key and naming it
by its JWK ``kid``. ``campus_pass.cose`` is the verifier's reading of the same layout.

Claims: ``iss`` (1), ``sub`` (2) = the campus id, ``exp`` (4), ``iat`` (6), ``cti`` (7) = the
pass id, -65537 (private use) the display name, -65538 (private use) the entitlements.
The text uses only the QR code's alphanumeric characters, so a QR code of version 15 at error
correction M holds up to ``MAX_TEXT`` characters of it."""

from __future__ import annotations

from dataclasses import dataclass

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from idp.oidc.keys import JoseKey

PREFIX = "CP1:"
# Alphanumeric capacity of a version 15 QR code at error correction M (ISO/IEC 18004 table 7).
MAX_TEXT = 600
COSE_ALGS = {"ES256": -7, "EdDSA": -8}
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


@dataclass(frozen=True)
class PassClaims:
    issuer: str
    campus_id: str
    name: str
    entitlements: tuple[str, ...]
    issued_at: int  # seconds since the epoch
    expires_at: int
    pass_id: bytes


def b45encode(data: bytes) -> str:
    """RFC 9285 section 4: two bytes to three characters, a last single byte to two."""
    out = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        out += [_ALPHABET[n % 45], _ALPHABET[n // 45 % 45], _ALPHABET[n // 2025]]
    if len(data) % 2:
        out += [_ALPHABET[data[-1] % 45], _ALPHABET[data[-1] // 45]]
    return "".join(out)


def encode(claims: PassClaims, alg: str, key: JoseKey) -> str:
    """The signed pass text."""
    protected = cbor2.dumps({1: COSE_ALGS[alg], 4: str(key.kid).encode()})
    payload = cbor2.dumps({1: claims.issuer, 2: claims.campus_id, 4: claims.expires_at,
                           6: claims.issued_at, 7: claims.pass_id, -65537: claims.name,
                           -65538: list(claims.entitlements)})
    to_be_signed = cbor2.dumps(["Signature1", protected, b"", payload])
    signature = _sign(key, to_be_signed)
    sign1 = cbor2.CBORTag(18, [protected, {}, payload, signature])
    return PREFIX + b45encode(cbor2.dumps(sign1))


def _sign(key: JoseKey, data: bytes) -> bytes:
    private = key.private_key
    if isinstance(private, Ed25519PrivateKey):
        return private.sign(data)
    if isinstance(private, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(private.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    raise ValueError("a pass is signed with an ES256 or EdDSA key")
