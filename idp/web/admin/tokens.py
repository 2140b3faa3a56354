"""Admin pages for initial access tokens (RFC 7591 3): list an organization's tokens, create
one (its value shown once), revoke one."""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, render_template, request, url_for

from idp import context
from idp.admin import tokens as service
from idp.errors import ConfigError
from idp.oidc.registration import issue_initial_access_token, parse_duration
from idp.web.admin.blueprint import bp
from idp.web.admin.staff import forbidden, staff, staff_required

DEFAULT_EXPIRY = "7d"


@bp.get("/tokens")
@staff_required
def token_list() -> Any:
    return _page()


@bp.post("/tokens")
@staff_required
def token_create() -> Any:
    who = staff()
    org = request.form.get("organization", "")
    if not who.roles.can_manage(org) or org not in context.settings().organizations:
        return forbidden(who, "registration token of another organization", org or None)
    problems: list[str] = []
    try:
        expires_in = parse_duration(request.form.get("expires_in", DEFAULT_EXPIRY) or DEFAULT_EXPIRY)
    except ValueError as exc:
        return _page([f"expires_in: {exc}"]), 400
    raw_uses = request.form.get("max_uses", "").strip()
    if raw_uses and not raw_uses.isdigit():
        return _page(["max_uses: must be a whole number"]), 400
    db = context.db()
    try:
        issued = issue_initial_access_token(db, context.settings(), org, expires_in=expires_in,
                                            max_uses=int(raw_uses) if raw_uses else None,
                                            actor=who.actor.label)
    except ConfigError as exc:
        problems = exc.problems
        db.rollback()
        return _page(problems), 400
    db.commit()
    return _page(new_value=issued.value, new_token=issued.token)


@bp.post("/tokens/<int:token_id>/revoke")
@staff_required
def token_revoke(token_id: int) -> Any:
    who = staff()
    db = context.db()
    token = service.find_token(db, token_id)
    if token is None:
        abort(404)
    if not who.roles.can_manage(token.organization):
        return forbidden(who, f"registration token {token_id} of another organization",
                         token.organization)
    service.revoke_token(db, token, who.actor)
    db.commit()
    return redirect(url_for("admin.token_list"))


def _page(problems: list[str] | None = None, **extra: Any) -> Any:
    who = staff()
    orgs = who.roles.organizations(context.settings().organizations)
    tokens = service.tokens_of(context.db(), orgs)
    return render_template("admin/tokens.html", tokens=tokens, organizations=orgs,
                           problems=problems or [], default_expiry=DEFAULT_EXPIRY, **extra)
