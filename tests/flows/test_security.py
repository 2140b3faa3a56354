"""Security headers, cookies, session fixation and the audit trail of security events."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from demo.slapd import SlapdServer
from idp import context
from idp.app import create_app
from idp.settings import Settings
from idp.storage import audit
from tests.flows.conftest import RP1, RP2, make_settings
from tests.support.oidc_client import csrf_of, follow, login, sign_in

TEMPLATES = Path(__file__).resolve().parents[2] / "idp" / "web" / "templates"
COOKIE = "campus_id"


def csp(response: TestResponse) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {d.split()[0]: " ".join(d.split()[1:]) for d in policy.split(";") if d.strip()}


@pytest.fixture
def make_app() -> Iterator[Callable[[Settings], Flask]]:
    """Builds apps from changed settings and disposes of them afterwards."""
    apps: list[Flask] = []

    def build(changed: Settings) -> Flask:
        apps.append(create_app(changed))
        return apps[-1]

    yield build
    for app in apps:
        app.extensions["campus_id"].engine.dispose()


def test_pages_forbid_scripts_inline_code_and_framing(browser: FlaskClient) -> None:
    login_page = browser.get("/authorize", query_string=RP1.params())
    consent = login(browser, login_page, "demo@tpu.ru", "demo")
    consent = follow(browser, consent)
    assert consent.status_code == 200 and "consent" in consent.get_data(as_text=True)
    error = browser.get("/authorize", query_string={"client_id": "nobody"})
    for page in (login_page, consent, error, browser.get("/")):
        policy = csp(page)
        assert policy["default-src"] == "'none'"
        assert "script-src" not in policy  # so default-src 'none': no script at all
        assert policy["frame-ancestors"] == "'none'" and policy["base-uri"] == "'none'"
        assert "unsafe-inline" not in page.headers["Content-Security-Policy"]
        assert page.headers["X-Frame-Options"] == "DENY"
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        assert page.headers["Referrer-Policy"] == "no-referrer"
        assert "no-store" in page.headers["Cache-Control"]


def test_templates_carry_no_inline_script_or_style() -> None:
    # A script is only ever a file of static/ in an empty element.
    own_file = r""" src="\{\{ url_for\('static', filename='[a-z_]+\.js'\) \}\}"></script>"""
    inline = re.compile(rf"<script(?!{own_file})|\son[a-z]+\s*=|\sstyle\s*=|javascript:",
                        re.IGNORECASE)
    for template in TEMPLATES.rglob("*.html"):
        assert not inline.search(template.read_text(encoding="utf-8")), template.name


def test_hsts_only_when_the_issuer_is_https(browser: FlaskClient, make_app: Callable[[Settings], Flask],
                                            settings: Settings,
                                            directories: dict[str, SlapdServer]) -> None:
    assert settings.server.issuer.startswith("https://")
    for path in ("/login", "/.well-known/openid-configuration", "/jwks"):
        assert browser.get(path).headers["Strict-Transport-Security"] == "max-age=31536000"
    plain = make_settings(settings.database.url, directories,
                          server={"issuer": "http://127.0.0.1:8080"})
    http_app = make_app(plain)
    assert "Strict-Transport-Security" not in http_app.test_client().get("/login").headers


def test_token_and_userinfo_responses_are_never_cached(browser: FlaskClient) -> None:
    result = sign_in(browser, RP1, "demo@tpu.ru", "demo")
    good = RP1.token(browser, result["code"])
    reused = RP1.token(browser, result["code"])
    assert good.status_code == 200 and reused.status_code == 400
    info = browser.get("/userinfo", headers={"Authorization": f"Bearer {good.json['access_token']}"})
    for response in (good, reused, info):
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Pragma"] == "no-cache"
    discovery = browser.get("/.well-known/openid-configuration")
    assert "no-store" not in discovery.headers["Cache-Control"] and "Pragma" not in discovery.headers


def test_every_response_gets_the_headers_once_and_cacheable_ones_keep_their_own(
        browser: FlaskClient, app: Flask) -> None:
    @app.get("/__boom")
    def boom() -> str:
        raise RuntimeError("an unhandled error")

    static = browser.get("/static/campus.css")
    static.close()  # a file response: its file is closed at once
    assert static.status_code == 200
    assert "no-store" not in static.headers["Cache-Control"] and "Pragma" not in static.headers
    for response in (browser.get("/no/such/page"), browser.get("/__boom"), browser.post("/token")):
        assert response.status_code in (400, 401, 404, 500)
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Pragma"] == "no-cache"
    for response in (static, browser.get("/no/such/page"), browser.get("/jwks")):
        for name in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options",
                     "Referrer-Policy", "Cache-Control"):
            assert len(response.headers.getlist(name)) == 1, (response.request.path, name)


def session_cookie(response: TestResponse) -> str:
    [cookie] = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{COOKIE}=")]
    return cookie


def test_session_cookie_is_httponly_samesite_and_secure_outside_dev_mode(
        browser: FlaskClient, make_app: Callable[[Settings], Flask], settings: Settings) -> None:
    dev = session_cookie(browser.get("/login"))
    assert "HttpOnly" in dev and "SameSite=Lax" in dev and "Secure" not in dev
    production = dataclasses.replace(
        settings, server=dataclasses.replace(settings.server, dev_mode=False))
    cookie = session_cookie(make_app(production).test_client().get("/login"))
    assert "; Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def cookie_of(browser: FlaskClient) -> str:
    cookie = browser.get_cookie(COOKIE)
    assert cookie is not None
    return cookie.value


def plant(browser: FlaskClient, value: str) -> None:
    browser.set_cookie(COOKIE, value)


def signed_in_as(app: Flask, cookie: str) -> str | None:
    """Who a browser holding this cookie value is logged in as, by the home page."""
    browser = app.test_client()
    plant(browser, cookie)
    found = re.search(r"(?:logged in as|Вы вошли как) ([^<.]+)", browser.get("/").get_data(as_text=True))
    return found.group(1) if found else None


def form_login(browser: FlaskClient, username: str, password: str) -> TestResponse:
    return login(browser, browser.get("/login"), username, password)


def test_a_session_planted_before_login_is_not_the_one_after(app: Flask) -> None:
    attacker = app.test_client()
    attacker.get("/login")
    planted = cookie_of(attacker)
    planted_csrf = csrf_of(attacker.get("/login"))

    victim = app.test_client()
    plant(victim, planted)
    assert form_login(victim, "demo@tpu.ru", "demo").status_code == 302
    after = cookie_of(victim)
    assert after != planted
    assert signed_in_as(app, after) == "demo (tpu)"
    assert signed_in_as(app, planted) is None  # the attacker's copy logs nobody in
    # The CSRF token the attacker knew is gone with the old session.
    assert victim.post("/logout", data={"csrf_token": planted_csrf}).status_code == 400


def test_a_logged_in_session_planted_in_another_browser_is_replaced_at_its_login(app: Flask) -> None:
    attacker = app.test_client()
    assert form_login(attacker, "demo@tsu.ru", "demo").status_code == 302
    attackers = cookie_of(attacker)
    victim = app.test_client()
    plant(victim, attackers)
    assert form_login(victim, "demo@tusur.ru", "demo").status_code == 302
    assert signed_in_as(app, cookie_of(victim)) == "demo (tusur)"
    assert signed_in_as(app, attackers) == "demo (tsu)"  # nothing of the victim's


def test_logout_ends_the_session_on_the_server(app: Flask) -> None:
    browser = app.test_client()
    form_login(browser, "demo@tpu.ru", "demo")
    copy = cookie_of(browser)
    assert signed_in_as(app, copy) == "demo (tpu)"
    token = csrf_of(browser.get("/"))
    assert browser.post("/logout", data={"csrf_token": token}).status_code == 302
    assert signed_in_as(app, copy) is None


def test_every_security_event_is_in_the_audit_trail(app: Flask) -> None:
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = "192.0.2.44"
    assert form_login(browser, "demo@tpu.ru", "wrong").status_code == 401
    for i in range(4):
        form_login(browser, "ikuznetsov@tpu.ru", f"wrong-{i}")
    form_login(browser, "ikuznetsov@tpu.ru", "wrong-again")
    assert form_login(browser, "ikuznetsov@tpu.ru", "one-more").status_code == 429
    sign_in(browser, RP1, "demo@tpu.ru", "demo", consent="allow")
    denied = sign_in(browser, RP2, "", "", consent="deny")
    assert denied["error"] == "access_denied"
    browser.post("/logout", data={"csrf_token": csrf_of(browser.get("/"))})

    with app.app_context():
        events = audit.events(context.db())
    by_type: dict[str, list[audit.AuditEvent]] = {}
    for event in events:
        by_type.setdefault(event.type, []).append(event)
    failed = by_type["login.failed"][0]
    assert (failed.actor, failed.organization, failed.ip) == ("demo", "tpu", "192.0.2.44")
    assert failed.details == {"reason": "invalid_credentials"}
    throttled = by_type["login.throttled"][0]
    assert throttled.actor == "ikuznetsov" and throttled.details["scope"] == "account"
    [succeeded] = by_type["login.succeeded"]
    assert succeeded.identity_id and succeeded.ip == "192.0.2.44"
    [granted] = by_type["consent.granted"]
    [refused] = by_type["consent.denied"]
    assert (granted.client_id, refused.client_id) == ("rp1", "rp2")
    assert granted.identity_id == refused.identity_id == succeeded.identity_id
    [logout] = by_type["session.logout"]
    assert logout.identity_id == succeeded.identity_id and logout.ip == "192.0.2.44"
    recorded = " ".join(f"{e.actor} {e.details}" for e in events)
    assert "wrong" not in recorded and "one-more" not in recorded  # never a password


def test_a_throttled_login_is_audited_with_how_long_it_waits(app: Flask) -> None:
    browser = app.test_client()
    for i in range(6):
        response = form_login(browser, "no.such.user@tpu.ru", f"guess-{i}")
    assert response.status_code == 429
    with app.app_context():
        [event] = audit.events(context.db(), audit.AuditEventType.LOGIN_THROTTLED)
    assert event.details == {"scope": "account", "retry_after_s": int(response.headers["Retry-After"])}
