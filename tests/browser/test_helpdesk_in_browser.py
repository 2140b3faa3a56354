"""The helpdesk console in a real browser (Debian's chromium, phone-sized), in Russian and in
English: a helpdesk member signs in through Campus ID's own login page, finds a student,
opens the student's page, locks the student with a reason after seeing what will change, and
the student's next login is refused; a helpdesk:tsu member gets "no such person" for a
tpu-only student. Screenshots of each step go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect

from demo import people
from demo.slapd import free_port
from demo.stack import ProviderStack
from tests.browser.conftest import keep_screenshot

pytestmark = pytest.mark.browser
ROLES = {"roles": {"helpdesk": ["tusur:demo"], "org_helpdesk": ["tsu:demo"]}}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with ProviderStack(tmp_path_factory.mktemp("helpdesk-browser"), port=free_port(),
                       extra_config=ROLES) as stack:
        yield stack.issuer


def shot(page: Page, name: str) -> None:
    keep_screenshot(page, f"helpdesk-{name}")


def log_in(page: Page, site: str, org: str, username: str, lang: str) -> None:
    """The login page of Campus ID, in ``lang``, with ``username@scope``."""
    scope = people.organization(org).scope
    page.goto(f"{site}/account?lang={lang}")
    label = {"ru": ("Логин", "Пароль"), "en": ("Username", "Password")}[lang]
    page.get_by_label(label[0]).fill(f"{username}@{scope}")
    page.get_by_label(label[1]).fill(people.organization(org).person(username).password)
    page.get_by_label(label[1]).press("Enter")


def staff_signs_in(page: Page, site: str, org: str, username: str, lang: str) -> None:
    page.goto(f"{site}/helpdesk/?lang={lang}")
    log_in_form(page, org, username, lang)


def log_in_form(page: Page, org: str, username: str, lang: str) -> None:
    scope = people.organization(org).scope
    label = {"ru": ("Логин", "Пароль"), "en": ("Username", "Password")}[lang]
    page.get_by_label(label[0]).fill(f"{username}@{scope}")
    page.get_by_label(label[1]).fill(people.organization(org).person(username).password)
    page.get_by_label(label[1]).press("Enter")


TEXT = {
    "ru": {"search": "Найти человека", "box": "Имя, логин, e-mail, кампусный номер или sub",
           "lock": "Заблокировать", "preview": "Что изменится",
           "no_login": "Человек не сможет войти нигде, пока его не разблокируют.",
           "reason": "Причина (обязательно, сохраняется в журнале)", "confirm": "Подтвердить",
           "done": "Человек заблокирован.", "locked": "заблокирован", "active": "активен",
           "refused": "заблокирована службой поддержки", "accounts": "Связанные учётные записи",
           "timeline": "Журнал событий, сначала новые", "show": "Показать события",
           "apply": "Показать"},
    "en": {"search": "Find a person", "box": "Name, username, e-mail, campus ID or sub",
           "lock": "Lock", "preview": "What will change",
           "no_login": "The person cannot log in anywhere until unlocked.",
           "reason": "Reason (required, kept in the audit trail)", "confirm": "Confirm",
           "done": "The person is locked.", "locked": "locked", "active": "active",
           "refused": "locked by the helpdesk", "accounts": "Linked accounts",
           "timeline": "Audit trail, newest first", "show": "Show events", "apply": "Show"},
}


@pytest.mark.parametrize(("lang", "student", "family_name"),
                         [("ru", "dvasiliev", "Васильев"), ("en", "asokolov", "Соколов")])
def test_helpdesk_finds_a_student_and_locks_them(phone_pages: Callable[[], Page], site: str,
                                                 lang: str, student: str,
                                                 family_name: str) -> None:
    text = TEXT[lang]
    person = phone_pages()
    log_in(person, site, "tpu", student, lang)  # the student exists once logged in
    expect(person.locator("[data-account]").first).to_be_visible()

    page = phone_pages()
    staff_signs_in(page, site, "tusur", "demo", lang)
    expect(page.get_by_role("heading", level=1)).to_have_text(text["search"])
    page.get_by_label(text["box"]).fill(family_name)
    page.get_by_label(text["box"]).press("Enter")
    row = page.locator("tr[data-sub]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(text["active"])
    shot(page, f"{lang}-1-search")

    row.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(family_name)
    expect(page.get_by_role("heading", name=text["accounts"])).to_be_visible()
    expect(page.locator(f'[data-account="tpu:{student}"]')).to_be_visible()
    expect(page.get_by_role("heading", name=text["timeline"])).to_be_visible()
    expect(page.locator('[data-event="login.succeeded"]').first).to_be_visible()
    shot(page, f"{lang}-2-person")

    page.get_by_role("link", name=text["lock"], exact=True).click()
    expect(page.get_by_role("heading", name=text["preview"])).to_be_visible()
    expect(page.locator(".preview")).to_contain_text(text["no_login"])
    page.get_by_label(text["reason"]).fill("ticket 4711: stolen password")
    shot(page, f"{lang}-3-lock-preview")
    page.get_by_role("button", name=text["confirm"]).click()
    expect(page.get_by_role("status").first).to_have_text(text["done"])
    expect(page.locator("[data-state]")).to_have_text(text["locked"])
    expect(page.locator("body")).to_contain_text("ticket 4711: stolen password")
    shot(page, f"{lang}-4-locked")

    # The timeline shows one kind of event when asked.
    page.get_by_label(text["show"]).select_option("identity.locked")
    page.get_by_role("button", name=text["apply"], exact=True).click()
    expect(page.locator("[data-event]")).to_have_count(1)
    expect(page.locator('[data-event="identity.locked"]')).to_contain_text("ticket 4711")

    again = phone_pages()
    log_in(again, site, "tpu", student, lang)
    expect(again.get_by_role("alert")).to_contain_text(text["refused"])
    shot(again, f"{lang}-5-login-refused")


def test_a_tsu_helpdesk_gets_no_such_person_for_a_tpu_student(
        phone_pages: Callable[[], Page], site: str) -> None:
    person = phone_pages()
    log_in(person, site, "tpu", "mpetrova", "ru")
    expect(person.locator("[data-account]").first).to_be_visible()
    everyone = phone_pages()
    staff_signs_in(everyone, site, "tusur", "demo", "ru")
    everyone.get_by_label(TEXT["ru"]["box"]).fill("mpetrova")
    everyone.get_by_label(TEXT["ru"]["box"]).press("Enter")
    sub = everyone.locator("tr[data-sub]").get_attribute("data-sub")

    page = phone_pages()
    staff_signs_in(page, site, "tsu", "demo", "ru")
    expect(page.get_by_text("helpdesk:tsu")).to_be_visible()
    page.get_by_label(TEXT["ru"]["box"]).fill("mpetrova")
    page.get_by_label(TEXT["ru"]["box"]).press("Enter")
    expect(page.locator(f'tr[data-sub="{sub}"]')).to_have_count(0)
    page.get_by_label(TEXT["ru"]["box"]).fill(str(sub))  # not even by its exact sub
    page.get_by_label(TEXT["ru"]["box"]).press("Enter")
    expect(page.get_by_role("status")).to_contain_text("никого не нашлось")
    response = page.goto(f"{site}/helpdesk/people/{sub}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Такого человека нет.")
    shot(page, "ru-scoped-404")
