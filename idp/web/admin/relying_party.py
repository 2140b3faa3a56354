"""The admin UI (and the helpdesk console) as a relying party of its own provider: the
authorization request (PKCE, state, nonce), then the code exchange and the ID token check.

The code is redeemed by the token endpoint's own code (Authlib's grant, with its client
authentication, PKCE check and audit), run in-process on a request built for it, rather than
over HTTP: the issuer's public address may not be reachable from the server itself (behind a
proxy), and a worker calling itself can wait forever when all its threads are busy.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import current_app
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp import context
from idp.admin.internal_client import (
    ADMIN_CLIENT_ID,
    ADMIN_SCOPE,
    CALLBACK_PATH,
    admin_client_secret,
    admin_redirect_uri,
)
from idp.oidc.keys import SUPPORTED_ALGS
from idp.settings import Settings
from idp.web.oidc import server


class SignInFailed(Exception):
    """The callback does not prove a staff sign-in (wrong state, code refused, bad ID token)."""


@dataclass(frozen=True)
class PendingSignIn:
    state: str
    nonce: str
    verifier: str
    next: str

    def as_dict(self) -> dict[str, str]:
        return {"state": self.state, "nonce": self.nonce, "verifier": self.verifier,
                "next": self.next}


def start(next_path: str, *, callback: str = CALLBACK_PATH,
          max_age: int | None = None) -> tuple[PendingSignIn, str]:
    """A new sign-in and the authorization URL (a path of this provider) to send the browser
    to; back at ``callback``. ``max_age``: the password is asked again when the person's
    login is older (OpenID Connect Core 3.1.2.1)."""
    pending = PendingSignIn(secrets.token_urlsafe(24), secrets.token_urlsafe(24),
                            secrets.token_urlsafe(48), next_path)
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(pending.verifier.encode()).digest()).rstrip(b"=").decode()
    params = {
        "response_type": "code", "client_id": ADMIN_CLIENT_ID,
        "redirect_uri": admin_redirect_uri(context.settings(), callback), "scope": ADMIN_SCOPE,
        "state": pending.state, "nonce": pending.nonce,
        "code_challenge": challenge, "code_challenge_method": "S256",
    }
    if max_age is not None:
        params["max_age"] = str(max_age)
    query = urlencode(params)
    return pending, "/authorize?" + query


def finish(pending: PendingSignIn, state: str, code: str, *, callback: str = CALLBACK_PATH) -> str:
    """The ``sub`` of the ID token the code was exchanged for; raises ``SignInFailed``."""
    if not state or not secrets.compare_digest(state, pending.state) or not code:
        raise SignInFailed("state does not match this browser's sign-in")
    settings = context.settings()
    tokens = _redeem(settings, code, pending.verifier, callback)
    return _check_id_token(settings, tokens.get("id_token"), pending.nonce)


def _redeem(settings: Settings, code: str, verifier: str, callback: str) -> dict[str, Any]:
    form = {"grant_type": "authorization_code", "code": code,
            "redirect_uri": admin_redirect_uri(settings, callback), "code_verifier": verifier,
            "client_id": ADMIN_CLIENT_ID, "client_secret": admin_client_secret(settings)}
    with current_app.test_request_context("/token", method="POST", data=form,
                                          base_url=settings.server.issuer):
        response = server().create_token_response()
    db = context.db()
    if response.status_code != 200:
        db.rollback()
        raise SignInFailed(f"token endpoint refused the code: {response.get_data(as_text=True)}")
    db.commit()
    body: dict[str, Any] = json.loads(response.get_data(as_text=True))
    return body


def _check_id_token(settings: Settings, value: object, nonce: str) -> str:
    """OpenID Connect Core 3.1.3.7: signature, issuer, audience, expiry, nonce."""
    if not isinstance(value, str):
        raise SignInFailed("no ID token")
    keys = KeySet(list(context.services().keyring().published))
    try:
        token = jwt.decode(value, keys, algorithms=list(SUPPORTED_ALGS))
    except (JoseError, ValueError) as exc:
        raise SignInFailed(f"ID token signature: {exc}") from exc
    claims = token.claims
    if claims.get("iss") != settings.server.issuer:
        raise SignInFailed("ID token issuer")
    audience = claims.get("aud")
    if audience != ADMIN_CLIENT_ID and not (isinstance(audience, list) and ADMIN_CLIENT_ID in audience):
        raise SignInFailed("ID token audience")
    if not isinstance(claims.get("exp"), int) or claims["exp"] < time.time():
        raise SignInFailed("ID token expired")
    if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
        raise SignInFailed("ID token nonce")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise SignInFailed("ID token without sub")
    return sub
