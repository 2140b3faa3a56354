"""``type = "webhook"``: each grant or revoke is one signed JSON POST (Standard Webhooks).

Options: ``url`` (http or https), ``secret`` (what the operator's ``secret_file`` holds: a
``whsec_<base64>`` secret) and ``timeout_s`` (default 10, at most 120). The body is
``{"type": "access.granted" | "access.revoked", "resource", "grant", "person"}``, serialized
once and those very bytes signed and sent; ``webhook-id`` is the delivery's key, the same on
every retry, so a receiver drops repeats. Any 2xx is delivered; a 4xx other than 408 and 429
``NeverWorks``; everything else (other statuses, refused connections, timeouts) is
``RetryLater``, with the wait a 429 or 503 asks for in ``Retry-After``.
"""

from __future__ import annotations

import http.client
import json
import re
import time
from collections.abc import Mapping
from typing import Any

from connectors import deadline_http, standard_webhooks
from connectors.base import Delivery, DeliveryKind, NeverWorks, RetryLater
from connectors.options import timeout_problem, unknown_keys, url_problem

DEFAULT_TIMEOUT_S = 10.0
MAX_TIMEOUT_S = 120.0
KEPT_BODY_CHARS = 200
EVENT_TYPES = {DeliveryKind.GRANT: "access.granted", DeliveryKind.REVOKE: "access.revoked"}
_KEYS = frozenset({"url", "secret", "timeout_s"})
_SECONDS = re.compile(r"[0-9]{1,9}")


def problems(options: Mapping[str, Any]) -> list[str]:
    """Every problem with ``options``, each as ``key: message`` (the secret never quoted)."""
    found = unknown_keys(options, _KEYS)
    url = options.get("url")
    if url is None:
        found.append("url: required")
    elif (problem := url_problem(url)) is not None:
        found.append(f"url: {problem}")
    secret = options.get("secret")
    if secret is None:
        found.append("secret: required (secret_file: a file holding a Standard Webhooks secret, "
                     "whsec_<base64>)")
    elif not isinstance(secret, str):
        found.append("secret: must be a string")
    else:
        try:
            standard_webhooks.decode_secret(secret)
        except ValueError as error:
            found.append(f"secret: {error}")
    if (problem := timeout_problem(options, DEFAULT_TIMEOUT_S, MAX_TIMEOUT_S)) is not None:
        found.append(problem)
    return found


def create(name: str, options: Mapping[str, Any]) -> WebhookConnector:
    """The connector for options that ``problems`` accepts (``ValueError`` otherwise)."""
    found = problems(options)
    if found:
        raise ValueError(f"connector {name!r}: " + "; ".join(found))
    return WebhookConnector(name, options["url"], standard_webhooks.decode_secret(options["secret"]),
                            float(options.get("timeout_s", DEFAULT_TIMEOUT_S)))


class WebhookConnector:
    """Posts deliveries to one URL, signed with one secret (kept out of ``repr``)."""

    def __init__(self, name: str, url: str, key: bytes, timeout_s: float) -> None:
        self._name = name
        self.url = url
        self._key = key
        self.timeout_s = timeout_s

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"WebhookConnector(name={self._name!r}, url={self.url!r})"

    def deliver(self, delivery: Delivery, *, deadline_s: float) -> None:
        """One attempt, within the lesser of ``timeout_s`` and ``deadline_s``."""
        body = message_body(delivery)
        if (problem := standard_webhooks.id_problem(delivery.key)) is not None:
            raise NeverWorks(problem)
        timeout = min(self.timeout_s, deadline_s)
        if timeout <= 0:
            raise RetryLater("no time was left for the attempt")
        headers = {"Content-Type": "application/json", "User-Agent": "campus-id",
                   **standard_webhooks.headers(self._key, delivery.key, int(time.time()), body)}
        try:
            answer = deadline_http.request("POST", self.url, body=body, headers=headers,
                                           timeout_s=timeout, keep_bytes=4 * KEPT_BODY_CHARS)
        except TimeoutError:
            raise RetryLater(f"no answer within {timeout:g} s") from None
        except ConnectionRefusedError:
            raise RetryLater("connection refused") from None
        except (OSError, http.client.HTTPException) as error:
            raise RetryLater(f"{type(error).__name__}: {error}"[:KEPT_BODY_CHARS]) from None
        except ValueError as error:  # the URL was checked at start; a bad header value
            raise NeverWorks(f"{type(error).__name__}: {error}"[:KEPT_BODY_CHARS]) from None
        judge(answer)


# The person as the webhook message names it (the claims' vocabulary); a delivery may carry
# more for other connectors (names, home organization, card number).
PERSON_FIELDS = ("campus_id", "sub", "name", "email", "organizations", "affiliations")


def message_body(delivery: Delivery) -> bytes:
    """The JSON body, serialized once: these bytes are signed and sent."""
    message = {"type": EVENT_TYPES[delivery.kind], "resource": delivery.resource,
               "grant": dict(delivery.grant),
               "person": {k: delivery.person.get(k) for k in PERSON_FIELDS}}
    try:
        return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except (TypeError, ValueError) as error:
        raise NeverWorks(f"the delivery is not JSON: {error}") from None


def judge(answer: deadline_http.Answer) -> None:
    """Return on 2xx; otherwise raise what the status means for a retry."""
    if 200 <= answer.status < 300:
        return
    text = " ".join(answer.body_start.decode("utf-8", "replace").split())[:KEPT_BODY_CHARS]
    message = f"HTTP {answer.status}" + (f": {text}" if text else "")
    if 400 <= answer.status < 500 and answer.status not in (408, 429):
        raise NeverWorks(message)
    wait = _retry_after(answer.headers.get("retry-after")) if answer.status in (429, 503) else None
    raise RetryLater(message, retry_after_s=wait)


def _retry_after(value: str | None) -> float | None:
    """A ``Retry-After`` in seconds (RFC 9110 section 10.2.3); an HTTP date is not used."""
    if value is None or not _SECONDS.fullmatch(value.strip()):
        return None
    return float(value.strip())
