"""The end-session endpoint (OpenID Connect RP-Initiated Logout 1.0), also the home page's
"Log out" button: ``/logout``, GET or POST.

* ``id_token_hint`` is verified against our keys and issuer; an expired one is accepted
  (section 2). Its ``aud`` names the client; ``client_id``, when also given, must be one of it.
* ``post_logout_redirect_uri`` must match one of the client's registered URIs exactly; else an
  error page, no redirect, and no session is ended. ``state`` is echoed on the redirect.
* Without a valid hint a logout is a state change anyone could trigger from another site, so
  the person confirms it on a CSRF-protected form first (section 2, "logout CSRF").
* A hint naming another session than this browser's (another person, or an older session of
  the same person): the session the hint names (its ``sid``) is ended, if it is still active
  and belongs to the hint's ``sub``; this browser's session is left alone. A hint without
  ``sid`` ends this browser's session only when it belongs to the hint's ``sub``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, g, redirect, render_template, request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp import context
from idp.identity.subjects import subject_for
from idp.oidc.keys import SUPPORTED_ALGS
from idp.storage.clients import Client
from idp.storage.identities import Identity, aliases_of
from idp.storage.sessions import LoginSession, find_session_by_sid
from idp.web.csrf import FIELD
from idp.web.i18n import LANGUAGES, translate
from idp.web.session import (
    current_login,
    deliver_logout_tokens,
    end_any_session,
    end_login_session,
)

bp = Blueprint("logout", __name__)
MAX_HINT = 8192


class LogoutRequestError(Exception):
    def __init__(self, message_key: str) -> None:
        super().__init__(message_key)
        self.message_key = message_key


@bp.route("/logout", methods=["GET", "POST"])
def end_session() -> Any:
    params = request.values
    _choose_language(params.get("ui_locales", ""))
    try:
        hint = _verified_hint(params.get("id_token_hint", ""))
        client = _client(hint, params.get("client_id", ""))
        redirect_uri = params.get("post_logout_redirect_uri", "")
        if redirect_uri and (client is None or not client.check_post_logout_redirect_uri(redirect_uri)):
            raise LogoutRequestError("logout.bad_redirect")
    except LogoutRequestError as error:
        return render_template("error.html", message=translate(error.message_key)), 400
    state = params.get("state", "")
    if hint is None and not _confirmed():
        return render_template("logout_confirm.html", client=client,
                               client_id=client.client_id if client else "",
                               redirect_uri=redirect_uri, state=state,
                               ui_locales=params.get("ui_locales", ""))
    client_id = client.client_id if client else None
    reason = "rp_initiated" if client is not None else "logout"
    if hint is None:
        ids = end_login_session(reason, client_id)
    else:
        ids = _end_hinted(hint, reason, client)
    db = context.db()
    db.commit()
    deliver_logout_tokens(ids)
    if redirect_uri:
        return redirect(_with_state(redirect_uri, state), code=302)
    if hint is None and client is None:
        return redirect("/")  # the home page's button: home says "signed out"
    return render_template("logged_out.html")


def _end_hinted(hint: dict[str, Any], reason: str, client: Client | None) -> list[int]:
    """The hint's ``sub`` is the one its client saw: public, or pairwise for that client."""
    client_id = client.client_id if client is not None else None
    current = current_login()
    named: LoginSession | None = None
    if isinstance(hint.get("sid"), str):
        named = find_session_by_sid(context.db(), hint["sid"])
    elif current is not None:
        named = current
    if named is None or not named.is_active():
        return []
    if not _same_person(client, named, hint.get("sub")):
        return []
    if current is not None and current.id == named.id:
        return end_login_session(reason, client_id)
    return end_any_session(named, reason, client_id)


def _same_person(client: Client | None, login: LoginSession, sub: Any) -> bool:
    """Whether the hint's ``sub`` is what ``client`` was told for the session's identity, by
    its ``sub`` or by one of its aliases: a hint issued before a merge carries the absorbed
    identity's ``sub``, which resolves to the survivor since (``identities.resolve_sub``)."""
    secret = context.settings().server.secret_key
    if not isinstance(sub, str):
        return False
    if subject_for(client, login.identity, secret) == sub:
        return True
    return any(subject_for(client, Identity(sub=alias.sub), secret) == sub
               for alias in aliases_of(context.db(), login.identity_id))


def _verified_hint(value: str) -> dict[str, Any] | None:
    if not value:
        return None
    if len(value) > MAX_HINT:
        raise LogoutRequestError("logout.bad_hint")
    keys = KeySet(list(context.services().keyring().published))
    try:
        token = jwt.decode(value, keys, algorithms=list(SUPPORTED_ALGS))
    except (JoseError, ValueError):
        raise LogoutRequestError("logout.bad_hint") from None
    claims = dict(token.claims)
    if claims.get("iss") != context.settings().server.issuer or not isinstance(claims.get("sub"), str):
        raise LogoutRequestError("logout.bad_hint")
    return claims  # an expired hint is fine (RP-Initiated Logout 1.0, section 2)


def _client(hint: dict[str, Any] | None, client_id: str) -> Client | None:
    if hint is not None:
        aud = hint.get("aud")
        audiences = [aud] if isinstance(aud, str) else [a for a in aud or [] if isinstance(a, str)]
        if client_id and client_id not in audiences:
            raise LogoutRequestError("logout.bad_client")
        client_id = client_id or (audiences[0] if len(audiences) == 1 else "")
    if not client_id:
        return None
    client = context.client(client_id)
    if client is None:
        raise LogoutRequestError("logout.bad_client")
    return client


def _confirmed() -> bool:
    """A POST that carries this browser's form token: the confirmation form, or the home
    page's "Log out" button."""
    if request.method != "POST" or not request.form.get(FIELD):
        return False
    from idp.web.csrf import check_form_token

    check_form_token()  # a wrong token is a 400, not a silent logout
    return True


def _choose_language(ui_locales: str) -> None:
    for tag in ui_locales.split():
        language = tag.split("-")[0].lower()
        if language in LANGUAGES:
            g.ui_language = language
            return


def _with_state(uri: str, state: str) -> str:
    if not state:
        return uri
    parts = urlsplit(uri)
    query = [*parse_qsl(parts.query, keep_blank_values=True), ("state", state)]
    return urlunsplit(parts._replace(query=urlencode(query)))
