"""Every page a person, an admin or the helpdesk sees, in Debian's chromium on a phone
(390×844): axe-core finds no serious or critical violation, the page does not scroll sideways
(a wide table scrolls inside its own box), its heading and controls are on screen, and a
screenshot of each goes to test-artifacts/. And the login form works with the keyboard alone."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from demo import people
from demo.slapd import free_port
from demo.stack import ProviderStack
from tests.browser.conftest import keep_screenshot
from tests.support import axe

pytestmark = pytest.mark.browser
PHONE: ViewportSize = {"width": 390, "height": 844}
REDIRECT_URI = "http://127.0.0.1:9/callback"  # never reached: the consent page is the last stop
CONFIG = {
    "roles": {"consortium_admin": ["tsu:ivan.petrov"], "helpdesk": ["tusur:demo"]},
    # What the student may use, and its pass, on the account page.
    "access": {
        "resources": {"gym": {"name": "Sports complex", "name_ru": "Спорткомплекс", "kind": "sports"}},
        "policies": {"students": {"resources": ["gym"], "affiliations": ["student"]}},
    },
}
CLIENTS = {"a11y-rp": {"name": "Электронная библиотека", "redirect_uris": [REDIRECT_URI],
                       "client_secret": "a11y-rp-secret-0123456789abcdef"}}
STUDENT = ("tpu", "dvasiliev")
ROLES = {"student": STUDENT, "admin": ("tsu", "ivan.petrov"), "helpdesk": ("tusur", "demo")}
HOME = {"student": "/account", "admin": "/admin/", "helpdesk": "/helpdesk/"}

# (name, who, path, languages): who is None for a visitor not signed in; {sub} and {client}
# are the student's subject and the registered client.
PAGES = [
    ("home", None, "/", ("ru",)),
    ("login", None, "/login", ("ru", "en")),
    ("error", None, "/authorize?client_id=no-such-client&response_type=code", ("ru", "en")),
    ("account", "student", "/account", ("ru", "en")),
    ("consent", "student", "{consent}", ("ru", "en")),
    ("logout-confirm", "student", "/logout", ("ru", "en")),
    ("admin-forbidden", "student", "/admin/clients", ("ru",)),
    ("helpdesk-forbidden", "student", "/helpdesk/", ("ru",)),
    ("admin-clients", "admin", "/admin/clients", ("ru", "en")),
    ("admin-client-new", "admin", "/admin/clients/new", ("ru",)),
    ("admin-client-edit", "admin", "/admin/clients/{client}", ("ru", "en")),
    ("admin-release", "admin", "/admin/clients/{client}/release", ("ru",)),
    ("admin-client-audit", "admin", "/admin/clients/{client}/audit", ("ru",)),
    ("admin-tokens", "admin", "/admin/tokens", ("ru",)),
    ("admin-deliveries", "admin", "/admin/deliveries", ("ru",)),
    ("helpdesk-search", "helpdesk", "/helpdesk/?q=Васильев", ("ru", "en")),
    ("helpdesk-person", "helpdesk", "/helpdesk/people/{sub}", ("ru", "en")),
    ("helpdesk-lock-preview", "helpdesk", "/helpdesk/people/{sub}/lock", ("ru", "en")),
    ("helpdesk-merge-search", "helpdesk", "/helpdesk/people/{sub}/merge?q=Петров", ("ru", "en")),
    ("helpdesk-split", "helpdesk", "/helpdesk/people/{sub}/split", ("ru",)),
    ("helpdesk-review", "helpdesk", "/helpdesk/review", ("ru", "en")),
    ("helpdesk-link-search", "helpdesk", "/helpdesk/people/{sub}/link?q=Демченко", ("ru", "en")),
    ("helpdesk-card-preview", "helpdesk", "/helpdesk/people/{sub}/card", ("ru", "en")),
    ("helpdesk-throttle-preview", "helpdesk",
     "/helpdesk/people/{sub}/throttle?account=tpu:dvasiliev", ("ru",)),
    ("helpdesk-not-found", "helpdesk", "/helpdesk/people/no-such-person", ("ru",)),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with ProviderStack(tmp_path_factory.mktemp("a11y-browser"), port=free_port(),
                       clients=CLIENTS, extra_config=CONFIG) as stack:
        yield stack.issuer


@pytest.fixture(scope="module")
def contexts(chromium: Browser) -> Iterator[dict[str | None, BrowserContext]]:
    """One phone-sized browser per role, shared by the module's pages; signed in when asked."""
    made: dict[str | None, BrowserContext] = {}
    yield made
    for context in made.values():
        context.close()


def sign_in(page: Page, site: str, who: str) -> None:
    org, username = ROLES[who]
    page.goto(f"{site}{HOME[who]}")
    page.get_by_label("Логин").fill(f"{username}@{people.organization(org).scope}")
    page.get_by_label("Пароль").fill(people.organization(org).person(username).password)
    page.get_by_label("Пароль").press("Enter")
    expect(page.get_by_role("heading", level=1)).not_to_have_text(
        "Вход с учётной записью вашего университета")


def page_of(chromium: Browser, contexts: dict[str | None, BrowserContext], site: str,
            who: str | None) -> Page:
    if who not in contexts:
        context = chromium.new_context(locale="ru-RU", viewport=PHONE)
        contexts[who] = context
        page = context.new_page()
        if who is not None:
            sign_in(page, site, who)
    return contexts[who].pages[0]


