"""CSRF protection for every form: a random token kept in the session, checked on each POST
to a form endpoint (the token, introspection, revocation and pushed authorization request
endpoints and UserInfo are not forms and authenticate otherwise)."""

from __future__ import annotations

import hmac
import secrets

from flask import Flask, abort, request, session

FIELD = "csrf_token"
# Not forms: the token, introspection and revocation endpoints and UserInfo authenticate their
# callers; an authorization request may arrive by POST from a relying party and checks the
# token itself on consent.
EXEMPT_ENDPOINTS = {"oidc.token", "oidc.introspect", "oidc.revoke", "oidc.userinfo",
                    "oidc.pushed_authorization_request",  # RFC 9126: client-authenticated
                    "oidc.authorize", "registration.register",
                    # RP-Initiated Logout: a relying party may POST a logout request; the view
                    # checks the token itself when there is no valid id_token_hint.
                    "logout.end_session"}
# The helpdesk API is JSON only and bearer-authenticated: no cookie makes its requests.
EXEMPT_BLUEPRINTS = {"api", "api_deliveries"}


def csrf_token() -> str:
    token = session.get(FIELD)
    if not token:
        token = session[FIELD] = secrets.token_urlsafe(32)
    return str(token)


def init_app(app: Flask) -> None:
    app.jinja_env.globals["csrf_token"] = csrf_token

    @app.before_request
    def check_csrf() -> None:
        # No route (request.url_rule is None): nothing runs but the 404 or 405 that follows.
        if (request.method == "POST" and request.url_rule is not None
                and request.endpoint not in EXEMPT_ENDPOINTS
                and request.blueprint not in EXEMPT_BLUEPRINTS):
            check_form_token()


def check_form_token() -> None:
    expected = session.get(FIELD)
    given = request.form.get(FIELD, "")
    if not expected or not hmac.compare_digest(str(expected), given):
        abort(400, description="csrf")
