"""The OpenID Connect endpoints: discovery, JWKS, authorization (with pushed requests), token and UserInfo.

Thin views: the protocol work is Authlib's grant (``idp.oidc``); these only decide whether a
login or a consent screen comes first (OpenID Connect Core 3.1.2).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oidc.core.errors import ConsentRequiredError
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
)

from idp import context
from idp.oidc.descriptions import description
from idp.oidc.discovery import provider_metadata
from idp.oidc.grants import AuthenticatedUser
from idp.oidc.pushed import PAR_LIFETIME_S, authorization_params, push_request
from idp.oidc.server import CampusAuthorizationServer, ResolvedAuthorization
from idp.oidc.userinfo import Refused
from idp.oidc.userinfo import claims as userinfo_claims
from idp.settings.model import JWKS_MAX_AGE_S
from idp.storage import audit, grants
from idp.storage.audit import AuditEventType
from idp.storage.sessions import LoginSession, SessionRow
from idp.storage.tokens import digest
from idp.web import consent, login_page, pending, session_budget
from idp.web.csrf import check_form_token
from idp.web.session import current_login, current_login_row

bp = Blueprint("oidc", __name__)
SERVER = "campus_id.authorization_server"
PAR_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
# Metadata and keys change rarely; relying parties may keep them for five minutes.
PUBLIC_CACHE = {"Cache-Control": "public, max-age=300"}


def server() -> CampusAuthorizationServer:
    found: CampusAuthorizationServer = current_app.extensions[SERVER]
    return found


DISCOVERY_HEADERS = [("Content-Type", "application/json"), *PUBLIC_CACHE.items()]
# [keys] activation_delay_s may not be shorter: a new key is in every cached copy first.
JWKS_HEADERS = [("Content-Type", "application/jwk-set+json"),
                ("Cache-Control", f"public, max-age={JWKS_MAX_AGE_S}")]


@bp.get("/.well-known/openid-configuration")
def discovery() -> Response:
    """Also answered before Flask (``documents``, ``idp.web.lanes``)."""
    return Response(_discovery_body(context.settings().server.issuer), headers=DISCOVERY_HEADERS)


@lru_cache(maxsize=4)
def _discovery_body(issuer: str) -> bytes:
    """The metadata depends on the issuer alone: serialised once."""
    return json.dumps(provider_metadata(issuer), separators=(",", ":")).encode()


@bp.get("/jwks")
def jwks() -> Response:
    """Also answered before Flask (``documents``, ``idp.web.lanes``)."""
    return Response(context.services().keyring().jwks_body, headers=JWKS_HEADERS)


def documents(app: Flask) -> dict[str, tuple[Callable[[], bytes], list[tuple[str, str]]]]:
    """The GETs a fast lane answers alike (``idp.web.lanes``): path → (body, headers)."""
    services = context.services_of(app)
    issuer = services.settings.server.issuer
    return {
        "/.well-known/openid-configuration": (lambda: _discovery_body(issuer), DISCOVERY_HEADERS),
        "/jwks": (lambda: services.keys.current().jwks_body, JWKS_HEADERS),
    }


def _consent_grant(params: dict[str, str], user: Any, in_query: bool) -> Any:
    """Authlib's validation of the request (read from this HTTP request when ``in_query``);
    made once more on fresh client rows when it failed on remembered ones (a redirect URI
    just added in another worker)."""
    def validate() -> Any:
        return server().get_consent_grant(
            request=None if in_query else ResolvedAuthorization(params), end_user=user)
    try:
        return validate()
    except OAuth2Error:
        if not context.forget_cached_clients():
            raise
        return validate()


@bp.route("/authorize", methods=["GET", "POST"])
def authorize() -> Any:
    decision = request.form.get("consent") if request.method == "POST" else None
    return _authorize(pending.authorization_params(), decision)


def continue_after_login(sent: dict[str, str]) -> Any:
    """Right after the login that request ``sent`` waited for: its answer to the relying party
    at once (a code, or an error it is told), as ``/authorize`` would give it, which saves the
    browser a round trip and the provider a request. A page to show instead (consent, an
    error of ours) is shown at the request's ``/authorize`` (``pending.fresh_url``), so that
    reloading it does not post the login form again."""
    return _authorize(sent, None, after_login=True)


def _authorize(sent: dict[str, str], decision: str | None, after_login: bool = False) -> Any:
    """The authorization endpoint over the parameters ``sent``: this HTTP request's, or
    ``after_login`` those of the request a login just answered (freshly authenticated; a
    redirect to its ``/authorize`` then stands for every page)."""
    taken = sent if after_login else None
    try:
        params = _resolved(sent)
    except OAuth2Error as error:
        return _authorization_error(error, taken)
    login = _signed_in(params, decision)
    user = _authenticated_user(login, sent, params, after_login)
    try:
        grant = _consent_grant(params, user, in_query=params is sent and not after_login)
    except OAuth2Error as error:
        return _authorization_error(error, taken)
    if user is not None and isinstance(login, SessionRow) and not grant.client.trusted:
        # The client changed since it was remembered: consent reads the whole person.
        user = _authenticated_user(current_login(), sent, params, after_login)
    if user is None:  # prompt=none was answered with login_required by the grant
        try:
            rid = pending.remember(sent)
        except session_budget.TooLarge as too_large:
            return _authorization_error(InvalidRequestError(
                too_large.description, redirect_uri=grant.redirect_uri, state=params.get("state")))
        if request.method == "GET":  # the form here: no redirect before it; a reload shows it again
            return login_page.for_request(rid, sent)
        return redirect("/login?rid=" + rid)  # a posted request: a reload must not post it again
    client = grant.client
    scopes = set(client.get_allowed_scope(grant.request.scope).split())
    if decision is not None:
        check_form_token()
        return _finish(grant, user, decision == "allow", scopes)
    prompts = set(params.get("prompt", "").split())
    needs_consent = not client.trusted and (
        "consent" in prompts or not grants.has_consent(
            context.db(), user.identity.id, client.id, scopes,
            consent.released_attributes(client, user.full_identity(), scopes))
    )
    if not needs_consent:
        return _issue_code(grant, user)
    if "none" in prompts:
        return _authorization_error(ConsentRequiredError(redirect_uri=grant.redirect_uri,
                                                         state=params.get("state")))
    if after_login:
        return redirect(pending.fresh_url(sent))
    return consent.render(client, user.full_identity(), scopes)


def _resolved(sent: dict[str, str]) -> dict[str, str]:
    """The parameters the request carries (``idp.oidc.pushed``): ``sent`` itself, or those of
    its request object or pushed request. Spending a pushed request is committed at once, and
    this browser keeps the parameters of either for the rest of the flow."""
    if "request" not in sent and "request_uri" not in sent:
        if "client_id" not in sent:
            return sent
        client = server().query_client(sent["client_id"])
        if client is None or not client.require_pushed_authorization_requests:
            return sent  # as ``authorization_params`` would, with no database session opened
    remembered = dict(session.get("pushed", {}))
    params = authorization_params(context.db(), server().query_client, sent,
                                  server().client_keys, context.settings().server.issuer,
                                  remembered)
    if "request_uri" in sent or "request" in sent:
        session["pushed"] = remembered
        kept = sent.get("request_uri") or "request:" + digest(sent["request"])
        try:
            session_budget.fit("pushed", kept)
        except session_budget.TooLarge as too_large:
            raise InvalidRequestError(too_large.description) from None
        context.db().commit()
    return params


def _signed_in(params: dict[str, str], decision: str | None) -> LoginSession | SessionRow | None:
    """This browser's login session. As one row when the code will be issued at once, to a
    trusted client with no consent to record: nothing then reads the person beyond their id
    (``_light_user``); otherwise with the person, whom consent reads whole."""
    if decision is None:
        client = context.client(params.get("client_id", ""))
        if client is not None and client.trusted:
            row = current_login_row()
            if row is None or row.sid is not None:  # else ``public_sid`` names it, on the ORM
                return row
    return current_login()


def _light_user(login: SessionRow) -> AuthenticatedUser:
    """The person of a session read as one row, standing in for ``LoginSession`` and its
    ``Identity`` where issuing a code reads them: ``CodeGrant.save_authorization_code`` (the
    identity's id, the session's id and ``sid``) and ``get_user_id`` (``sub``)."""
    return AuthenticatedUser(login.identity, login.auth_time, login)


def _authenticated_user(login: LoginSession | SessionRow | None, sent: dict[str, str],
                        params: dict[str, str], fresh: bool = False) -> AuthenticatedUser | None:
    """The session's person, unless this request needs a fresh login (prompt=login, max_age)
    and the login is not ``fresh`` (just made for it)."""
    if login is None:
        return None
    if not fresh and not pending.is_fresh_login(sent):
        if "login" in params.get("prompt", "").split():
            return None
        max_age = params.get("max_age", "")
        if max_age.isdigit() and time.time() - login.auth_time > int(max_age):
            return None
    if isinstance(login, SessionRow):
        return _light_user(login)
    return AuthenticatedUser(login.identity, login.auth_time, login)


def _finish(grant: Any, user: AuthenticatedUser, allowed: bool, scopes: set[str]) -> Any:
    db = context.db()
    kind = AuditEventType.CONSENT_GRANTED if allowed else AuditEventType.CONSENT_DENIED
    claims = consent.released_attributes(grant.client, user.full_identity(), scopes)
    audit.record(db, kind, actor=user.identity.sub, identity_id=user.identity.id,
                 client_id=grant.client.client_id, scope=" ".join(sorted(scopes)), claims=claims)
    if not allowed:
        response = server().create_authorization_response(grant=grant, grant_user=None)
        db.commit()
        return response
    grants.remember_consent(db, user.identity.id, grant.client.id, scopes, claims)
    return _issue_code(grant, user)


def _issue_code(grant: Any, user: AuthenticatedUser) -> Any:
    response = server().create_authorization_response(grant=grant, grant_user=user)
    pending.clear_fresh_login()
    context.db().commit()
    return response


def _authorization_error(error: OAuth2Error, taken: dict[str, str] | None = None) -> Any:
    """Redirect the error to the client only once its redirect URI is known to be registered
    (RFC 6749 4.1.2.1); otherwise tell the person on a page of our own (at the ``/authorize``
    of ``taken``, a request a login just answered: ``continue_after_login``)."""
    if getattr(error, "redirect_uri", None):
        return server().handle_error_response(None, error)
    if taken is not None:
        return redirect(pending.fresh_url(taken))
    description = error.description or error.error
    return render_template("error.html", message=description), 400


@bp.post("/par")
def pushed_authorization_request() -> Any:
    """RFC 9126 2: a client-authenticated push of an authorization request; 201 with its
    request_uri, or the error as JSON (never a redirect)."""
    srv = server()
    oauth_request = srv.create_oauth2_request(None)
    db = context.db()
    try:
        repeated = [k for k in request.form if len(request.form.getlist(k)) > 1]
        if repeated:
            raise InvalidRequestError(description(f"Repeated parameter: {', '.join(repeated)}."))
        client = srv.authenticate_client(oauth_request, PAR_AUTH_METHODS,
                                         endpoint="pushed_authorization_request")
        request_uri = push_request(db, client, request.form.to_dict(), srv.client_keys,
                                   context.settings().server.issuer,
                                   srv.validate_authorization_params)
    except OAuth2Error as error:
        db.rollback()
        error.redirect_uri = None  # the client is told directly, not through the browser
        return srv.handle_error_response(oauth_request, error)
    db.commit()
    resp = jsonify(request_uri=request_uri, expires_in=PAR_LIFETIME_S)
    resp.status_code = 201
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/token")
def token() -> Any:
    # A service's usual client credentials request and a confidential client's usual refresh
    # were answered before Flask (idp.web.lanes).
    response = server().create_token_response()
    db = context.open_db()
    if db is not None:
        if response.status_code == 200:
            db.commit()
        else:
            db.rollback()
    return response


@bp.post("/introspect")
def introspect() -> Any:
    """RFC 7662: read-only, so nothing to commit. The usual request of a resource server with
    HTTP Basic credentials was answered before Flask (``idp.web.lanes``)."""
    return server().create_endpoint_response("introspection")


@bp.post("/revoke")
def revoke() -> Any:
    response = server().create_endpoint_response("revocation")
    if response.status_code == 200:
        context.db().commit()
    return response


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo() -> Any:
    """OpenID Connect Core 5.3, with the bearer token in the header or the form (RFC 6750 2);
    also answered before Flask for a token in the header (``idp.web.lanes``)."""
    value = _bearer_token()
    if not value:
        return _bearer_error(401, None)
    answer = userinfo_claims(context.services(), context.read_connection(), context.db, value)
    if isinstance(answer, Refused):
        return _bearer_error(answer.status, answer.error)
    return jsonify(answer)


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded":
        return request.form.get("access_token") or None
    return None


def _bearer_error(status: int, error: str | None) -> Response:
    challenge = 'Bearer realm="campus-id"' + (f', error="{error}"' if error else "")
    body = {"error": error} if error else {}
    resp = jsonify(body)
    resp.status_code = status
    resp.headers["WWW-Authenticate"] = challenge
    return resp
