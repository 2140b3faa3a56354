"""Signing staff in and out of the admin UI: the code flow with Campus ID, then the check
that the person holds a staff role."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for

from idp import context
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.identities import resolve_sub
from idp.web.admin.blueprint import bp
from idp.web.admin.relying_party import PendingSignIn, SignInFailed, finish, start
from idp.web.admin.staff import current_staff, read_cookie, signed_in, write_cookie
from idp.web.i18n import translate
from idp.web.session import current_login


@bp.get("/login")
def sign_in() -> Any:
    next_path = request.args.get("next", "")
    if (not next_path.startswith("/admin/") or "//" in next_path or "\\" in next_path
            or ".." in next_path):
        next_path = "/admin/"  # only pages of the admin UI: no open redirect
    pending, url = start(next_path)
    write_cookie({"pending": pending.as_dict()})
    return redirect(url)


@bp.get("/callback")
def callback() -> Any:
    raw = read_cookie().get("pending")
    if not isinstance(raw, dict) or request.args.get("error"):
        return render_template("error.html", message=translate("admin.signin_failed")), 400
    pending = PendingSignIn(**{k: str(raw.get(k, "")) for k in ("state", "nonce", "verifier", "next")})
    try:
        sub = finish(pending, request.args.get("state", ""), request.args.get("code", ""))
    except SignInFailed:
        write_cookie({})
        return render_template("error.html", message=translate("admin.signin_failed")), 400
    db = context.db()
    found = resolve_sub(db, sub)
    login = current_login()
    if found is None or login is None or login.identity_id != found[0].id:
        write_cookie({})
        return render_template("error.html", message=translate("admin.signin_failed")), 400
    signed_in(sub, login)
    staff = current_staff()
    audit.record(db, AuditEventType.ADMIN_SIGNED_IN, actor=f"staff:{sub}", ip=request.remote_addr,
                 identity_id=found[0].id, organization=login.account.organization,
                 account=f"{login.account.organization}:{login.account.username}",
                 roles=staff.roles.describe() if staff else [])
    db.commit()
    return redirect(pending.next or url_for("admin.index"))


@bp.post("/logout")
def sign_out() -> Any:
    """Leaves the admin UI only; the Campus ID session goes on (its own logout ends both)."""
    write_cookie({})
    return redirect("/")
