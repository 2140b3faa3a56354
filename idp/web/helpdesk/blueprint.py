"""The helpdesk console's blueprint and who may use it: staff signed in through Campus ID
itself as for ``/admin`` (the same sign-in, ``idp.web.admin.signin``), with a cookie of the
console's own that lasts ``[helpdesk] session_minutes`` at most, and a helpdesk role
(``helpdesk``, ``helpdesk:ORG`` or consortium admin). No page is cached."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, Response, g, redirect, render_template, request, url_for

from idp import context
from idp.linking.helpdesk import HelpdeskScope
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.web.admin.staff import Area, Staff, current_staff, save_cookie

bp = Blueprint("helpdesk", __name__, url_prefix="/helpdesk")
AREA = Area("helpdesk", "campus_helpdesk", "/helpdesk",
            lambda settings: settings.helpdesk.session_minutes * 60)
F = TypeVar("F", bound=Callable[..., Any])


@bp.after_request
def _after(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return save_cookie(response, AREA)


def helpdesk_required(view: F) -> F:
    """Send a visitor to sign in; refuse (403, audited) a signed-in person without a
    helpdesk role."""
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        staff = current_staff(AREA)
        if staff is None:
            return redirect(url_for("helpdesk.sign_in", next=request.path))
        scope = staff.roles.helpdesk_scope()
        if scope is None:
            return forbidden(staff, "no helpdesk role", "helpdesk.forbidden")
        g.staff, g.scope = staff, scope
        return view(*args, **kwargs)
    return cast(F, wrapper)


def staff() -> Staff:
    found: Staff = g.staff
    return found


def scope() -> HelpdeskScope:
    found: HelpdeskScope = g.scope
    return found


def forbidden(who: Staff, what: str, message: str) -> tuple[str, int]:
    """403, written to the audit trail with the staff member as actor."""
    db = context.db()
    audit.record(db, AuditEventType.ADMIN_FORBIDDEN, actor=who.actor.label, ip=who.actor.ip,
                 path=audit.printable(request.path)[:200], reason=what,
                 roles=who.roles.describe())
    db.commit()
    return render_template("helpdesk/forbidden.html", message=message,
                           roles=who.roles.describe()), 403


def not_found() -> tuple[str, int]:
    """The same answer for a person who does not exist and one outside the staff member's
    organizations: the console never tells that such a person exists."""
    return render_template("helpdesk/not_found.html"), 404
