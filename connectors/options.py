"""Checks that every connector type makes of its options, worded the same everywhere: keys
it does not know, the address of the system it calls, and the call's timeout. Each returns
a problem as ``key: message`` (or the message alone), never quoting a secret."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import SplitResult, urlsplit


def unknown_keys(options: Mapping[str, Any], known: Iterable[str]) -> list[str]:
    return [f"{key}: unknown key" for key in sorted(set(options) - set(known))]


def url_problem(url: object, *, schemes: tuple[str, ...] = ("http", "https"),
                bad: str = "must be an http(s) URL", bare: bool = False) -> str | None:
    """Why ``url`` is no address to call: not a URL of ``schemes`` with a host (``bad``), a
    user or password in it, or (``bare``) a query or fragment."""
    parts = _split(url)
    if parts is None or parts.scheme not in schemes or not parts.hostname:
        return bad
    if parts.username is not None or parts.password is not None:
        return "must not hold a user or password"
    if bare and (parts.query or parts.fragment):
        return "must not hold a query or fragment"
    return None


def _split(url: object) -> SplitResult | None:
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        return None
    return parts


def timeout_problem(options: Mapping[str, Any], default: float, maximum: float) -> str | None:
    timeout = options.get("timeout_s", default)
    if (isinstance(timeout, bool) or not isinstance(timeout, int | float)
            or not 0 < timeout <= maximum):
        return f"timeout_s: must be a number of seconds above 0 and at most {maximum:g}"
    return None
