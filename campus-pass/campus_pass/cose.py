"""The pass on the wire: ``CP1:`` then Base45 (RFC 9285) of a COSE_Sign1 (RFC 9052 4.2) whose
payload is a CWT claims set (RFC 8392), the layout of the EU digital COVID certificate without
its zlib step (a pass is too small for compression to pay).

Protected header: ``alg`` (1) = -7 ES256 or -8 EdDSA, ``kid`` (4) = the JWK ``kid`` as UTF-8.
Claims: ``iss`` (1), ``sub`` (2) = the campus id, ``exp`` (4), ``iat`` (6), ``cti`` (7) = the
pass id, and two private-use claims: -65537 the display name, -65538 the entitlements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from campus_pass.base45 import b45decode
from campus_pass.caches import PublicKey

PREFIX = "CP1:"
COSE_SIGN1_TAG = 18
ALG, KID = 1, 4
ISS, SUB, EXP, IAT, CTI = 1, 2, 4, 6, 7
NAME, ENTITLEMENTS = -65537, -65538
ES256, EDDSA = -7, -8


class Malformed(Exception):
    """Text that is not a pass of this format (cut short, altered, or something else)."""


@dataclass(frozen=True)
class Signed:
    """A decoded, not yet verified pass."""

    alg: int
    kid: str
    to_be_signed: bytes  # the Sig_structure, RFC 9052 4.4
    signature: bytes
    claims: dict[Any, Any]


def decode(text: str) -> Signed:
    if not text.startswith(PREFIX):
        raise Malformed(f"does not start with {PREFIX}")
    try:
        raw = b45decode(text[len(PREFIX):])
        item = cbor2.loads(raw)
        if isinstance(item, cbor2.CBORTag):
            if item.tag != COSE_SIGN1_TAG:
                raise Malformed("not a COSE_Sign1")
            item = item.value
        if not isinstance(item, list | tuple) or len(item) != 4:  # cbor2 6: a tag's array is a tuple
            raise Malformed("not a COSE_Sign1")
        protected, _unprotected, payload, signature = item
        if not all(isinstance(v, bytes) for v in (protected, payload, signature)):
            raise Malformed("not a COSE_Sign1")
        header = cbor2.loads(protected)
        claims = cbor2.loads(payload)
    except (ValueError, cbor2.CBORDecodeError, EOFError) as exc:
        raise Malformed(str(exc) or "not CBOR") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise Malformed("a header or payload that is not a map")
    alg, kid = header.get(ALG), header.get(KID)
    if alg not in (ES256, EDDSA) or not isinstance(kid, bytes):
        raise Malformed("no supported alg or no kid in the protected header")
    to_be_signed = cbor2.dumps(["Signature1", protected, b"", payload])
    return Signed(alg=alg, kid=kid.decode("utf-8", "replace"), to_be_signed=to_be_signed,
                  signature=signature, claims=claims)


def signature_holds(signed: Signed, alg: int, key: PublicKey) -> bool:
    """Whether ``key`` (of algorithm ``alg``, from the key set) signed ``signed``."""
    if alg != signed.alg or len(signed.signature) != 64:
        return False
    try:
        if isinstance(key, Ed25519PublicKey):
            key.verify(signed.signature, signed.to_be_signed)
        else:
            r = int.from_bytes(signed.signature[:32], "big")
            s = int.from_bytes(signed.signature[32:], "big")
            key.verify(encode_dss_signature(r, s), signed.to_be_signed, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True
