"""An app that does nothing, served exactly as the provider is (gunicorn, gthread, the same
workers, threads and access log): its rate is the most any endpoint could reach here, so the
table can be read as a fraction of it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

BODY = b'{"ok":true}'


def app(_environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(BODY)))])
    return [BODY]
