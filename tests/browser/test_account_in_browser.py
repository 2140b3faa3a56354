"""My Campus ID in a real browser (no script on the page, CSP as served): the login comes
back to /account, a second university's account is linked by its password once the
signed-in account's password is given again, the link is shown and undone ("this was not
me"), and "log out everywhere" ends the session."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from demo import people

pytestmark = pytest.mark.browser


def test_link_a_second_account_undo_it_and_log_out_everywhere(page: Page, sites: dict[str, str]) -> None:
    page.goto(sites["issuer"] + "/account")
    expect(page.get_by_role("heading", level=1)).to_have_text("Вход с учётной записью вашего университета")
    page.get_by_label("Логин").fill("ikuznetsov@tpu.ru")
    page.get_by_label("Пароль").fill(people.organization("tpu").person("ikuznetsov").password)
    page.get_by_role("button", name="Войти").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Мой Campus ID")

    mine = people.organization("tpu").person("ikuznetsov").password
    link = page.locator("#link")
    link.get_by_label("Университет").select_option("tsu")
    link.get_by_label("Логин").fill("ivan.petrov")
    link.get_by_label("Пароль", exact=True).fill(people.organization("tsu").person("ivan.petrov").password)
    link.get_by_role("button", name="Связать").click()  # without her own password again
    expect(page.get_by_role("alert")).to_have_text("Введите пароль учётной записи, с которой вы вошли.")

    link = page.locator("#link")
    link.get_by_label("Ваш текущий пароль (tpu:ikuznetsov)").fill(mine)
    link.get_by_label("Университет").select_option("tsu")
    link.get_by_label("Логин").fill("ivan.petrov")
    link.get_by_label("Пароль", exact=True).fill("wrong")
    link.get_by_role("button", name="Связать").click()
    expect(page.get_by_role("alert")).to_have_text("Неверный логин или пароль.")

    link = page.locator("#link")
    link.get_by_label("Ваш текущий пароль (tpu:ikuznetsov)").fill(mine)
    link.get_by_label("Университет").select_option("tsu")
    link.get_by_label("Логин").fill("ivan.petrov")
    link.get_by_label("Пароль", exact=True).fill(people.organization("tsu").person("ivan.petrov").password)
    link.get_by_role("button", name="Связать").click()
    expect(page.get_by_role("status")).to_have_text("Учётная запись связана с вашим Campus ID.")
    linked = page.locator('[data-account="tsu:ivan.petrov"]')
    expect(linked).to_contain_text("Связана в «Моём Campus ID» по паролям обеих учётных записей")
    expect(page.locator('[data-account="tpu:ikuznetsov"] .primary')).to_be_visible()
    own = page.locator('[data-account="tpu:ikuznetsov"]')
    expect(own.get_by_role("button", name="Это не я")).to_have_count(0)  # the signed-in account

    linked.get_by_role("button", name="Это не я").click()
    expect(page.get_by_role("status")).to_have_text(
        "Связь отменена: у этой учётной записи теперь собственный Campus ID.")
    expect(page.locator('[data-account="tsu:ivan.petrov"]')).to_have_count(0)

    page.get_by_role("button", name="Выйти на всех устройствах").click()
    expect(page.get_by_text("Вы не вошли в систему.")).to_be_visible()
    page.goto(sites["issuer"] + "/account")
    expect(page.get_by_role("heading", level=1)).to_have_text("Вход с учётной записью вашего университета")
