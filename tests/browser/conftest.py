"""Debian's chromium driven by Playwright (never a downloaded browser) against the provider
and the demo's sample relying party, each served for real on loopback."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from werkzeug.serving import make_server

from demo.sample_rp import create_rp
from demo.slapd import free_port
from demo.stack import ProviderStack

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
RP_SECRET = "browser-rp-secret-0123456789"


@pytest.fixture(scope="session")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    rp_port = free_port()
    redirect_uri = f"http://127.0.0.1:{rp_port}/callback"
    clients = {"browser-rp": {"name": "Электронная библиотека", "redirect_uris": [redirect_uri],
                              "client_secret": RP_SECRET}}
    with ProviderStack(tmp_path_factory.mktemp("browser"), port=free_port(), clients=clients) as stack:
        rp = make_server("127.0.0.1", rp_port,
                         create_rp(stack.issuer, "browser-rp", RP_SECRET, redirect_uri), threaded=True)
        thread = threading.Thread(target=rp.serve_forever, daemon=True)
        thread.start()
        try:
            yield {"issuer": stack.issuer, "rp": f"http://127.0.0.1:{rp_port}"}
        finally:
            rp.shutdown()
            thread.join(5)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is needed: run `make test` (scripts/install-system.sh)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = chromium.new_context(locale="ru-RU", viewport={"width": 390, "height": 844})
    page = context.new_page()
    yield page
    keep_screenshot(page, request.node.name)
    context.close()


def keep_screenshot(page: Page, name: str) -> None:
    """``test-artifacts/NAME.png``, to look at what a test saw. An artifact, never a check: a
    busy renderer can refuse a full-page capture ("Unable to capture screenshot"), and then a
    note says so in NAME.txt instead of failing the test."""
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    except PlaywrightError as exc:
        (ARTIFACTS / f"{name}.txt").write_text(f"no screenshot: {exc.message}\n")


@pytest.fixture
def phone_pages(chromium: Browser) -> Iterator[Callable[[], Page]]:
    """A fresh phone-sized browser in Russian (no cookies) for each person of a test."""
    contexts = []

    def new_page() -> Page:
        context = chromium.new_context(locale="ru-RU", viewport={"width": 390, "height": 844})
        contexts.append(context)
        return context.new_page()

    yield new_page
    for context in contexts:
        context.close()
