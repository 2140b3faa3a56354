"""Authorization requests waiting for a login, remembered in the session by a random id.

The login form carries only that id, so it cannot be turned into an open redirect: after a
login the stored request is answered (its code or error to its checked redirect URI) or the
browser goes back to the stored authorization URL, and nowhere else.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote_plus, urlencode

from flask import request, session

from idp.oidc.server import sent_values
from idp.web import session_budget
from idp.web.csrf import csrf_token

MAX_PENDING = 5
NOT_PARAMS = {"csrf_token", "consent", "lang"}  # lang: the language switch of the form at /authorize


def authorization_params() -> dict[str, str]:
    """The authorization request's parameters, whether sent by GET or POST (``sent_values``)."""
    return {k: v for k, v in sent_values(request).items() if k not in NOT_PARAMS}


def request_key(params: Mapping[str, str]) -> str:
    """The digest of ``urlencode(sorted(params.items()))``, with the text that quoting leaves
    alone (letters, digits, ``_.-~``: most parameters' values) not passed through it."""
    encoded = "&".join(f"{_quoted(k)}={_quoted(v)}" for k, v in sorted(params.items()))
    return hashlib.sha256(encoded.encode()).hexdigest()


def _quoted(text: str) -> str:
    """``quote_plus(text)``, as ``urlencode`` quotes each name and value."""
    return text if _UNQUOTED(text) else quote_plus(text)


_UNQUOTED = re.compile(r"[A-Za-z0-9_.~-]*").fullmatch


def remember(params: Mapping[str, str]) -> str:
    """Keep the request for the login; its id. Raises ``session_budget.TooLarge`` (keeping
    nothing) when the request alone would not fit in the session cookie."""
    rid = secrets.token_urlsafe(12)
    pending: dict[str, Any] = dict(session.get("pending", {}))
    while len(pending) >= MAX_PENDING:  # the cookie keeps keys sorted, not in their order
        pending.pop(session_budget.oldest_first(pending)[0])
    pending[rid] = {"params": dict(params), "at": round(time.time(), 3)}
    session["pending"] = pending
    csrf_token()  # the login form's, made now: showing the form then leaves the cookie as it is
    session_budget.fit("pending", rid)
    return rid


def lookup(rid: str) -> dict[str, str] | None:
    entry = session.get("pending", {}).get(rid)
    return dict(entry["params"]) if entry else None


def take(rid: str) -> dict[str, str] | None:
    """Request ``rid``'s parameters, no longer waiting: its login has just succeeded."""
    pending = dict(session.get("pending", {}))
    entry = pending.pop(rid, None)
    if entry is None:
        return None
    session["pending"] = pending
    return dict(entry["params"])


def fresh_url(params: Mapping[str, str]) -> str:
    """The taken request's ``/authorize``, counting there as freshly authenticated (made only
    when a page is to be shown there: the code goes out from the login post without it)."""
    session["fresh"] = request_key(params)
    return "/authorize?" + urlencode(params)


def is_fresh_login(params: Mapping[str, str]) -> bool:
    fresh = session.get("fresh")
    return fresh is not None and fresh == request_key(params)


def clear_fresh_login() -> None:
    session.pop("fresh", None)
