"""Signing staff in and out of the admin UI: the code flow with Campus ID, then the check
that the person holds a staff role. ``begin`` and ``complete`` serve every staff area (the
helpdesk console signs in the same way, with its own cookie and callback)."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for

from idp import context
from idp.admin.internal_client import CALLBACK_PATH
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.identities import resolve_sub
from idp.web.admin.blueprint import bp
from idp.web.admin.relying_party import PendingSignIn, SignInFailed, finish, start
from idp.web.admin.staff import ADMIN, Area, current_staff, read_cookie, signed_in, write_cookie
from idp.web.i18n import translate
from idp.web.session import current_login


@bp.get("/login")
def sign_in() -> Any:
    return begin(ADMIN, CALLBACK_PATH)


@bp.get("/callback")
def callback() -> Any:
    return complete(ADMIN, CALLBACK_PATH, url_for("admin.index"))


def begin(area: Area, callback_path: str, max_age: int | None = None) -> Any:
    """To Campus ID's authorization endpoint, and back to ``?next=`` (a page of the area)."""
    home = area.path + "/"
    next_path = request.args.get("next", "")
    if (not next_path.startswith(home) or "//" in next_path or "\\" in next_path
            or ".." in next_path):
        next_path = home  # only pages of the area: no open redirect
    pending, url = start(next_path, callback=callback_path, max_age=max_age)
    write_cookie({"pending": pending.as_dict()}, area)
    return redirect(url)


def complete(area: Area, callback_path: str, home: str) -> Any:
    """The callback: the code redeemed, the ID token checked against this browser's Campus ID
    session, the sign-in remembered and audited."""
    raw = read_cookie(area).get("pending")
    if not isinstance(raw, dict) or request.args.get("error"):
        return render_template("error.html", message=translate("admin.signin_failed")), 400
    pending = PendingSignIn(**{k: str(raw.get(k, "")) for k in ("state", "nonce", "verifier", "next")})
    try:
        sub = finish(pending, request.args.get("state", ""), request.args.get("code", ""),
                     callback=callback_path)
    except SignInFailed:
        write_cookie({}, area)
        return render_template("error.html", message=translate("admin.signin_failed")), 400
    db = context.db()
    found = resolve_sub(db, sub)
    login = current_login()
    if found is None or login is None or login.identity_id != found[0].id:
        write_cookie({}, area)
        return render_template("error.html", message=translate("admin.signin_failed")), 400
    signed_in(sub, login, area)
    staff = current_staff(area)
    audit.record(db, AuditEventType.ADMIN_SIGNED_IN, actor=f"staff:{sub}", ip=request.remote_addr,
                 identity_id=found[0].id, organization=login.account.organization,
                 account=f"{login.account.organization}:{login.account.username}",
                 roles=staff.roles.describe() if staff else [], area=area.name)
    db.commit()
    return redirect(pending.next or home)


@bp.post("/logout")
def sign_out() -> Any:
    """Leaves the admin UI only; the Campus ID session goes on (its own logout ends both)."""
    write_cookie({})
    return redirect("/")
