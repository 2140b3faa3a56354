"""The admin UI's blueprint, shared by its view modules; the admin cookie is written after
each of its responses, and none of its pages is cached (they show secrets and tokens)."""

from __future__ import annotations

from flask import Blueprint, Response

from idp.web.admin.staff import save_cookie

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.after_request
def _after(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return save_cookie(response)
