"""The campus card through the running provider, with real slapd logins: a student's first
login issues a card that My Campus ID shows with its barcode and QR code in English and
Russian, under the strict CSP; the printable card names the person, the home university and
the number, also as a 300 dpi PNG whose barcode a real decoder (zxing-cpp) reads back as the
number; the helpdesk API re-issues it (token, role, input, lookup and state checked)."""

from __future__ import annotations

import base64
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from flask import Flask
from PIL import Image
from sqlalchemy import select

from demo.slapd import SlapdServer
from idp.app import create_app
from idp.provisioning.card_numbers import grouped
from idp.storage.cards import CampusCard
from idp.storage.identities import Identity
from idp.storage.provisioning import DeliveryJob
from idp.web.card_images import barcode_svg, qr_svg
from tests.flows.conftest import make_settings
from tests.flows.test_access_follows_login import access_tables, userinfo
from tests.flows.test_account import open_account, rows
from tests.flows.test_helpdesk_api import HELPDESK, HELPDESK_TPU, call, helpdesk_clients, token_of

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def app(settings: Any, database_url: str, directories: dict[str, SlapdServer],
        tmp_path: Path) -> Iterator[Flask]:
    """As in test_access_follows_login: a library for students, delivered through a webhook."""
    del settings  # migrated the database
    secret = tmp_path / "hook.secret"
    secret.write_text("whsec_" + base64.b64encode(b"k" * 32).decode(), encoding="utf-8")
    app = create_app(make_settings(database_url, directories, clients=helpdesk_clients(),
                                   **access_tables(secret)))
    yield app
    app.extensions["campus_id"].engine.dispose()


def card_of(app: Flask, sub: str) -> str | None:
    with app.extensions["campus_id"].sessions() as db:
        identity = db.scalars(select(Identity).where(Identity.sub == sub)).one()
        number: str | None = db.scalars(select(CampusCard.number).where(
            CampusCard.identity_id == identity.id, CampusCard.state == "active")).one_or_none()
        return number


def images(page: str) -> dict[str, bytes]:
    """The page's data: images by class, decoded."""
    found = re.findall(r'<img class="(card-[a-z]+)" src="data:image/svg\+xml;base64,([^"]+)"', page)
    return {name: base64.b64decode(data) for name, data in found}


def test_the_account_page_shows_the_card_with_its_images_in_both_languages(app: Flask) -> None:
    sub = userinfo(app, "tpu", "dvasiliev")["sub"]
    number = card_of(app, sub)
    assert number is not None
    browser = app.test_client()
    open_account(browser, "tpu", "dvasiliev")
    english = browser.get("/account?lang=en")
    page = english.get_data(as_text=True)
    assert "Campus card" in page and f'<strong class="card-number">{grouped(number)}</strong>' in page
    assert images(page) == {"card-barcode": barcode_svg(number), "card-qr": qr_svg(number)}
    assert f'alt="Barcode of card number {number}"' in page
    assert 'href="/account/card.svg"' in page
    assert '<a href="/account/card.png" download="campus-card.png">Download a printable card</a>' \
        in page
    policy = english.headers["Content-Security-Policy"]
    assert "img-src 'self' data:" in policy and "unsafe-inline" not in policy
    assert "<svg" not in page.split("<main", 1)[-1]  # the images are data: URIs, not inline
    russian = browser.get("/account?lang=ru").get_data(as_text=True)
    assert "Единый читательский билет" in russian and "Номер билета" in russian
    assert f'alt="QR-код билета {number}"' in russian
    assert images(russian) == images(page)
    assert ">Скачать билет для печати</a>" in russian