@pytest.fixture(scope="module")
def values(chromium: Browser, contexts: dict[str | None, BrowserContext],
           site: str) -> dict[str, str]:
    """The student's subject (found by the helpdesk once the student has logged in), the
    client's id and an authorization request of that client, for the page paths."""
    page_of(chromium, contexts, site, "student")
    helpdesk = page_of(chromium, contexts, site, "helpdesk")
    helpdesk.goto(f"{site}/helpdesk/?q={STUDENT[1]}")
    sub = helpdesk.locator("tr[data-sub]").first.get_attribute("data-sub")
    assert sub
    verifier = "a11y-" + "v" * 60
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    consent = "/authorize?" + urlencode({
        "client_id": "a11y-rp", "response_type": "code", "redirect_uri": REDIRECT_URI,
        "scope": "openid profile email", "state": "s" * 16, "nonce": "n" * 16,
        "code_challenge": challenge.decode(), "code_challenge_method": "S256"})
    return {"sub": sub, "client": "a11y-rp", "consent": consent}


def overflow(page: Page) -> dict[str, Any]:
    """How wide the document is, and the visible controls of <main> reaching past the screen."""
    result: dict[str, Any] = page.evaluate("""() => {
        const width = document.documentElement.clientWidth;
        const out = [];
        for (const el of document.querySelectorAll(
                'main a, main button, main input:not([type=hidden]), main select, main textarea')) {
            const box = el.getBoundingClientRect();
            if (!box.width || !box.height) continue;
            let inner = el.parentElement, scrolls = false;
            for (; inner && inner !== document.body; inner = inner.parentElement) {
                const style = getComputedStyle(inner);
                if (['auto', 'scroll'].includes(style.overflowX)) { scrolls = true; break; }
            }
            if (!scrolls && (box.left < 0 || box.right > width + 1))
                out.push(el.outerHTML.slice(0, 80));
        }
        const wide = [...document.querySelectorAll('main *')].filter(
            el => el.getBoundingClientRect().right > width + 1).map(el => el.tagName).slice(0, 5);
        return {scrollWidth: document.documentElement.scrollWidth, outside: out, wide: wide};
    }""")
    return result


@pytest.mark.parametrize(("name", "who", "path", "lang"),
                         [(name, who, path, lang) for name, who, path, langs in PAGES
                          for lang in langs],
                         ids=[f"{name}-{lang}" for name, _, _, langs in PAGES for lang in langs])
def test_page_is_accessible_and_fits_a_phone(chromium: Browser,
                                             contexts: dict[str | None, BrowserContext],
                                             site: str, values: dict[str, str], name: str,
                                             who: str | None, path: str, lang: str) -> None:
    page = page_of(chromium, contexts, site, who)
    url = site + path.format(**values)
    page.goto(url + ("&" if "?" in url else "?") + f"lang={lang}")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.get_by_role("main")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    if name == "account":  # the sections of a student with access, not only the accounts
        expect(page.locator("#passes")).to_be_visible()
    keep_screenshot(page, f"a11y-{name}-{lang}")

    found = axe.violations(page)
    assert not found, f"{name} ({lang}):\n{axe.report(found)}"
    fits = overflow(page)
    assert fits["scrollWidth"] <= PHONE["width"], f"{name} ({lang}) scrolls sideways: {fits}"
    assert not fits["outside"], f"{name} ({lang}) has controls off screen: {fits['outside']}"


def test_the_login_form_with_the_keyboard_alone(chromium: Browser, site: str) -> None:
    context = chromium.new_context(locale="en-GB", viewport=PHONE)
    try:
        page = context.new_page()
        page.goto(f"{site}/account?lang=en")
        focused = "() => document.activeElement.id || document.activeElement.className"
        assert page.evaluate(focused) == "username"  # the cursor waits in the first empty field
        for expected in ("organization", "lang", "skip"):  # backwards to the top of the page
            page.keyboard.press("Shift+Tab")
            assert page.evaluate(focused) == expected
        expect(page.get_by_role("link", name="Skip to the form")).to_be_visible()
        expect(page.get_by_role("link", name="Skip to the form")).to_be_in_viewport()
        page.keyboard.press("Enter")  # the skip link: the next Tab lands in the form
        page.keyboard.press("Tab")
        assert page.evaluate(focused) == "organization"
        page.keyboard.press("Tab")
        assert page.evaluate(focused) == "username"
        org, username = STUDENT
        page.keyboard.type(f"{username}@{people.organization(org).scope}")
        page.keyboard.press("Tab")
        assert page.evaluate(focused) == "password"
        page.keyboard.type(people.organization(org).person(username).password)
        page.keyboard.press("Tab")
        outline = page.evaluate("""() => { const s = getComputedStyle(document.activeElement);
            return [document.activeElement.type, s.outlineStyle, s.outlineWidth]; }""")
        assert outline[0] == "submit" and outline[1] != "none" and outline[2] != "0px", outline
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Enter")  # Enter in the password field submits
        expect(page.locator("[data-account]").first).to_be_visible()
    finally:
        context.close()


def test_a_wrong_password_is_announced_and_tied_to_the_field(chromium: Browser,
                                                            site: str) -> None:
    context = chromium.new_context(locale="ru-RU", viewport=PHONE)
    try:
        page = context.new_page()
        page.goto(f"{site}/account?lang=en")
        page.get_by_label("Username").fill("dvasiliev@tpu.ru")
        page.get_by_label("Password").fill("wrong")
        page.get_by_label("Password").press("Enter")
        expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
        # A screen reader reads the error with the field it is about.
        expect(page.get_by_label("Username")).to_have_accessible_description(
            re.compile("Wrong username or password."))
        expect(page.get_by_label("Username")).to_have_attribute("aria-invalid", "true")
        found = axe.violations(page)
        assert not found, axe.report(found)
        keep_screenshot(page, "a11y-login-error-en")
    finally:
        context.close()
