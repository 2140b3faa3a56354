"""Authlib's judgement of a request's transport (RFC 6749 3.1, 10.9: TLS, or a loopback host
in development), made on the scheme and host alone and remembered per origin: the Authlib
request wrapper (``idp.oidc.server``) and every narrow path past it ask it alike."""

from __future__ import annotations

import os
from functools import lru_cache

from authlib.common.security import is_secure_transport
from flask import Request

INSECURE_TRANSPORT = "AUTHLIB_INSECURE_TRANSPORT"  # Authlib's switch, read on every request


def secure(request: Request) -> bool:
    """Authlib's judgement of the transport, which reads the scheme and host alone."""
    return secure_origin(request.scheme, request.host)


def secure_origin(scheme: str, host: str) -> bool:
    """``secure`` of a request's scheme and host."""
    return bool(os.getenv(INSECURE_TRANSPORT)) or _secure_origin(f"{scheme}://{host}/")


@lru_cache(maxsize=64)
def _secure_origin(origin: str) -> bool:
    """Remembered: parsing the host as an address cost as much as the rest of the checks."""
    return bool(is_secure_transport(origin))
