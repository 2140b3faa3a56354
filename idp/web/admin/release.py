"""The admin page of a client's attribute release policy (``idp.admin.release``): every level shown
(the consortium's default, each organization's narrowing); a staff member edits the levels of
the organizations they manage, and the consortium's default only as consortium_admin. Each
change is a CSRF-protected POST, checked by ``change_release`` and audited there."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for

from idp import context
from idp.admin.release import change_release, release_levels
from idp.errors import ConfigError
from idp.identity.claim_names import RELEASABLE_CLAIMS
from idp.storage.clients import Client
from idp.storage.release import CONSORTIUM
from idp.web.admin.blueprint import bp
from idp.web.admin.clients import managed_client
from idp.web.admin.staff import Staff, forbidden, staff, staff_required


@bp.get("/clients/<client_id>/release")
@staff_required
def release_show(client_id: str) -> Any:
    client = managed_client(client_id)
    if not isinstance(client, Client):
        return client
    return _page(client, staff())


@bp.post("/clients/<client_id>/release")
@staff_required
def release_change(client_id: str) -> Any:
    client = managed_client(client_id)
    if not isinstance(client, Client):
        return client
    who = staff()
    level = request.form.get("level", CONSORTIUM)
    if not _may_edit(who, level):
        return forbidden(who, f"release policy level {level or 'consortium'!r}", level or None)
    claims = request.form.getlist("claim") if request.form.get("restrict") == "on" else None
    db = context.db()
    try:
        change_release(db, client, claims, organizations=context.settings().organizations,
                       organization=level, actor=who.actor.label)
    except ConfigError as exc:
        db.rollback()
        return _page(client, who, exc.problems), 400
    db.commit()
    return redirect(url_for("admin.release_show", client_id=client.client_id, saved=1))


def _may_edit(who: Staff, level: str) -> bool:
    if level == CONSORTIUM:
        return who.roles.consortium_admin
    return level in context.settings().organizations and who.roles.can_manage(level)


def _page(client: Client, who: Staff, problems: list[str] | None = None) -> Any:
    orgs = list(context.settings().organizations)
    levels = release_levels(context.db(), client, orgs)
    return render_template("admin/release.html", client=client, levels=levels,
                           claims=RELEASABLE_CLAIMS, problems=problems or [],
                           editable={lv.organization for lv in levels if _may_edit(who, lv.organization)},
                           saved=bool(request.args.get("saved")))
