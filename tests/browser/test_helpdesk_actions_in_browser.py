"""The helpdesk console's link by search, card re-issue, delivery retry and login throttle in
a real browser (Debian's chromium, phone-sized), in Russian and in English, against
`idp serve` with its login throttle in Redis and a delivery worker run by hand: staff link
one student's account into another's identity after finding it and seeing what changes;
retry a delivery the receiver refused; re-issue a student's card, whose old number shows
masked; see the student's failed logins and the throttle holding the account back, clear it,
and the student logs in. A helpdesk:tsu member gets "no such person" for a tpu-only student
and may not retry a delivery. Screenshots of each step go to test-artifacts/."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect

from demo import people
from demo.slapd import free_port
from demo.stack import ProviderStack
from tests.browser.test_helpdesk_in_browser import ROLES, log_in, shot, staff_signs_in

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProviderStack]:
    """A library for students whose one connector posts to an address of the provider that
    answers 404: the receiver refuses every delivery for good (dead-lettered at once)."""
    workdir = tmp_path_factory.mktemp("helpdesk-actions-browser")
    port = free_port()
    secret = workdir / "hook.secret"
    secret.write_text("whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
                      encoding="utf-8")
    config = {
        **ROLES,
        "access": {
            "resources": {"library": {
                "name": "Unified library card", "name_ru": "Единый читательский билет",
                "kind": "library", "provider": "tsu", "connectors": ["hook"],
                "entitlement": people.LIBRARY_TERMS}},
            "policies": {"students": {"resources": ["library"], "affiliations": ["student"]}},
        },
        "connectors": {"hook": {"type": "webhook", "secret_file": str(secret),
                                "url": f"http://127.0.0.1:{port}/no-receiver-here"}},
        "throttle": {"redis_url": "redis://127.0.0.1:6379/0",
                     "key_prefix": f"campus-id-test:{secrets.token_hex(8)}:",
                     "account": {"free_failures": 2, "base_delay_s": 600, "max_delay_s": 900,
                                 "forget_s": 600}},
    }
    with ProviderStack(workdir, port=port, extra_config=config) as running:
        yield running


TEXT = {
    "ru": {"box": "Имя, логин, e-mail, кампусный номер или sub", "link": "Привязать учётную запись",
           "link_box": "Найдите учётную запись: имя, логин, e-mail, кампусный номер или sub",
           "pick": "Привязать {account}", "joins": "К этому человеку перейдут учётные записи: {account}.",
           "keeps": "У человека останется sub {sub}",
           "reason": "Причина (обязательно, сохраняется в журнале)", "confirm": "Подтвердить",
           "linked": "Учётная запись привязана.", "card": "Перевыпустить карту",
           "stops": "Карта {number} сразу перестанет действовать",
           "reissued": "Выдана новая кампусная карта; старая больше не действует.",
           "retry": "Повторить доставку", "same_key": "тем же ключом идемпотентности",
           "retried": "Доставка отправлена снова.", "failed": "неверный пароль или отказ",
           "held": "вход задержан до", "clear": "Снять ограничение входа",
           "cleared": "Ограничение входа для учётной записи снято.",
           "forgotten": "неудачные попытки будут забыты", "not_found": "Такого человека нет."},
    "en": {"box": "Name, username, e-mail, campus ID or sub", "link": "Link an account",
           "link_box": "Find the account to link: name, username, e-mail, campus ID or sub",
           "pick": "Link {account}", "joins": "These accounts join this person: {account}.",
           "keeps": "This person keeps the sub {sub}",
           "reason": "Reason (required, kept in the audit trail)", "confirm": "Confirm",
           "linked": "The account is linked.", "card": "Re-issue the campus card",
           "stops": "The card {number} stops working at once",
           "reissued": "A new campus card is issued; the old one no longer works.",
           "retry": "Retry the delivery", "same_key": "the same idempotency key",
           "retried": "The delivery is sent again.", "failed": "wrong password or refused",
           "held": "held back until", "clear": "Clear the login throttle",
           "cleared": "The login throttle is cleared for the account.",
           "forgotten": "its failed logins are forgotten", "not_found": "No such person."},
}


def open_person(page: Page, site: str, lang: str, query: str) -> str:
    """Staff search and open the one person found; returns the person's sub."""
    page.get_by_label(TEXT[lang]["box"]).fill(query)
    page.get_by_label(TEXT[lang]["box"]).press("Enter")
    row = page.locator("tr[data-sub]")
    expect(row).to_have_count(1)
    sub = str(row.get_attribute("data-sub"))
    row.get_by_role("link").click()
    expect(page.locator("[data-state]")).to_be_visible()
    return sub


