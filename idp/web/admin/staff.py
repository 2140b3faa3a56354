"""Who is using the admin UI: the admin cookie (signed, separate from the single sign-on
cookie, which a login replaces) holds the sign-in in progress and then the validated ``sub``.

A staff member counts as signed in only while their Campus ID session lasts: logging out of
Campus ID also ends the admin UI. Roles belong to the account the person signed in with (the
login session's account, ``idp.admin.roles``), never to the other accounts linked to the same
identity: linking must not carry a privilege from one account to another. What the directory
groups said (``admin_group_dn``, ``helpdesk_group_dn``) is kept in the cookie, for that account
only, and asked again after ``GROUP_RECHECK_S`` or when the session's account changes.
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
from idp.admin.roles import GroupMembership, StaffRoles, account_roles, directory_groups
from idp.settings import Settings
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.identities import Identity, LinkedAccount
from idp.storage.sessions import LoginSession
from idp.web.session import current_login

GROUP_RECHECK_S = 300
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Area:
    """A part of the web UI that staff sign in to, with a cookie of its own (scoped to its
    path): the admin UI, the helpdesk console. A sign-in lasts ``lifetime_s`` at most."""

    name: str
    cookie: str
    path: str
    lifetime_s: Callable[[Settings], int]


ADMIN = Area("admin", "campus_admin", "/admin", lambda s: s.server.session_lifetime_s)


@dataclass(frozen=True)
class Staff:
    identity: Identity
    roles: StaffRoles
    actor: Actor


def _serializer(area: Area) -> URLSafeTimedSerializer:
    salt = "campus-id/admin" if area is ADMIN else f"campus-id/{area.name}"
    return URLSafeTimedSerializer(context.settings().server.secret_key, salt=salt)


def read_cookie(area: Area = ADMIN) -> dict[str, Any]:
    cookies: dict[str, dict[str, Any]] = g.setdefault("staff_cookies", {})
    if area.name in cookies:
        return cookies[area.name]
    raw = request.cookies.get(area.cookie, "")
    data: dict[str, Any] = {}
    if raw:
        try:
            loaded = _serializer(area).loads(raw, max_age=area.lifetime_s(context.settings()))
            data = loaded if isinstance(loaded, dict) else {}
        except BadSignature:
            data = {}
    cookies[area.name] = data
    return data


def write_cookie(data: dict[str, Any], area: Area = ADMIN) -> None:
    """Sent with this request's response (``save_cookie``)."""
    g.setdefault("staff_cookies", {})[area.name] = data
    g.setdefault("staff_cookies_dirty", set()).add(area.name)


def save_cookie(response: Response, area: Area = ADMIN) -> Response:
    if area.name in g.get("staff_cookies_dirty", ()):
        data = g.staff_cookies[area.name]
        if data:
            response.set_cookie(area.cookie, _serializer(area).dumps(data), path=area.path,
                                httponly=True, secure=not context.settings().server.dev_mode,
                                samesite="Lax")
        else:
            response.delete_cookie(area.cookie, path=area.path)
    return response


def signed_in(sub: str, login: LoginSession, area: Area = ADMIN) -> None:
    """Remember the validated ``sub`` and the account it was validated with; its groups are
    asked now."""
    now = int(time.time())
    write_cookie({"sub": sub, "account": login.account_id,
                  "groups": _groups_cookie(_in_groups(login.account)), "checked": now,
                  "at": now}, area)


def current_staff(area: Area = ADMIN) -> Staff | None:
    """The signed-in staff member, or None (not signed in, the sign-in older than the area's
    lifetime, or the Campus ID session ended)."""
    data = read_cookie(area)
    sub = data.get("sub")
    login = current_login()
    if not isinstance(sub, str) or login is None or login.identity.sub != sub:
        return None
    if time.time() - int(data.get("at", time.time())) > area.lifetime_s(context.settings()):
        return None
    account = login.account
    groups = _groups_read(data.get("groups"))
    stale = time.time() - int(data.get("checked", 0)) > GROUP_RECHECK_S
    if groups is None or stale or data.get("account") != account.id:  # or another account
        groups = _in_groups(account)
        write_cookie({**data, "account": account.id, "groups": _groups_cookie(groups),
                      "checked": int(time.time())}, area)
    roles = account_roles(context.settings(), account.organization, account.username, groups)
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


def _in_groups(account: LinkedAccount) -> GroupMembership:
    """Asks the directory, and notes on the account whether a group made it staff (admin or
    helpdesk), for automatic linking, which keeps staff accounts apart
    (``idp.linking.rules``); committed with the request."""
    services = context.services()
    context.db().commit()  # the reads so far: no transaction held while the directory answers
    found = directory_groups(services.settings, services.directories, account.organization,
                             account.username)
    staff_role = found.admin or found.helpdesk
    if account.staff_role != staff_role:
        account.staff_role = staff_role
    return found


def _groups_cookie(groups: GroupMembership) -> dict[str, bool]:
    return {"admin": groups.admin, "helpdesk": groups.helpdesk}


def _groups_read(raw: Any) -> GroupMembership | None:
    """What the cookie remembers of the groups; None when it holds nothing readable (a cookie
    of an older version): the directory is asked again."""
    if not isinstance(raw, dict):
        return None
    return GroupMembership(raw.get("admin") is True, raw.get("helpdesk") is True)