def test_the_printable_card_names_the_person_the_university_and_the_number(app: Flask) -> None:
    sub = userinfo(app, "tpu", "dvasiliev")["sub"]
    number = card_of(app, sub)
    assert number is not None
    browser = app.test_client()
    open_account(browser, "tpu", "dvasiliev")
    answer = browser.get("/account/card.svg?lang=en")
    assert answer.status_code == 200 and answer.mimetype == "image/svg+xml"
    assert answer.headers["Cache-Control"] == "no-store"
    root = ET.fromstring(answer.get_data())
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    university = app.extensions["campus_id"].settings.organizations["tpu"].name
    assert texts[0] == "Unified library card" and texts[2] == university
    assert "Васильев" in texts[1] and texts[3] == grouped(number)
    [barcode] = root.iter(f"{SVG}image")
    assert base64.b64decode(barcode.attrib["href"].split(",", 1)[1]) == barcode_svg(number)
    assert root.attrib["width"] == "85.6mm"
    russian = ET.fromstring(browser.get("/account/card.svg?lang=ru").get_data())
    assert "Единый читательский билет" in [t.text for t in russian.iter(f"{SVG}text")]


def test_the_png_card_is_85_6_by_54_mm_at_300_dpi_and_its_barcode_scans(app: Flask) -> None:
    sub = userinfo(app, "tpu", "dvasiliev")["sub"]
    number = card_of(app, sub)
    assert number is not None
    browser = app.test_client()
    open_account(browser, "tpu", "dvasiliev")
    for language in ("en", "ru"):
        answer = browser.get(f"/account/card.png?lang={language}")
        assert answer.status_code == 200 and answer.mimetype == "image/png"
        assert answer.headers["Cache-Control"] == "no-store"
        assert 'filename="campus-card.png"' in answer.headers["Content-Disposition"]
        image = Image.open(io.BytesIO(answer.get_data()))
        assert image.format == "PNG" and image.size == (1011, 638)
        assert [round(d) for d in image.info["dpi"]] == [300, 300]
        [barcode] = zxingcpp.read_barcodes(image)
        assert barcode.format == zxingcpp.BarcodeFormat.Code128 and barcode.text == number


def test_no_card_no_section_and_no_printable_card(app: Flask) -> None:
    browser = app.test_client()
    for path in ("/account/card.svg", "/account/card.png"):
        assert browser.get(path).headers["Location"] == "/login?next=account"
    page = open_account(browser, "tsu", "kirill.sorokin").get_data(as_text=True)  # no library
    assert 'id="card"' not in page and "card-barcode" not in page
    assert browser.get("/account/card.svg").status_code == 404
    assert browser.get("/account/card.png").status_code == 404


def error_of(answer: Any, status: int, error: str) -> None:
    assert answer.status_code == status, answer.json
    assert answer.json["error"] == error


def test_the_helpdesk_reissues_a_lost_card(app: Flask) -> None:
    sub = userinfo(app, "tpu", "dvasiliev")["sub"]
    old = card_of(app, sub)
    api = app.test_client()
    path = f"/identities/{sub}/card/reissue"
    error_of(call(api, "POST", path, None, json={"reason": "lost"}), 401, "invalid_token")
    token = token_of(api, HELPDESK)
    error_of(call(api, "POST", path, token, json={}), 422, "invalid_input")
    error_of(call(api, "POST", "/identities/nobody/card/reissue", token, json={"reason": "x"}),
             404, "not_found")
    assert card_of(app, sub) == old

    answer = call(api, "POST", path, token, json={"reason": "lost at the gym"})
    assert answer.status_code == 200, answer.json
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.json
    assert body is not None
    new = body["card_number"]
    assert body["previous_card_number"] == old and new != old
    assert card_of(app, sub) == new
    jobs = [j for j in rows(app, DeliveryJob) if j.id in body["jobs"]]
    assert [(j.kind, j.resource) for j in jobs] == [("grant", "library")]
    assert jobs[0].payload["person"]["previous_card_number"] == old
    assert jobs[0].payload["person"]["card_number"] == new

    browser = app.test_client()
    page = open_account(browser, "tpu", "dvasiliev").get_data(as_text=True)
    assert grouped(new) in page and grouped(old or "") not in page

    nobody = userinfo(app, "tsu", "kirill.sorokin")["sub"]  # neither card nor library
    error_of(call(api, "POST", f"/identities/{nobody}/card/reissue", token,
                  json={"reason": "lost"}), 409, "conflict")
    error_of(call(api, "POST", f"/identities/{nobody}/card/reissue", token_of(api, HELPDESK_TPU),
                  json={"reason": "lost"}), 403, "forbidden")  # not a tpu person
