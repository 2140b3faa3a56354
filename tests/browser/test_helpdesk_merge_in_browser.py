"""Merge, split and undo in the helpdesk console in a real browser (Debian's chromium,
phone-sized), in Russian and in English: a helpdesk member finds the other person from a
person's page, compares the two side by side, merges them with a reason, and undoes the merge
from the timeline; splits two accounts off onto one new identity and undoes that unlink; a
helpdesk:tsu member is refused (403) the merge and the undo of a person who also has a tpu
account and gets "no such person" for a tpu-only one. Screenshots go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect

from demo.slapd import free_port
from demo.stack import ProviderStack
from tests.browser.test_helpdesk_in_browser import ROLES, log_in, shot, staff_signs_in
from tests.support import axe

pytestmark = pytest.mark.browser

TEXT = {
    "ru": {"box": "Имя, логин, e-mail, кампусный номер или sub", "search": "Найти",
           "merge": "Объединить с другим человеком", "compare": "Сравнить",
           "keeps": "Остаётся (сохраняет sub)", "joins": "Присоединяется (его sub станет псевдонимом)",
           "preview": "Что изменится", "reason": "Причина (обязательно, сохраняется в журнале)",
           "confirm": "Подтвердить", "merged": "Две кампусные записи объединены.",
           "undo": "Отменить", "undone": "Изменение отменено.",
           "split": "Отделить учётные записи", "next": "Показать, что изменится",
           "was_split": "Учётные записи отделены в новую кампусную запись.",
           "forbidden": "только поддержка консорциума", "not_found": "Такого человека нет.",
           "scope_why": "отменить его может поддержка консорциума"},
    "en": {"box": "Name, username, e-mail, campus ID or sub", "search": "Find",
           "merge": "Merge with another person", "compare": "Compare",
           "keeps": "Stays (keeps its sub)", "joins": "Joins it (its sub becomes an alias)",
           "preview": "What will change", "reason": "Reason (required, kept in the audit trail)",
           "confirm": "Confirm", "merged": "The two campus identities are merged.",
           "undo": "Undo", "undone": "The change is undone.",
           "split": "Split off accounts", "next": "Show what will change",
           "was_split": "The accounts are split off to a new campus identity."},
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with ProviderStack(tmp_path_factory.mktemp("helpdesk-merge-browser"), port=free_port(),
                       extra_config=ROLES) as stack:
        yield stack.issuer


def logged_in(new_page: Callable[[], Page], site: str, org: str, username: str) -> None:
    person = new_page()
    log_in(person, site, org, username, "en")
    expect(person.locator("[data-account]").first).to_be_visible()


def open_person(page: Page, site: str, lang: str, q: str) -> str:
    """Search for ``q`` and open the one person found; returns the sub."""
    page.goto(f"{site}/helpdesk/?lang={lang}")
    page.get_by_label(TEXT[lang]["box"]).fill(q)
    page.get_by_label(TEXT[lang]["box"]).press("Enter")
    row = page.locator("tr[data-sub]")
    expect(row).to_have_count(1)
    sub = str(row.get_attribute("data-sub"))
    row.get_by_role("link").click()
    return sub


def confirm(page: Page, lang: str, reason: str) -> None:
    """Read the preview (no serious or critical accessibility violation), give the reason."""
    expect(page.get_by_role("heading", name=TEXT[lang]["preview"])).to_be_visible()
    found = axe.violations(page)
    assert not found, axe.report(found)
    page.get_by_label(TEXT[lang]["reason"]).fill(reason)
    page.get_by_role("button", name=TEXT[lang]["confirm"]).click()


def accounts(page: Page) -> list[str]:
    return sorted(str(a) for a in page.locator("tr[data-account]").evaluate_all(
        "rows => rows.map(r => r.dataset.account)"))


@pytest.mark.parametrize(("lang", "one", "other"), [
    ("ru", ("tpu", "epopova"), ("tsu", "olga.kozlova")),
    ("en", ("tpu", "omorozova"), ("tsu", "vera.stepanova"))])
def test_merge_two_people_with_a_preview_then_undo_it(
        phone_pages: Callable[[], Page], site: str, lang: str, one: tuple[str, str],
        other: tuple[str, str]) -> None:
    text = TEXT[lang]
    logged_in(phone_pages, site, *one)
    logged_in(phone_pages, site, *other)
    page = phone_pages()
    staff_signs_in(page, site, "tusur", "demo", lang)
    open_person(page, site, lang, one[1])
    page.get_by_role("link", name=text["merge"]).click()
    page.get_by_label(text["box"]).fill(other[1])
    page.get_by_label(text["box"]).press("Enter")
    page.locator("tr[data-sub]").get_by_role("link", name=text["compare"]).click()

    keeps, joins = page.locator('[data-side="keeps"]'), page.locator('[data-side="joins"]')
    expect(keeps.get_by_role("heading")).to_have_text(text["keeps"])
    expect(joins.get_by_role("heading")).to_have_text(text["joins"])
    expect(keeps.locator(f'[data-account="{one[0]}:{one[1]}"]')).to_be_visible()
    expect(joins.locator(f'[data-account="{other[0]}:{other[1]}"]')).to_be_visible()
    expect(page.locator(".preview")).to_contain_text(f"{one[0]}:{one[1]}, {other[0]}:{other[1]}")
    shot(page, f"{lang}-merge-preview")
    confirm(page, lang, "ticket 5120: one student, two records")
    expect(page.get_by_role("status").first).to_have_text(text["merged"])
    assert accounts(page) == sorted([f"{one[0]}:{one[1]}", f"{other[0]}:{other[1]}"])
    shot(page, f"{lang}-merged")

    page.locator('[data-event="identity.merged"] a[data-undo]').click()
    expect(page.locator(".preview")).to_contain_text(f"{other[0]}:{other[1]}")
    shot(page, f"{lang}-undo-merge-preview")
    confirm(page, lang, "merged the wrong person")
    expect(page.get_by_role("status").first).to_have_text(text["undone"])
    assert accounts(page) == [f"{one[0]}:{one[1]}"]
    expect(page.locator('[data-event="identity.merged"] a[data-undo]')).to_have_count(0)
    shot(page, f"{lang}-merge-undone")


@pytest.mark.parametrize(("lang", "people"), [
    ("ru", (("tpu", "nfedorov"), ("tsu", "pavel.nikitin"), ("tusur", "frolov.ka"))),
    ("en", (("tpu", "svolkov"), ("tsu", "ksenia.egorova"), ("tusur", "karpov.ev")))])
def test_split_two_accounts_off_then_undo_the_unlink(
        phone_pages: Callable[[], Page], site: str, lang: str,
        people: tuple[tuple[str, str], ...]) -> None:
    text = TEXT[lang]
    for org, username in people:
        logged_in(phone_pages, site, org, username)
    page = phone_pages()
    staff_signs_in(page, site, "tusur", "demo", lang)
    subs = [open_person(page, site, lang, username) for _org, username in people]
    for other in subs[1:]:
        page.goto(f"{site}/helpdesk/people/{subs[0]}/merge/{other}?lang={lang}")
        confirm(page, lang, "one person")
    keys = sorted(f"{org}:{username}" for org, username in people)
    assert accounts(page) == keys

    page.get_by_role("link", name=text["split"]).click()
    moved = [f"{org}:{username}" for org, username in people[1:]]
    for key in moved:
        page.get_by_role("checkbox", name=key).check()
    page.get_by_role("button", name=text["next"]).click()
    expect(page.locator(".preview")).to_contain_text(", ".join(moved))
    shot(page, f"{lang}-split-preview")
    confirm(page, lang, "two people share these records")
    expect(page.get_by_role("status").first).to_have_text(text["was_split"])
    assert accounts(page) == [f"{people[0][0]}:{people[0][1]}"]
    shot(page, f"{lang}-split")

    unlinks = page.locator('[data-event="account.unlinked"]')
    expect(unlinks).to_have_count(2)
    expect(unlinks.locator("a[data-undo]")).to_have_count(1)  # the later one: nothing moved since
    unlinks.locator("a[data-undo]").click()
    expect(page.locator(".preview")).to_contain_text(", ".join(sorted(moved)))
    confirm(page, lang, "one person after all")
    expect(page.get_by_role("status").first).to_have_text(text["undone"])
    assert accounts(page) == keys
    shot(page, f"{lang}-split-undone")


def test_a_tsu_helpdesk_cannot_merge_or_undo_with_a_tpu_account(
        phone_pages: Callable[[], Page], site: str) -> None:
    text = TEXT["ru"]
    for org, username in (("tpu", "dvasiliev"), ("tsu", "roman.belov"), ("tpu", "tlebedeva")):
        logged_in(phone_pages, site, org, username)
    everyone = phone_pages()
    staff_signs_in(everyone, site, "tusur", "demo", "ru")
    lebedeva = open_person(everyone, site, "ru", "tlebedeva")
    belov = open_person(everyone, site, "ru", "roman.belov")
    vasiliev = open_person(everyone, site, "ru", "dvasiliev")
    everyone.goto(f"{site}/helpdesk/people/{vasiliev}/merge/{belov}?lang=ru")
    confirm(everyone, "ru", "one person")
    expect(everyone.get_by_role("status").first).to_have_text(text["merged"])

    page = phone_pages()
    staff_signs_in(page, site, "tsu", "demo", "ru")
    response = page.goto(f"{site}/helpdesk/people/{belov}/merge/{lebedeva}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text(text["not_found"])

    open_person(page, site, "ru", "roman.belov")  # now on the tpu person's identity
    expect(page.get_by_role("link", name=text["merge"])).to_have_count(0)
    merged = page.locator('[data-event="identity.merged"]')
    expect(merged.locator("a[data-undo]")).to_have_count(0)
    expect(merged).to_contain_text(text["scope_why"])
    shot(page, "ru-scoped-no-undo")
    event_id = merged.locator("[data-undo-why]").get_attribute("data-undo-why")
    for refused in (f"{vasiliev}/merge", f"{vasiliev}/undo/{event_id}"):
        response = page.goto(f"{site}/helpdesk/people/{refused}")
        assert response is not None and response.status == 403
        expect(page.locator("main")).to_contain_text(text["forbidden"])
    shot(page, "ru-scoped-undo-403")
