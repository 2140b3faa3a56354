"""Every change of the helpdesk console the same way: its preview (GET), or the change with
its required reason (POST), committed by ``change``, then back to the person's page; a
refusal shows on the preview in the page's language."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import redirect, render_template, request, url_for

from idp import context
from idp.errors import IdpError
from idp.storage.identities import Identity
from idp.web.helpdesk.refusals import refusal
from idp.web.i18n import translate


def previewed_change(identity: Identity, action: str, lines: list[str],
                     change: Callable[[str], Identity], **page: Any) -> Any:
    """The preview (GET), or the change with its reason (POST): committed, then back to the
    person's page; a refusal shows on the preview in the page's language."""
    error = ""
    if request.method == "POST":
        reason = request.form.get("reason", "").strip()
        if not reason:
            error = translate("helpdesk.reason_required")
        else:
            try:
                survivor = change(reason)
            except IdpError as exc:
                context.db().rollback()
                error = translate("helpdesk.refused", message=refusal(exc))
            else:
                return redirect(url_for("helpdesk.person", sub=survivor.sub, done=action))
    return render_template("helpdesk/action.html", identity=identity, action=action,
                           lines=lines, error=error, **page), 400 if error else 200
