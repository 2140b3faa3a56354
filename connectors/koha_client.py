"""Calls to Koha's REST API (``/api/v1``) for the Koha connector, all within one deadline.

Authentication is OAuth2 client credentials (``POST /api/v1/oauth/token``, a form with
``grant_type=client_credentials``, ``client_id`` and ``client_secret``; the answer's bearer
token is kept until a minute before its ``expires_in`` and fetched again once when a call is
answered 401) or HTTP Basic with a staff user's ``userid`` and password (Koha's
``RESTBasicAuth`` preference). Every call of one delivery shares the deadline given to
``Session``; the secret and the token never appear in a message or a ``repr``.

Koha's answers as ``Koha/REST/V1/Auth.pm`` and ``Koha/REST/V1/OAuth.pm`` give them: 401
``{"error": "Authentication failure."}``, 403 ``{"error": "Invalid password"}`` (Basic),
403 ``{"error": "unauthorized_client" | "access_denied"}`` (token), 400
``{"error": "Unimplemented grant type"}`` when client credentials are switched off.
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from connectors import deadline_http
from connectors.base import NeverWorks, RetryLater

KEPT_BODY_BYTES = 256 * 1024  # a page of patrons as JSON, well above what one userid finds
MESSAGE_CHARS = 300
TOKEN_MARGIN_S = 60.0


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any  # the JSON answer, or None when there was none or it was not JSON
    text: str  # the start of the answer's body, one line, for messages


@dataclass(frozen=True)
class OAuth2:
    client_id: str
    client_secret: str


@dataclass(frozen=True)
class Basic:
    user: str
    password: str


Credentials = OAuth2 | Basic


class TokenCache:
    """One bearer token per connector, shared by the worker's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._token: str | None = None
        self._good_until = 0.0

    def get(self) -> str | None:
        with self._lock:
            return self._token if time.monotonic() < self._good_until else None

    def put(self, token: str, expires_in: float) -> None:
        with self._lock:
            self._token = token
            self._good_until = time.monotonic() + max(expires_in - TOKEN_MARGIN_S, 0.0)

    def drop(self, token: str) -> None:
        with self._lock:
            if self._token == token:
                self._token, self._good_until = None, 0.0


class Session:
    """The calls of one delivery: ``call`` raises ``RetryLater`` or ``NeverWorks`` for what
    cannot go on (transport failures, 5xx, refused credentials) and returns every other
    answer for the caller to judge."""

    def __init__(self, api: str, credentials: Credentials, tokens: TokenCache,
                 deadline: float) -> None:
        self.api = api.rstrip("/")  # .../api/v1
        self.credentials = credentials
        self.tokens = tokens
        self.deadline = deadline

    def call(self, method: str, path: str, *, query: Mapping[str, str] | None = None,
             body: Mapping[str, Any] | None = None) -> Reply:
        url = self.api + path + (f"?{urlencode(query)}" if query else "")
        data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {"Accept": "application/json", "User-Agent": "campus-id"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if isinstance(self.credentials, Basic):
            reply = self._send(method, url, data, {**headers, **self._basic()})
            _refuse_auth(reply, "Koha refused the Basic credentials or their permissions")
            return reply
        token = self._token()
        reply = self._send(method, url, data, {**headers, "Authorization": f"Bearer {token}"})
        if reply.status == 401:  # expired or revoked early: one new token, one more try
            self.tokens.drop(token)
            token = self._token()
            reply = self._send(method, url, data, {**headers, "Authorization": f"Bearer {token}"})
        _refuse_auth(reply, "Koha refused the OAuth2 token or its client's permissions")
        return reply

    def _basic(self) -> dict[str, str]:
        assert isinstance(self.credentials, Basic)
        pair = f"{self.credentials.user}:{self.credentials.password}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}

    def _token(self) -> str:
        cached = self.tokens.get()
        if cached is not None:
            return cached
        assert isinstance(self.credentials, OAuth2)
        form = urlencode({"grant_type": "client_credentials",
                          "client_id": self.credentials.client_id,
                          "client_secret": self.credentials.client_secret}).encode("ascii")
        reply = self._send("POST", self.api + "/oauth/token", form,
                           {"Content-Type": "application/x-www-form-urlencoded",
                            "Accept": "application/json", "User-Agent": "campus-id"})
        if 400 <= reply.status < 500:  # 400 grant type off, 403 unknown client or secret, 404
            raise NeverWorks(f"Koha refused the client credentials: {describe(reply)}")
        answer = reply.body if reply.status == 200 and isinstance(reply.body, dict) else {}
        token, expires_in = answer.get("access_token"), answer.get("expires_in", 3600)
        if not isinstance(token, str) or not token or isinstance(expires_in, bool) \
                or not isinstance(expires_in, int | float):
            raise RetryLater(f"Koha's token endpoint gave no token: {describe(reply)}")
        self.tokens.put(token, float(expires_in))
        return token

    def _send(self, method: str, url: str, data: bytes, headers: dict[str, str]) -> Reply:
        try:
            left = deadline_http.remaining(self.deadline)
            answer = deadline_http.request(method, url, body=data, headers=headers,
                                           timeout_s=left, keep_bytes=KEPT_BODY_BYTES)
        except TimeoutError:
            raise RetryLater("Koha gave no answer before the delivery's deadline") from None
        except ConnectionRefusedError:
            raise RetryLater("Koha refused the connection") from None
        except (OSError, http.client.HTTPException) as error:
            raise RetryLater(f"{type(error).__name__}: {error}"[:MESSAGE_CHARS]) from None
        except ValueError as error:
            raise NeverWorks(f"{type(error).__name__}: {error}"[:MESSAGE_CHARS]) from None
        text = " ".join(answer.body_start.decode("utf-8", "replace").split())
        try:
            parsed = json.loads(answer.body_start) if answer.body_start else None
        except ValueError:
            parsed = None
        reply = Reply(answer.status, parsed, text[:MESSAGE_CHARS])
        if reply.status >= 500 or reply.status in (408, 429):
            raise RetryLater(f"Koha answered {describe(reply)}",
                             retry_after_s=_retry_after(answer.headers.get("retry-after")))
        return reply


def _refuse_auth(reply: Reply, what: str) -> None:
    if reply.status in (401, 403):
        raise NeverWorks(f"{what}: {describe(reply)}")


def describe(reply: Reply) -> str:
    """``HTTP 409: Duplicate ID (conflict: cardnumber)``: the status and Koha's own words."""
    body = reply.body
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        extra = [f"{key}: {body[key]}" for key in ("conflict", "error_code") if key in body]
        said = body["error"] + (f" ({', '.join(extra)})" if extra else "")
    elif isinstance(body, dict) and isinstance(body.get("errors"), list):
        said = "; ".join(_error_item(item) for item in body["errors"])
    elif isinstance(body, list):  # Auth.pm renders a bad query string as a bare array
        said = "; ".join(_error_item(item) for item in body)
    else:
        said = reply.text
    return f"HTTP {reply.status}" + (f": {said}" if said else "")


def _error_item(item: object) -> str:
    if isinstance(item, dict):
        return f"{item.get('path', '')} {item.get('message', '')}".strip()
    return str(item)


def _retry_after(value: str | None) -> float | None:
    if value is None or not value.strip().isdigit() or len(value.strip()) > 9:
        return None
    return float(value.strip())
