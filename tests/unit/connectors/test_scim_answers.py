"""What a SCIM answer that is no success means for the delivery (RFC 7644 section 3.12: the
error's ``status``, ``scimType`` and ``detail``): kept in the message; a 408, 429 or 5xx retried
later (with the ``Retry-After`` a 429 or 503 asks for), any other 4xx never works."""

from __future__ import annotations

import json

from connectors.base import NeverWorks, RetryLater
from connectors.scim_calls import Reply, failure, unreadable


def reply(status: int, body: object = None, text: str | None = None, **headers: str) -> Reply:
    shown = text if text is not None else (json.dumps(body) if body is not None else "")
    return Reply(status, body, headers, shown)


def error(status: int, detail: str, scim_type: str | None = None) -> dict[str, object]:
    body: dict[str, object] = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                               "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return body


def test_client_errors_never_work_and_keep_scim_type_and_detail() -> None:
    for status, scim_type in ((400, "invalidFilter"), (401, None), (403, None), (404, None),
                              (409, "uniqueness")):
        found = failure("find by externalId", reply(status, error(status, "why", scim_type)))
        assert isinstance(found, NeverWorks)
        assert str(found) == (f"find by externalId: HTTP {status}"
                              + (f" {scim_type}" if scim_type else "") + ": why")


def test_timeouts_throttling_and_server_errors_are_retried() -> None:
    busy = failure("create", reply(429, error(429, "too many", "tooMany"), **{"retry-after": "7"}))
    assert isinstance(busy, RetryLater)
    assert (str(busy), busy.retry_after_s) == ("create: HTTP 429 tooMany: too many", 7.0)
    down = failure("create", reply(503, None, text="<h1>Service  Unavailable</h1>",
                                   **{"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"}))
    assert isinstance(down, RetryLater)
    assert (str(down), down.retry_after_s) == ("create: HTTP 503: <h1>Service Unavailable</h1>",
                                               None)
    for status in (408, 500, 502):
        assert isinstance(failure("replace", reply(status)), RetryLater)
    assert str(failure("replace", reply(500))) == "replace: HTTP 500"


def test_a_long_detail_is_cut_and_an_unreadable_success_is_retried() -> None:
    assert len(str(failure("list", reply(400, error(400, "x" * 5000))))) == 300
    found = unreadable("list", reply(200, None, text="<html>proxy</html>"), "no ListResponse")
    assert isinstance(found, RetryLater)
    assert str(found) == "list: HTTP 200: no ListResponse: <html>proxy</html>"