def confirm(page: Page, lang: str, reason: str) -> None:
    page.get_by_label(TEXT[lang]["reason"]).fill(reason)
    page.get_by_role("button", name=TEXT[lang]["confirm"]).click()


def wrong_password(page: Page, site: str, org: str, username: str, lang: str) -> None:
    scope = people.organization(org).scope
    label = {"ru": ("Логин", "Пароль"), "en": ("Username", "Password")}[lang]
    page.goto(f"{site}/account?lang={lang}")
    page.get_by_label(label[0]).fill(f"{username}@{scope}")
    page.get_by_label(label[1]).fill("not-the-password")
    page.get_by_label(label[1]).press("Enter")
    expect(page.get_by_role("alert")).to_be_visible()


@pytest.mark.parametrize(("lang", "student", "other", "other_name"),
                         [("ru", "maxim.novikov", "roman.belov", "Белов"),
                          ("en", "ksenia.egorova", "vera.stepanova", "Степанова")])
def test_link_an_account_found_by_search(phone_pages: Callable[[], Page], stack: ProviderStack,
                                         lang: str, student: str, other: str,
                                         other_name: str) -> None:
    site, text = stack.issuer, TEXT[lang]
    for username in (student, other):
        person = phone_pages()
        log_in(person, site, "tsu", username, lang)
        expect(person.locator("[data-account]").first).to_be_visible()

    page = phone_pages()
    staff_signs_in(page, site, "tusur", "demo", lang)
    sub = open_person(page, site, lang, student)
    page.get_by_role("link", name=text["link"], exact=True).click()
    page.get_by_label(text["link_box"]).fill(other_name)
    page.get_by_label(text["link_box"]).press("Enter")
    account = f"tsu:{other}"
    expect(page.locator(f'[data-link-account="{account}"]')).to_be_visible()
    shot(page, f"{lang}-link-1-search")
    page.get_by_role("link", name=text["pick"].format(account=account)).click()
    expect(page.locator(".preview")).to_contain_text(text["joins"].format(account=account))
    expect(page.locator(".preview")).to_contain_text(text["keeps"].format(sub=sub))
    shot(page, f"{lang}-link-2-preview")
    confirm(page, lang, "ticket 501: one student, two accounts")
    expect(page.get_by_role("status").first).to_have_text(text["linked"])
    expect(page.locator(f'[data-account="{account}"]')).to_be_visible()
    expect(page.locator(f'[data-account="tsu:{student}"]')).to_be_visible()
    expect(page.locator('[data-event="identity.merged"]')).to_contain_text(
        "ticket 501: one student, two accounts")
    shot(page, f"{lang}-link-3-done")


@pytest.mark.parametrize(("lang", "student", "family_name"),
                         [("ru", "dvasiliev", "Васильев"), ("en", "asokolov", "Соколов")])
