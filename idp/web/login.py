"""The login form's views: ``GET /login`` shows it (``idp.web.login_page``), ``POST /login``
checks the password and answers the request that waited for the login.

Messages never tell whether an account exists. A throttled attempt gets the form back with
429 and ``Retry-After``. A successful login recomputes the person's access grants over the
attributes it just refreshed, in the login's transaction (none of it when no access policy is
configured).
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, make_response, redirect, render_template, request

from idp import context
from idp.directory.base import AuthStatus
from idp.errors import DirectoryUnavailable
from idp.identity.login import login_with_password
from idp.provisioning import grants
from idp.storage.identities import LinkedAccount, account_key
from idp.web import pending
from idp.web.i18n import translate, wait_text
from idp.web.login_page import NEXT_PAGES, for_request, next_page_name, org_label, render, split_hint
from idp.web.oidc import continue_after_login
from idp.web.session import current_login, start_login_session

bp = Blueprint("login", __name__)
STATUS_MESSAGES = {
    AuthStatus.INVALID_CREDENTIALS: "login.invalid",
    AuthStatus.ACCOUNT_DISABLED: "login.disabled",
    AuthStatus.ACCOUNT_LOCKED: "login.locked",
    AuthStatus.PASSWORD_EXPIRED: "login.expired",
}


@bp.get("/")
def home() -> Any:
    login = current_login()
    return render_template("home.html", login=login)


@bp.get("/login")
def login_form() -> Any:
    rid = request.args.get("rid", "")
    return for_request(rid, pending.lookup(rid) or {}, next_page_name(request.args.get("next", "")))


@bp.post("/login")
def login_submit() -> Any:
    rid = request.form.get("rid", "")
    params = pending.lookup(rid) or {}
    next_page = next_page_name(request.form.get("next", ""))
    username, org_id = split_hint(request.form.get("username", "").strip())
    org_id = org_id or request.form.get("organization", "")
    password = request.form.get("password", "")
    if not username or not password:
        return render(rid, params, translate("login.missing"), username=username, organization=org_id)
    directory = context.services().directories.get(org_id)
    if directory is None:
        return render(rid, params, translate("login.unknown_org"), username=username, organization="")
    db = context.db()
    try:
        outcome = login_with_password(db, directory, username, password, ip=request.remote_addr,
                                      throttle=context.throttle(),
                                      linker=context.services().linker,
                                      client_id=params.get("client_id", "")[:64] or None)
    except DirectoryUnavailable:
        db.commit()
        org_name = org_label(context.settings().organizations[org_id])
        error = translate("login.unavailable", org=org_name)
        return render(rid, params, error, username=username, organization=org_id, status=503)
    if outcome.retry_after_s is not None:
        db.commit()
        error = translate("login.throttled", wait=wait_text(outcome.retry_after_s))
        response = make_response(render(rid, params, error, username=username,
                                        organization=org_id, status=429))
        response.headers["Retry-After"] = str(outcome.retry_after_s)
        return response
    if outcome.account is None:
        db.commit()
        message = "login.identity_locked" if outcome.identity_locked else STATUS_MESSAGES[outcome.status]
        return render(rid, params, translate(message), username=username,
                      organization=org_id, status=401)
    _recompute_access(outcome.account)
    start_login_session(outcome.account, int(time.time()))
    waiting = pending.take(rid) if rid else None
    if waiting is None:
        db.commit()
        return redirect(NEXT_PAGES.get(next_page, "/"))
    # One transaction: the session, its audit event and the code (when one is issued at once)
    # are written together or not at all; a page or an error the answer shows commits here.
    response = continue_after_login(waiting)
    db.commit()
    return response


def _recompute_access(account: LinkedAccount) -> None:
    """The identity's grants over its refreshed attributes (queued deliveries commit with the
    login). Without policies nothing is read: a change of policies is applied to everyone
    at the next start (``idp serve``) or by ``idp access recompute``."""
    settings = context.settings()
    if settings.access.policies:
        grants.recompute(context.db(), settings, [account.identity], actor=account_key(account),
                         reason="login")
