"""A person logs in at the sample relying party in a real browser, on a phone-sized screen,
and a second visit gets in without the password (single sign-on)."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_login_consent_and_single_sign_on(page: Page, sites: dict[str, str]) -> None:
    page.goto(sites["rp"])
    page.get_by_role("button", name="Log in with Campus ID").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Вход с учётной записью вашего университета")
    expect(page.get_by_text("«Электронная библиотека»")).to_be_visible()
    page.get_by_label("Логин").fill("demo@tsu.ru")  # the scope picks the university
    page.get_by_label("Пароль").fill("demo")
    page.get_by_label("Пароль").press("Enter")  # the keyboard is enough
    expect(page.get_by_role("heading", level=1)).to_contain_text("запрашивает доступ")
    page.get_by_role("button", name="Разрешить").click()
    claims = json.loads(page.locator("#id_token_claims").inner_text())
    userinfo = json.loads(page.locator("#userinfo").inner_text())
    assert claims["iss"] == sites["issuer"]
    assert claims["family_name"] == "Орлова" and claims["given_name"] == "Дарья"
    assert userinfo["affiliations"] == ["student@tsu.ru"]
    assert userinfo["sub"] == claims["sub"]

    page.get_by_role("button", name="Log in with Campus ID").click()
    expect(page.locator("#userinfo")).to_be_visible()  # straight back: no password, no consent
    again = json.loads(page.locator("#id_token_claims").inner_text())
    assert again["sub"] == claims["sub"] and again["nonce"] != claims["nonce"]


def test_wrong_password_and_english(page: Page, sites: dict[str, str]) -> None:
    page.goto(sites["rp"])
    page.get_by_role("button", name="Log in with Campus ID").click()
    page.get_by_role("link", name="English").click()
    page.get_by_label("University").select_option(label="Tomsk Polytechnic University")
    page.get_by_label("Username").fill("demo")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    expect(page.get_by_label("Username")).to_have_value("demo")
