"""The helpdesk console's review queue in a real browser (Debian's chromium, phone-sized), in
Russian and in English: four students' logins raise two link proposals (the demo's name and
birth date rule: tsu alena.elkina and tusur elkina.av; tpu tgaliev and tusur galiev.tr); a
helpdesk:tsu member sees only the tsu one and is not offered its approval; the helpdesk
approves one and rejects the other from the queue, each with a reason on its row, the queue
shrinks, and each person's audit trail shows the decision and the reason. axe-core checks the
queue with its rows. Screenshots of each step go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from demo.slapd import free_port
from demo.stack import ProviderStack
from tests.browser.test_accessibility import PHONE, overflow
from tests.browser.test_helpdesk_in_browser import ROLES, log_in, shot, staff_signs_in
from tests.support import axe

pytestmark = pytest.mark.browser

TEXT = {
    "ru": {"nav": "Очередь на проверку ({n})", "title": "Очередь на проверку",
           "reason": "Причина (обязательно, сохраняется в журнале)", "approve": "Одобрить",
           "reject": "Отклонить", "approved": "Предложение одобрено.",
           "rejected": "Предложение отклонено.", "empty": "Открытых предложений нет.",
           "person": "Открыть карточку человека", "needs_all": "поддержка консорциума",
           "family": "Фамилия", "birth": "Дата рождения"},
    "en": {"nav": "Review queue ({n})", "title": "Review queue",
           "reason": "Reason (required, kept in the audit trail)", "approve": "Approve",
           "reject": "Reject", "approved": "The proposal is approved.",
           "rejected": "The proposal is rejected.", "empty": "No open proposals.",
           "person": "Open the person's page", "needs_all": "consortium helpdesk",
           "family": "Family name", "birth": "Birth date"},
}
STUDENTS = [("tsu", "alena.elkina"), ("tusur", "elkina.av"), ("tpu", "tgaliev"),
            ("tusur", "galiev.tr")]


@pytest.fixture
def browser_page(chromium: Browser) -> Iterator[Callable[[], Page]]:
    """A fresh phone-sized browser (no cookies) for each person of the test."""
    contexts = []

    def new_page() -> Page:
        context = chromium.new_context(locale="ru-RU", viewport=PHONE)
        contexts.append(context)
        return context.new_page()

    yield new_page
    for context in contexts:
        context.close()


@pytest.fixture(params=["ru", "en"])
def site(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A provider of its own for each language (each decides the same two proposals)."""
    with ProviderStack(tmp_path_factory.mktemp("helpdesk-review"), port=free_port(),
                       extra_config=ROLES) as stack:
        yield stack.issuer, request.param


def test_the_queue_approve_one_reject_one(browser_page: Callable[[], Page],
                                          site: tuple[str, str]) -> None:
    issuer, lang = site
    text = TEXT[lang]
    for org, username in STUDENTS:  # in this order: Elkina's proposal is the older
        student = browser_page()
        log_in(student, issuer, org, username, lang)
        expect(student.locator("[data-account]").first).to_be_visible()

    scoped = browser_page()
    staff_signs_in(scoped, issuer, "tsu", "demo", lang)
    scoped.get_by_role("link", name=text["nav"].format(n=1)).click()
    expect(scoped.get_by_role("heading", level=1)).to_have_text(text["title"])
    row = scoped.locator("[data-proposal]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Ёлкина")
    expect(row).not_to_contain_text("elkina.av")  # tusur's account: the organization alone
    expect(row.get_by_role("button", name=text["reject"])).to_be_visible()
    expect(row.get_by_role("button", name=text["approve"])).to_have_count(0)
    expect(row).to_contain_text(text["needs_all"])
    shot(scoped, f"{lang}-review-1-scoped")

    page = browser_page()
    staff_signs_in(page, issuer, "tusur", "demo", lang)
    page.get_by_role("link", name=text["nav"].format(n=2)).click()
    rows = page.locator("[data-proposal]")
    expect(rows).to_have_count(2)
    elkina, galiev = rows.nth(0), rows.nth(1)
    expect(elkina).to_contain_text("elkina.av")
    expect(galiev).to_contain_text("galiev.tr")
    expect(elkina.get_by_role("row", name=text["family"])).to_contain_text("Ёлкина")
    expect(elkina.get_by_role("row", name=text["family"])).to_contain_text("Елкина")
    expect(elkina.get_by_role("row", name=text["birth"])).to_contain_text("**.**.****")
    expect(elkina).not_to_contain_text("1990")
    shot(page, f"{lang}-review-2-queue")
    found = axe.violations(page)
    assert not found, axe.report(found)
    fits = overflow(page)
    assert fits["scrollWidth"] <= PHONE["width"] and not fits["outside"], fits

    elkina.get_by_label(text["reason"]).fill("ticket 5150: same passport")
    elkina.get_by_role("button", name=text["approve"]).click()
    expect(page.get_by_role("status").first).to_contain_text(text["approved"])
    expect(page.locator("[data-proposal]")).to_have_count(1)
    expect(page.get_by_role("link", name=text["nav"].format(n=1))).to_be_visible()
    shot(page, f"{lang}-review-3-approved")

    page.locator("[data-proposal]").get_by_label(text["reason"]).fill("ticket 5151: two people")
    page.locator("[data-proposal]").get_by_role("button", name=text["reject"]).click()
    expect(page.get_by_role("status").first).to_contain_text(text["rejected"])
    expect(page.locator("[data-proposal]")).to_have_count(0)
    expect(page.get_by_text(text["empty"])).to_be_visible()
    expect(page.get_by_role("link", name=text["nav"].format(n=0))).to_be_visible()
    page.get_by_role("status").first.get_by_role("link", name=text["person"]).click()
    expect(page.locator('[data-event="link.rejected"]')).to_contain_text("ticket 5151: two people")
    shot(page, f"{lang}-review-4-rejected-person")

    page.goto(f"{issuer}/helpdesk/?q=elkina.av")
    page.locator("tr[data-sub] a").first.click()
    expect(page.locator('[data-account="tusur:elkina.av"]')).to_be_visible()
    expect(page.locator('[data-account="tsu:alena.elkina"]')).to_be_visible()
    expect(page.locator('[data-event="link.approved"]')).to_contain_text("ticket 5150: same passport")
    shot(page, f"{lang}-review-5-approved-person")

    scoped.reload()
    expect(scoped.locator("[data-proposal]")).to_have_count(0)