def test_retry_reissue_and_clear_the_throttle(phone_pages: Callable[[], Page],
                                              stack: ProviderStack, lang: str, student: str,
                                              family_name: str) -> None:
    site, text = stack.issuer, TEXT[lang]
    person = phone_pages()
    log_in(person, site, "tpu", student, lang)  # a student: library access and a card
    expect(person.locator("[data-account]").first).to_be_visible()
    stack.idp("worker", "--once")  # the library's receiver refuses: dead-lettered
    failing = phone_pages()
    for _ in range(3):  # two wrong passwords, then held back
        wrong_password(failing, site, "tpu", student, lang)

    page = phone_pages()
    staff_signs_in(page, site, "tusur", "demo", lang)
    open_person(page, site, lang, family_name)
    job = page.locator('[data-job-state="failed"]')
    expect(job).to_have_count(1)
    job_id = job.get_attribute("data-job")
    expect(page.locator('[data-login="failed"]')).to_have_count(2)
    expect(page.locator('[data-login="failed"]').first).to_contain_text(text["failed"])
    expect(page.locator('[data-login="throttled"]')).to_have_count(1)
    expect(page.locator('[data-login="succeeded"]').first).to_contain_text(f"tpu:{student}")
    hold = page.locator(f'[data-hold="tpu:{student}"]')
    expect(hold).to_have_attribute("data-held", "yes")
    expect(hold).to_contain_text(text["held"])
    shot(page, f"{lang}-actions-1-person")

    job.get_by_role("link", name=text["retry"]).click()  # before the re-issue supersedes it
    expect(page.locator(".preview")).to_contain_text(text["same_key"])
    confirm(page, lang, "library receiver fixed")
    expect(page.get_by_role("status").first).to_have_text(text["retried"])
    expect(page.locator(f'[data-job="{job_id}"]')).to_have_attribute("data-job-state", "pending")

    number = str(page.locator("[data-card]").get_attribute("data-card"))
    page.get_by_role("link", name=text["card"]).click()
    expect(page.locator(".preview")).to_contain_text(text["stops"].format(number=number))
    shot(page, f"{lang}-actions-2-card-preview")
    confirm(page, lang, "card lost")
    expect(page.get_by_role("status").first).to_have_text(text["reissued"])
    expect(page.locator("[data-card]")).to_be_visible()
    assert page.locator("[data-card]").get_attribute("data-card") != number  # its last digits

    hold.get_by_role("link", name=text["clear"]).click()
    expect(page.locator(".preview")).to_contain_text(text["forgotten"])
    confirm(page, lang, "checked the student's identity by phone")
    expect(page.get_by_role("status").first).to_have_text(text["cleared"])
    expect(page.locator(f'[data-hold="tpu:{student}"]')).to_have_attribute("data-held", "no")
    expect(page.locator('[data-event="login.throttle_cleared"]')).to_be_visible()
    shot(page, f"{lang}-actions-3-done")

    again = phone_pages()
    log_in(again, site, "tpu", student, lang)
    expect(again.locator("[data-account]").first).to_be_visible()


def test_a_tsu_helpdesk_neither_sees_a_tpu_student_nor_retries_deliveries(
        phone_pages: Callable[[], Page], stack: ProviderStack) -> None:
    site = stack.issuer
    for org, username in (("tpu", "mpetrova"), ("tsu", "pavel.nikitin")):
        person = phone_pages()
        log_in(person, site, org, username, "en")
        expect(person.locator("[data-account]").first).to_be_visible()
    everyone = phone_pages()
    staff_signs_in(everyone, site, "tusur", "demo", "en")
    tpu_sub = open_person(everyone, site, "en", "mpetrova")

    page = phone_pages()
    staff_signs_in(page, site, "tsu", "demo", "en")
    for path in ("", "/card", "/link", "/throttle?account=tpu:mpetrova"):
        response = page.goto(f"{site}/helpdesk/people/{tpu_sub}{path}")
        assert response is not None and response.status == 404
        expect(page.get_by_role("heading", level=1)).to_have_text(TEXT["en"]["not_found"])
    page.goto(f"{site}/helpdesk/?lang=en")
    open_person(page, site, "en", "pavel.nikitin")
    expect(page.get_by_role("link", name=TEXT["en"]["card"])).to_be_visible()
    expect(page.locator("#deliveries")).to_have_count(0)  # the consortium's connectors
    shot(page, "en-actions-scoped")
