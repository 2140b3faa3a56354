""""Campus card" on My Campus ID: the person's active card number with a Code 128 barcode
and a QR code of it, and the printable card (``/account/card.png`` at 300 dpi, and
``/account/card.svg``: name, home university, number, barcode). Read-only: cards are issued
by ``idp.provisioning.cards``. Its Russian and English texts are added to ``idp.web.i18n``
when this module is imported; the blueprint is registered by the app factory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, redirect
from sqlalchemy.orm import Session

from idp import context
from idp.provisioning.card_numbers import grouped
from idp.provisioning.outbox import person_of
from idp.settings.model import Settings
from idp.storage.cards import active_card
from idp.storage.identities import Identity, get_identity
from idp.web.card_images import barcode_svg, data_uri, printable_card, qr_svg
from idp.web.card_png import printable_card_png
from idp.web.i18n import current_language, translate
from idp.web.messages import MESSAGES
from idp.web.session import current_login

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "card.heading": "Campus card",
        "card.title": "Unified library card",
        "card.intro": "Your card number for every library of the consortium. Show the barcode "
                      "or the QR code at the desk, or print the card.",
        "card.number": "Card number",
        "card.barcode": "Barcode of card number {number}",
        "card.qr": "QR code of card number {number}",
        "card.print": "Printable card (SVG)",
        "card.download": "Download a printable card",
        "card.lost": "Lost your card? Ask your university's helpdesk for a new number: the old "
                     "one stops working in every library.",
    },
    "ru": {
        "card.heading": "Единый читательский билет",
        "card.title": "Единый читательский билет",
        "card.intro": "Номер вашего билета во всех библиотеках консорциума. Покажите штрихкод "
                      "или QR-код на выдаче или распечатайте билет.",
        "card.number": "Номер билета",
        "card.barcode": "Штрихкод билета {number}",
        "card.qr": "QR-код билета {number}",
        "card.print": "Билет для печати (SVG)",
        "card.download": "Скачать билет для печати",
        "card.lost": "Потеряли билет? Служба поддержки вашего университета выдаст новый номер, "
                     "а старый перестанет действовать во всех библиотеках.",
    },
}
for _language, _texts in TEXTS.items():
    MESSAGES[_language].update(_texts)

bp = Blueprint("account_card", __name__)


@dataclass(frozen=True)
class CardView:
    number: str
    grouped: str
    barcode: str  # data: URI of the SVG
    qr: str


def campus_card(db: Session, identity: Identity) -> CardView | None:
    """The section's content; None (the section is left out) without an active card."""
    card = active_card(db, identity.id)
    if card is None:
        return None
    return CardView(card.number, grouped(card.number), data_uri(barcode_svg(card.number)),
                    data_uri(qr_svg(card.number)))


@bp.get("/account/card.svg")
def printable() -> Any:
    return _printable(lambda texts: Response(printable_card(**texts), mimetype="image/svg+xml",
                                             headers={"Content-Disposition":
                                                      'inline; filename="campus-card.svg"'}))


@bp.get("/account/card.png")
def printable_png() -> Any:
    return _printable(lambda texts: Response(printable_card_png(**texts), mimetype="image/png",
                                             headers={"Content-Disposition":
                                                      'attachment; filename="campus-card.png"'}))


def _printable(render: Callable[[dict[str, str]], Response]) -> Any:
    """The signed-in person's card rendered from its texts; 404 without an active card."""
    login = current_login()
    if login is None:
        return redirect("/login?next=account")
    db = context.db()
    identity = get_identity(db, login.identity_id) or login.identity
    card = active_card(db, identity.id)
    if card is None:
        return Response(translate("account.not_found"), status=404, mimetype="text/plain")
    settings = context.settings()
    person = person_of(settings, identity)
    return render({"name": person["name"] or person["username"] or identity.campus_id,
                   "university": _university(settings, person["home_organization"]),
                   "number": card.number, "title": translate("card.title")})


def _university(settings: Settings, organization: str | None) -> str:
    found = settings.organizations.get(organization or "")
    if found is None:
        return organization or ""
    return found.name_ru if current_language() == "ru" and found.name_ru else found.name
