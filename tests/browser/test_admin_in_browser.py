"""An organization admin in a real browser (Debian's chromium, phone-sized): signs in to the
admin UI through Campus ID's own login page, registers a Moodle-profile client, copies its
secret from the page, rotates it, deletes the client. Each secret is then tried at the
provider's introspection endpoint, which authenticates the client like the token endpoint.
Screenshots of each step go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from demo import people
from demo.slapd import free_port
from demo.stack import ProviderStack
from tests.browser.conftest import keep_screenshot

pytestmark = pytest.mark.browser
MOODLE_URI = "https://moodle.tsu.example.org/admin/oauth2callback.php"


@pytest.fixture(scope="module")
def admin_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    roles = {"roles": {"org_admin": ["tsu:ivan.petrov"]}}
    with ProviderStack(tmp_path_factory.mktemp("admin-browser"), port=free_port(),
                       extra_config=roles) as stack:
        yield stack.issuer


@pytest.fixture
def admin_page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(locale="ru-RU", viewport={"width": 390, "height": 844})
    page = context.new_page()
    yield page
    context.close()


def shot(page: Page, name: str) -> None:
    keep_screenshot(page, f"admin-{name}")


def secret_works(page: Page, issuer: str, client_id: str, secret: str) -> bool:
    """Moodle authenticates with client_secret_post; an unknown token answers active=false."""
    response = page.request.post(f"{issuer}/introspect", form={
        "token": "no-such-token", "client_id": client_id, "client_secret": secret})
    return response.status == 200


def test_org_admin_registers_rotates_and_deletes_a_moodle_client(admin_page: Page,
                                                                 admin_site: str) -> None:
    page = admin_page
    page.goto(f"{admin_site}/admin/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Вход с учётной записью вашего университета")
    page.get_by_label("Логин").fill("ivan.petrov@tsu.ru")
    page.get_by_label("Пароль").fill(people.organization("tsu").person("ivan.petrov").password)
    page.get_by_label("Пароль").press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Приложения")
    expect(page.get_by_text("org_admin:tsu")).to_be_visible()
    shot(page, "1-clients")

    page.get_by_role("link", name="Зарегистрировать приложение").click()
    page.get_by_label("Название", exact=True).fill("Moodle ТГУ")
    page.get_by_label("Адреса возврата (redirect URI), по одному в строке").fill(MOODLE_URI)
    page.get_by_label("Профиль программы").select_option("moodle")
    shot(page, "2-new-client")
    page.get_by_role("button", name="Зарегистрировать").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Приложение «Moodle ТГУ» зарегистрировано")
    expect(page.get_by_role("alert")).to_contain_text("показывается только один раз")
    client_id = page.locator("#client-id").inner_text()
    secret = page.get_by_label("Секрет клиента").input_value()
    shot(page, "3-secret-shown-once")
    assert len(secret) >= 32 and secret_works(page, admin_site, client_id, secret)

    page.get_by_role("link", name="К приложению").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Moodle ТГУ")
    expect(page.locator("body")).not_to_contain_text(secret)  # never shown again
    page.get_by_role("button", name="Сменить секрет").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Новый секрет для «Moodle ТГУ»")
    expect(page.get_by_text("Прежний секрет работает до")).to_be_visible()
    rotated = page.get_by_label("Секрет клиента").input_value()
    shot(page, "4-rotated")
    assert rotated != secret
    assert secret_works(page, admin_site, client_id, rotated)
    assert secret_works(page, admin_site, client_id, secret)  # inside the overlap window

    page.get_by_role("link", name="К приложению").click()
    page.get_by_role("button", name="Удалить").click()  # refused until confirmed
    expect(page.get_by_role("heading", level=1)).to_have_text("Moodle ТГУ")
    page.get_by_label("Да, удалить: войти в него будет нельзя.").check()
    page.get_by_role("button", name="Удалить").click()
    expect(page.get_by_role("status")).to_have_text("Приложение «Moodle ТГУ» удалено.")
    expect(page.locator("table")).to_have_count(0)
    shot(page, "5-deleted")
    assert not secret_works(page, admin_site, client_id, rotated)
