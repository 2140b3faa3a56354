"""The sports and culture pass on the web: ``/pass/jwks`` (the keys that verify passes, for
turnstiles to cache), ``/pass/revoked`` (the revocation list, cacheable for its ``ttl``),
``/account/pass`` (the signed-in person's fresh passes as JSON, which ``static/pass.js``
fetches every minute) and the "Your passes" section of My Campus ID with its QR codes (segno
SVG as data URIs). Its Russian and English texts are added to ``idp.web.i18n`` here."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import segno
from flask import Blueprint, Response, jsonify
from sqlalchemy.orm import Session

from idp import context
from idp.passes.issue import issue_passes, pass_resources
from idp.passes.revoked import revocation_list
from idp.settings.model import JWKS_MAX_AGE_S, Settings
from idp.storage.base import utcnow
from idp.storage.identities import Identity, get_identity
from idp.web.i18n import current_language, translate
from idp.web.messages import MESSAGES
from idp.web.session import current_login

bp = Blueprint("passes", __name__)
# Keys that can sign a pass: a pass is too small for an RSA signature.
PASS_KEY_TYPES = {("EC", "P-256"), ("OKP", "Ed25519")}

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "pass.heading": "Your passes",
        "pass.intro": "Show the code at the turnstile or to the staff. It renews itself every "
                      "minute while this page is open; a screenshot stops working within minutes.",
        "pass.until": "Valid until {time} UTC",
        "pass.qr": "Pass QR code for {name}",
        "pass.unavailable": "The pass cannot be shown right now. Reload the page later.",
    },
    "ru": {
        "pass.heading": "Ваши пропуска",
        "pass.intro": "Покажите код на турникете или сотруднику. Пока страница открыта, он "
                      "обновляется каждую минуту; снимок экрана перестаёт действовать через "
                      "несколько минут.",
        "pass.until": "Действует до {time} UTC",
        "pass.qr": "QR-код пропуска: {name}",
        "pass.unavailable": "Пропуск сейчас не показать. Обновите страницу позже.",
    },
}
for _language, _texts in TEXTS.items():
    MESSAGES[_language].update(_texts)


@dataclass(frozen=True)
class ShownPass:
    """One pass as the page shows it, in the page's language."""

    resource: str
    name: str
    entitlement: str
    text: str
    qr: str  # an SVG data URI
    until: str

    def as_json(self) -> dict[str, str]:
        return {"resource": self.resource, "name": self.name, "entitlement": self.entitlement,
                "text": self.text, "qr": self.qr, "until": self.until}


def renew_every_s(settings: Settings) -> int:
    """How often the page fetches fresh passes: a minute, or a third of a shorter lifetime."""
    return min(60, settings.passes.lifetime_s // 3)


def passes_for_page(db: Session, settings: Settings, identity: Identity) -> list[ShownPass] | None:
    """None (the section is left out) when no sports or culture resource is configured."""
    resources = pass_resources(settings)
    if not resources:
        return None
    russian = current_language() == "ru"
    shown = []
    for issued in issue_passes(db, settings, identity, context.services().keyring(), utcnow()):
        resource = resources[issued.resource]
        name = resource.name_ru if russian and resource.name_ru else resource.name
        qr = segno.make_qr(issued.text, error="m").svg_data_uri(scale=4, border=4, light="#fff")
        shown.append(ShownPass(issued.resource, name, issued.entitlement, issued.text, qr,
                               translate("pass.until", time=issued.expires_at.strftime("%H:%M"))))
    return shown


@bp.get("/pass/jwks")
def pass_jwks() -> Response:
    keys = [k for k in context.services().keyring().jwks()["keys"]
            if (k.get("kty"), k.get("crv")) in PASS_KEY_TYPES]
    return Response(json.dumps({"keys": keys}, separators=(",", ":")),
                    mimetype="application/jwk-set+json",
                    headers={"Cache-Control": f"public, max-age={JWKS_MAX_AGE_S}"})


@bp.get("/pass/revoked")
def pass_revoked() -> Response:
    settings = context.settings()
    listing = revocation_list(context.db(), settings, utcnow())
    context.db().commit()  # the read's transaction, before the answer goes out
    response = jsonify(listing)
    response.headers["Cache-Control"] = f"public, max-age={settings.passes.revocation_ttl_s}"
    return response


@bp.get("/account/pass")
def account_pass() -> Any:
    login = current_login()
    if login is None:
        return jsonify(error="login_required"), 401
    db = context.db()
    settings = context.settings()
    identity = get_identity(db, login.identity_id) or login.identity
    passes = passes_for_page(db, settings, identity) or []
    db.commit()
    return jsonify(passes=[p.as_json() for p in passes], renew_s=renew_every_s(settings))
