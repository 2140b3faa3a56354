"""The sports pass on My Campus ID in a real browser (docs/connectors.md, "The sports and
culture pass"): the page's own script (CSP as served) renews the QR code without a reload, and
the renewed code, taken from a screenshot of the page and decoded by zxing-cpp, is verified by
`campus-pass` from the caches it refreshed."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from demo import people
from demo.slapd import free_port
from demo.stack import ProviderStack
from tests.support.qr_scan import scan_qr

pytestmark = pytest.mark.browser
CAMPUS_PASS = str(Path(sys.executable).parent / "campus-pass")
PASS_TABLES = {
    "access": {
        "resources": {"gym": {"name": "Sports complex", "name_ru": "Спорткомплекс", "kind": "sports"}},
        "policies": {"students": {"resources": ["gym"], "affiliations": ["student"]}},
    },
    "pass": {"lifetime_s": 60},  # renewed every 20 s
}


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with ProviderStack(tmp_path_factory.mktemp("pass"), port=free_port(), workers=1,
                       extra_config=PASS_TABLES) as stack:
        yield stack.issuer


def test_the_page_renews_the_pass_and_the_renewed_code_scans_and_verifies(
        page: Page, issuer: str, tmp_path: Path) -> None:
    refused: list[str] = []  # what the CSP blocked
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    renewals: list[int] = []
    page.on("response", lambda response: renewals.append(response.status)
            if response.url == issuer + "/account/pass" else None)
    page.goto(issuer + "/account")
    page.get_by_label("Логин").fill("demo@tpu.ru")
    page.get_by_label("Пароль").fill(people.organization("tpu").person("demo").password)
    page.get_by_role("button", name="Войти").click()
    section = page.locator("#passes")
    expect(section.get_by_role("heading")).to_have_text("Ваши пропуска")
    code = section.get_by_role("img", name="QR-код пропуска: Спорткомплекс")
    expect(code).to_be_visible()
    first = code.get_attribute("data-pass")
    assert first and first.startswith("CP1:")

    expect(code).not_to_have_attribute("data-pass", first, timeout=45_000)  # renewed in place
    renewed = code.get_attribute("data-pass")
    assert renewed and renewed.startswith("CP1:")
    shot = tmp_path / "qr.png"
    code.screenshot(path=str(shot))
    assert [text for text, _level in scan_qr(shot)] == [renewed]
    assert not refused and renewals and set(renewals) == {200}

    cache = tmp_path / "cache"
    run = [CAMPUS_PASS, "refresh", "--issuer", issuer, "--cache", str(cache)]
    assert subprocess.run(run, capture_output=True, timeout=60, check=False).returncode == 0
    verdict = subprocess.run([CAMPUS_PASS, "verify", renewed, "--cache", str(cache), "--facility", "gym"],
                             capture_output=True, text=True, timeout=60, check=False)
    assert verdict.returncode == 0, verdict.stdout + verdict.stderr
