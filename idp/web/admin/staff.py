"""Who is using the admin UI: the admin cookie (signed, separate from the single sign-on
cookie, which a login replaces) holds the sign-in in progress and then the validated ``sub``.

A staff member counts as signed in only while their Campus ID session lasts: logging out of
Campus ID also ends the admin UI. Roles are resolved from the identity's accounts
(``idp.admin.roles``); what the directory groups said is kept in the cookie and asked again
after ``GROUP_RECHECK_S``.
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
from idp.admin.roles import StaffRoles, roles_from_config, roles_from_groups
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.identities import Identity
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


def signed_in(sub: str, identity: Identity) -> None:
    """Remember the validated ``sub``; the groups are asked now."""
    groups = _group_orgs(identity)
    write_cookie({"sub": sub, "groups": sorted(groups), "checked": int(time.time())})


def current_staff() -> Staff | None:
    """The signed-in staff member, or None (not signed in, or the Campus ID session ended)."""
    data = read_cookie()
    sub = data.get("sub")
    login = current_login()
    if not isinstance(sub, str) or login is None or login.identity.sub != sub:
        return None
    identity = login.identity
    groups = data.get("groups", [])
    if time.time() - int(data.get("checked", 0)) > GROUP_RECHECK_S:
        groups = sorted(_group_orgs(identity))
        write_cookie({**data, "groups": groups, "checked": int(time.time())})
    configured = roles_from_config(context.settings(), _accounts(identity))
    roles = StaffRoles(configured.consortium_admin,
                       configured.org_admin_of | frozenset(str(o) for o in groups))
    return Staff(identity, roles, Actor(f"staff:{sub}", request.remote_addr))


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


def _accounts(identity: Identity) -> list[tuple[str, str]]:
    return [(a.organization, a.username) for a in identity.accounts]


def _group_orgs(identity: Identity) -> frozenset[str]:
    services = context.services()
    return roles_from_groups(services.settings, services.directories, _accounts(identity))
