"""How much of an authorization flow in progress the session cookie may hold.

The authorization requests waiting for a login (``pending``, ``idp.web.pending``) and the
parameters of a pushed request or request object kept for the rest of the flow (``pushed``,
``idp.oidc.pushed``) live in the signed session cookie. A browser drops a cookie over 4,096
bytes without a word: the person would log in and land nowhere. So both stores share one
budget; the oldest entries (abandoned tabs, most likely) go first, and a request that alone
does not fit is refused with a clear error instead.
"""

from __future__ import annotations

import json
from typing import Any

from flask import session

# Compact JSON bytes for both stores. Random text (states, nonces, PKCE challenges) hardly
# compresses, and base64 adds a third: 3,000 bytes here make at most ~3,200 in the cookie,
# which leaves room for the rest of the session (CSRF token, session id, fresh-login key).
BUDGET = 3_000
STORES = ("pending", "pushed")  # the first is emptied first
_MEASURE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True)  # as the cookie's JSON


class TooLarge(Exception):
    """The request alone needs more of the cookie than the budget allows."""

    description = ("The authorization request is too large to keep while the person signs in "
                   "(its parameters take more than 3,000 bytes): send a shorter state, nonce "
                   "or claims parameter.")


def size(key: str, value: Any) -> int:
    return len(_MEASURE.encode({key: value}))


def fit(store: str, key: str) -> None:
    """Make the session's entry ``key`` of ``store`` (just written) fit in the budget by
    dropping the oldest other entries of both stores; raises ``TooLarge`` (and drops the
    entry) when it does not fit alone."""
    kept = {name: dict(session.get(name) or {}) for name in STORES}
    own = size(key, kept[store].get(key))
    if own > BUDGET:
        kept[store].pop(key, None)
        session[store] = kept[store]
        raise TooLarge(key)
    used = own + sum(size(k, v) for name in STORES for k, v in kept[name].items()
                     if (name, k) != (store, key))
    if used <= BUDGET:
        return
    for name in STORES:
        for other in oldest_first(kept[name]):
            if used <= BUDGET:
                break
            if (name, other) != (store, key):
                used -= size(other, kept[name].pop(other))
        session[name] = kept[name]


def oldest_first(entries: dict[str, Any]) -> list[str]:
    """The keys of a store, oldest first: by the time a waiting request was kept (``at``); the
    session cookie keeps keys sorted, so their order says nothing. Entries without a time (a
    pushed request's parameters, a cookie from before) come first, in the order they have."""
    def kept_at(key: str) -> float:
        entry = entries[key]
        at = entry.get("at") if isinstance(entry, dict) else None
        return at if isinstance(at, int | float) else 0.0
    return sorted(entries, key=kept_at)
