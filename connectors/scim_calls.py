"""One SCIM request within what is left of a shared deadline, and what a failed answer means.

Every request carries the bearer token (RFC 7644 section 2) and, with a body, the media type
``application/scim+json`` (section 3.1). The answer's body is read up to ``keep_bytes`` and
parsed as JSON. A connection that fails or times out is ``RetryLater``; an error answer keeps
the SCIM error's ``scimType`` and ``detail`` (section 3.12) in the message: a 408, 429 or 5xx
is ``RetryLater`` (with the ``Retry-After`` a 429 or 503 asks for), any other status
``NeverWorks``. Callers judge 404 and 409 themselves first: what they mean depends on the call.
"""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors import deadline_http
from connectors.base import NeverWorks, RetryLater

SCIM_JSON = "application/scim+json"
KEPT_CHARS = 300
_SECONDS = re.compile(r"[0-9]{1,9}")


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any  # the parsed JSON, or None when the body was empty or no JSON
    headers: Mapping[str, str]
    text: str  # the body's start as text, for messages

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def call(what: str, method: str, url: str, token: str, deadline: float, *,
         document: Any = None, keep_bytes: int = 256 * 1024) -> Reply:
    """Send one request with what is left before ``deadline`` (``time.monotonic``); ``what``
    names it in messages."""
    headers = {"Authorization": f"Bearer {token}", "Accept": SCIM_JSON, "User-Agent": "campus-id"}
    body = b""
    if document is not None:
        headers["Content-Type"] = SCIM_JSON
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    try:
        answer = deadline_http.request(method, url, body=body, headers=headers,
                                       timeout_s=deadline_http.remaining(deadline),
                                       keep_bytes=keep_bytes)
    except TimeoutError:
        raise RetryLater(f"{what}: no answer before the deadline") from None
    except ConnectionRefusedError:
        raise RetryLater(f"{what}: connection refused") from None
    except (OSError, http.client.HTTPException) as error:
        raise RetryLater(f"{what}: {type(error).__name__}: {error}"[:KEPT_CHARS]) from None
    except ValueError as error:  # the URL was checked at start
        raise NeverWorks(f"{what}: {error}"[:KEPT_CHARS]) from None
    if len(answer.body_start) >= keep_bytes:
        raise NeverWorks(f"{what}: HTTP {answer.status}: the answer is larger than "
                         f"{keep_bytes} bytes")
    text = answer.body_start.decode("utf-8", "replace")
    try:
        parsed = json.loads(text) if text.strip() else None
    except ValueError:
        parsed = None
    return Reply(answer.status, parsed, answer.headers, text)


def failure(what: str, reply: Reply) -> NeverWorks | RetryLater:
    """The exception for an answer that is no success, its message naming ``what`` was
    asked and the SCIM error's ``scimType`` and ``detail`` (or the body's start)."""
    message = f"{what}: HTTP {reply.status}"
    body = reply.body if isinstance(reply.body, dict) else {}
    if isinstance(body.get("scimType"), str):
        message += f" {body['scimType']}"
    detail = body.get("detail") if isinstance(body.get("detail"), str) else " ".join(reply.text.split())
    if detail:
        message += f": {detail}"
    message = message[:KEPT_CHARS]
    if 400 <= reply.status < 500 and reply.status not in (408, 429):
        return NeverWorks(message)
    wait = None
    if reply.status in (429, 503) and (after := reply.headers.get("retry-after")) is not None:
        # Seconds only (RFC 9110 section 10.2.3); an HTTP date is not used.
        wait = float(after.strip()) if _SECONDS.fullmatch(after.strip()) else None
    return RetryLater(message, retry_after_s=wait)


def unreadable(what: str, reply: Reply, problem: str) -> RetryLater:
    """A 2xx whose body is not what SCIM says it is (a proxy's page, a server half up)."""
    start = " ".join(reply.text.split())[:100]
    return RetryLater(f"{what}: HTTP {reply.status}: {problem}" + (f": {start}" if start else ""))
