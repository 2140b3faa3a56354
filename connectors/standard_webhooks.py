"""Signing as the Standard Webhooks specification 1.0 says ("Signature scheme", "Webhook
headers"), so that receivers can check our posts with its libraries.

The symmetric scheme only: the secret is ``whsec_`` and the base64 of 24 to 64 random bytes;
the signature is ``v1,`` and the base64 of HMAC-SHA256 over ``{id}.{timestamp}.{body}`` keyed
with those bytes, where the id stays the same on every retry and the timestamp is the integer
Unix time of the attempt. The body signed must be the very bytes sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

SECRET_PREFIX = "whsec_"
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
# The id goes into a header and into the signed content, whose parts are split at dots.
_ID = re.compile(r"[!-~]{1,255}")


def decode_secret(secret: str) -> bytes:
    """The HMAC key in a ``whsec_<base64>`` secret, or ``ValueError`` saying what is wrong
    (never quoting the secret)."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"must be a Standard Webhooks secret: {SECRET_PREFIX}<base64>")
    encoded = secret[len(SECRET_PREFIX):]
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        raise ValueError(f"must be {SECRET_PREFIX} followed by base64") from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise ValueError(f"must hold {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes, "
                         f"not {len(key)}")
    return key


def id_problem(msg_id: str) -> str | None:
    """Why ``msg_id`` cannot be a ``webhook-id``, or None."""
    if not _ID.fullmatch(msg_id) or "." in msg_id:
        return "a webhook-id must be 1 to 255 visible ASCII characters without a dot"
    return None


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for one attempt."""
    signed = b"%s.%d.%s" % (msg_id.encode("ascii"), timestamp, body)
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers(key: bytes, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers of the specification for one attempt."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(key, msg_id, timestamp, body),
    }
