"""Who is using the admin UI: the admin cookie (signed, separate from the single sign-on
cookie, which a login replaces) holds the sign-in in progress and then the validated ``sub``.

A staff member counts as signed in only while their Campus ID session lasts: logging out of
Campus ID also ends the admin UI. Roles belong to the account the person signed in with (the
login session's account, ``idp.admin.roles``), never to the other accounts linked to the same
identity: linking must not carry a privilege from one account to another. What the directory
group said is kept in the cookie, for that account only, and asked again after
``GROUP_RECHECK_S`` or when the session's account changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Response, g, redirect, render_template, request, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer

from idp import context
from idp.admin.clients import Actor
from idp.admin.roles import StaffRoles, account_roles, in_admin_group
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.identities import Identity, LinkedAccount
from idp.storage.sessions import LoginSession
from idp.web.session import current_login

COOKIE = "campus_admin"
PATH = "/admin"
GROUP_RECHECK_S = 300
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Staff:
    identity: Identity
    roles: StaffRoles
    actor: Actor


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(context.settings().server.secret_key, salt="campus-id/admin")


def read_cookie() -> dict[str, Any]:
    if "admin_cookie" in g:
        return cast(dict[str, Any], g.admin_cookie)
    raw = request.cookies.get(COOKIE, "")
    data: dict[str, Any] = {}
    if raw:
        try:
            loaded = _serializer().loads(raw, max_age=context.settings().server.session_lifetime_s)
            data = loaded if isinstance(loaded, dict) else {}
        except BadSignature:
            data = {}
    g.admin_cookie = data
    return data


def write_cookie(data: dict[str, Any]) -> None:
    """Sent with this request's response (``save_cookie``)."""
    g.admin_cookie = data
    g.admin_cookie_dirty = True


def save_cookie(response: Response) -> Response:
    if g.get("admin_cookie_dirty"):
        data = g.admin_cookie
        if data:
            response.set_cookie(COOKIE, _serializer().dumps(data), path=PATH, httponly=True,
                                secure=not context.settings().server.dev_mode, samesite="Lax")
        else:
            response.delete_cookie(COOKIE, path=PATH)
    return response


def signed_in(sub: str, login: LoginSession) -> None:
    """Remember the validated ``sub`` and the account it was validated with; its group is
    asked now."""
    write_cookie({"sub": sub, "account": login.account_id,
                  "group": _in_group(login.account), "checked": int(time.time())})


def current_staff() -> Staff | None:
    """The signed-in staff member, or None (not signed in, or the Campus ID session ended)."""
    data = read_cookie()
    sub = data.get("sub")
    login = current_login()
    if not isinstance(sub, str) or login is None or login.identity.sub != sub:
        return None
    account = login.account
    in_group = data.get("group") is True
    stale = time.time() - int(data.get("checked", 0)) > GROUP_RECHECK_S
    if stale or data.get("account") != account.id:  # another account of the person signed in
        in_group = _in_group(account)
        write_cookie({**data, "account": account.id, "group": in_group, "checked": int(time.time())})
    roles = account_roles(context.settings(), account.organization, account.username, in_group)
    return Staff(login.identity, roles, Actor(f"staff:{sub}", request.remote_addr))


def staff_required(view: F) -> F:
    """Send a visitor to sign in; refuse (403, audited) a signed-in person who is not staff."""
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        staff = current_staff()
        if staff is None:
            return redirect(url_for("admin.sign_in", next=request.path))
        if not staff.roles.is_staff:
            return forbidden(staff, "not staff")
        g.staff = staff
        return view(*args, **kwargs)
    return cast(F, wrapper)


def staff() -> Staff:
    found: Staff = g.staff
    return found


def forbidden(who: Staff, what: str, organization: str | None = None) -> tuple[str, int]:
    """403, written to the audit trail with the staff member as actor."""
    db = context.db()
    audit.record(db, AuditEventType.ADMIN_FORBIDDEN, actor=who.actor.label, ip=who.actor.ip,
                 organization=organization, path=audit.printable(request.path)[:200],
                 reason=what, roles=who.roles.describe())
    db.commit()
    return render_template("admin/forbidden.html", roles=who.roles.describe()), 403


def _in_group(account: LinkedAccount) -> bool:
    """Asks the directory, and notes the answer on the account for automatic linking, which
    keeps staff accounts apart (``idp.linking.rules``); committed with the request."""
    services = context.services()
    context.db().commit()  # the reads so far: no transaction held while the directory answers
    found = in_admin_group(services.settings, services.directories, account.organization,
                           account.username)
    if account.staff_role != found:
        account.staff_role = found
    return found
