"""Online mode: fetch the issuer's pass key set (``/pass/jwks``) and revocation list
(``/pass/revoked``) within one total deadline and replace the cached files only when both are
well-formed and the list names the expected issuer; a failure keeps the old cache."""

from __future__ import annotations

import os
import threading
import urllib.request
from pathlib import Path

from campus_pass.caches import CacheError, parse_keys, parse_revocations

JWKS_FILE, REVOKED_FILE = "jwks.json", "revoked.json"
MAX_BYTES = 1024 * 1024


class RefreshError(Exception):
    """The caches could not be refreshed (they are left as they were)."""


def _get(url: str, timeout_s: float) -> bytes:
    # No proxy from the environment: a turnstile talks to its issuer directly.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 (http(s) only)
    with opener.open(request, timeout=timeout_s) as response:
        body: bytes = response.read(MAX_BYTES + 1)
    if len(body) > MAX_BYTES:
        raise RefreshError(f"{url}: the answer is larger than {MAX_BYTES} bytes")
    return body


def _fetch_both(issuer: str, timeout_s: float) -> tuple[bytes, bytes]:
    """Both documents, or ``RefreshError`` once ``timeout_s`` has passed in all (name
    resolution included: the calls run on a thread that is waited for until the deadline)."""
    found: dict[str, bytes] = {}
    failure: list[BaseException] = []

    def run() -> None:
        try:
            for name in ("jwks", "revoked"):
                found[name] = _get(f"{issuer}/pass/{name}", timeout_s)
        except Exception as exc:  # reported to the caller below
            failure.append(exc)

    worker = threading.Thread(target=run, name="campus-pass-refresh", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise RefreshError(f"{issuer}: no complete answer within {timeout_s:g} s")
    if failure:
        raise RefreshError(f"{issuer}: {failure[0]}")
    return found["jwks"], found["revoked"]


def refresh(issuer: str, cache: str | Path, timeout_s: float = 10.0) -> None:
    if not issuer.startswith(("https://", "http://")):
        raise RefreshError(f"{issuer!r} is not an http(s) URL")
    issuer = issuer.rstrip("/")
    jwks, revoked = _fetch_both(issuer, timeout_s)
    try:
        parse_keys(jwks)
        listed = parse_revocations(revoked)
    except CacheError as exc:
        raise RefreshError(f"{issuer}: {exc}") from exc
    if listed.issuer != issuer:
        raise RefreshError(f"{issuer}: the revocation list is {listed.issuer!r}'s")
    folder = Path(cache)
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in ((JWKS_FILE, jwks), (REVOKED_FILE, revoked)):
        _replace(folder / name, data)


def _replace(path: Path, data: bytes) -> None:
    """Write beside, then rename: a verifier reading meanwhile sees the old file or the new."""
    temporary = path.with_name(path.name + ".new")
    temporary.write_bytes(data)
    os.replace(temporary, path)
