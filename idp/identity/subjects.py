"""The subject a client sees for a person (OpenID Connect Core 8): the identity's public
``sub``, or for a ``pairwise`` client a value of its sector alone (section 8.1), so that
relying parties of different sectors cannot correlate people by ``sub``.

A pairwise subject is HMAC-SHA256 over the sector and the public ``sub``, under a key derived
by HKDF from the server secret with a label of its own: stable for the sector, the same for
every client of one sector, and computable again without storing anything. Changing the server
secret changes every pairwise subject.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from functools import lru_cache
from typing import Protocol
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from idp.storage.clients import PAIRWISE_SUBJECT, Client

PAIRWISE_INFO = b"campus-id/pairwise-subject/v1"


class Subject(Protocol):
    """A person with a public ``sub``: an ``Identity``, or its row (``idp.storage.token_rows``)."""

    @property
    def sub(self) -> str: ...


@lru_cache(maxsize=4)
def pairwise_key(secret_key: str) -> bytes:
    """Derived once per secret: never the server secret itself."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=PAIRWISE_INFO)
    return hkdf.derive(secret_key.encode("utf-8"))


def pairwise_subject(key: bytes, sector: str, public_sub: str) -> str:
    mac = hmac.new(key, f"{sector}\x00{public_sub}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def subject_for(client: Client | None, identity: Subject, secret_key: str) -> str:
    """What ``client`` is told the person's ``sub`` is, everywhere it is told one."""
    if client is None or client.subject_type != PAIRWISE_SUBJECT or not client.sector_identifier:
        return identity.sub
    return pairwise_subject(pairwise_key(secret_key), client.sector_identifier, identity.sub)


def sector_of_redirect_uris(uris: Iterable[str]) -> str | None:
    """Section 8.1: the host of the redirect URIs when they share one; None when they do not
    (the client then needs a sector_identifier_uri)."""
    hosts = {(urlsplit(uri).hostname or "").lower() for uri in uris}
    return hosts.pop() if len(hosts) == 1 and "" not in hosts else None


def host_of(uri: str) -> str:
    return (urlsplit(uri).hostname or "").lower()
