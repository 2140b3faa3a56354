"""The access line carries the request's id under every engine `idp serve` runs (granian, the
default; gunicorn; Werkzeug's development server with ``--dev``), in JSON and in text: the
same id as the request's other log lines and its audit events (docs/operations.md, "Logs"),
whether the client sent it in ``X-Request-ID`` or the provider made it."""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from sqlalchemy import create_engine, select

from demo.slapd import free_port
from demo.stack import ProviderStack
from idp.storage.audit import AuditEvent
from tests.interop.test_logout import Browser
from tests.support.oidc_client import s256

CLIENT_ID = "ids-rp"
SECRET = "ids-rp-secret-0123456789"
REDIRECT_URI = "http://127.0.0.1:9/cb"  # never fetched
TEXT_LINE = re.compile(r" (?P<level>[A-Z]+) (?P<logger>[\w.]+) \[(?P<request_id>[^\]]+)\] "
                       r"(?P<message>.*)")
ACCESS = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+)" (?P<status>\d{3}) ')
ENGINES = {"granian": (), "gunicorn": (), "dev": ("--dev",)}


@pytest.fixture(scope="module", params=[(engine, form) for engine in ENGINES
                                        for form in ("json", "text")],
                ids=lambda p: "-".join(p))
def provider(request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProviderStack]:
    engine, form = request.param
    clients = {CLIENT_ID: {"name": "Request ids RP", "redirect_uris": [REDIRECT_URI],
                           "client_secret": SECRET, "grant_types": ["authorization_code"]}}
    server = {} if engine == "dev" else {"engine": engine}
    with ProviderStack(tmp_path_factory.mktemp(f"ids-{engine}-{form}"), port=free_port(),
                       clients=clients, workers=1, serve_args=ENGINES[engine],
                       extra_config={"server": server,
                                     "logging": {"format": form, "level": "debug"}}) as stack:
        yield stack


def lines(provider: ProviderStack) -> list[dict[str, Any]]:
    """The provider's log lines in either format, as {logger, request_id, message, ...}."""
    text = (provider.workdir / "provider.log").read_text(encoding="utf-8", errors="replace")
    found = []
    for line in text.splitlines():
        if line.startswith("{"):
            found.append(json.loads(line))
        elif match := TEXT_LINE.search(line):
            found.append(match.groupdict())
    return found


def access_line(provider: ProviderStack, method: str, path: str,
                request_id: str | None = None) -> dict[str, Any]:
    """The access line of ``method path`` (with ``request_id`` when given), once written: the
    server writes it after the response has gone out."""
    deadline = time.monotonic() + 10
    while True:
        for line in lines(provider):
            match = ACCESS.search(line["message"]) if line["logger"] == "idp.access" else None
            if (match and (match["method"], match["path"]) == (method, path)
                    and request_id in (None, line["request_id"])):
                return line
        assert time.monotonic() < deadline, f"no access line for {method} {path}"
        time.sleep(0.05)


def test_a_made_id_is_the_one_the_access_line_carries(provider: ProviderStack) -> None:
    response = requests.get(provider.issuer + "/jwks", timeout=10)
    made = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    line = access_line(provider, "GET", "/jwks", made)
    assert line["request_id"] == made and " 200 " in line["message"]


def test_a_sent_id_is_in_the_access_line_the_app_lines_and_the_audit_trail(
        provider: ProviderStack) -> None:
    sent = "lb-" + secrets.token_hex(8)
    verifier = secrets.token_urlsafe(48)
    params = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI,
              "scope": "openid", "state": "s", "nonce": "n",
              "code_challenge": s256(verifier), "code_challenge_method": "S256"}
    browser = Browser(provider)
    browser.web.headers["X-Request-ID"] = sent  # as a load balancer sets it, on every request
    browser.log_in("/authorize?" + urlencode(params), "demo@tpu.ru", "demo")

    login = access_line(provider, "POST", "/login", sent)
    assert " 302 " in login["message"]
    # The application's own lines of the login (the password check, at debug level) carry it.
    assert any(line["logger"] == "idp.directory.ldap" and line["request_id"] == sent
               for line in lines(provider))
    engine = create_engine(provider.database_url)
    try:
        with engine.connect() as db:
            audited = db.execute(select(AuditEvent.request_id).where(
                AuditEvent.type == "login.succeeded")).scalars().all()
    finally:
        engine.dispose()
    assert sent in audited
    if provider.extra_config["logging"]["format"] == "json":  # the line's parts are fields
        assert (login["method"], login["path"], login["status"]) == ("POST", "/login", "302")


def test_no_other_access_line_than_ours(provider: ProviderStack) -> None:
    """The server's own access line (gunicorn's, granian's, Werkzeug's) is not written beside
    ours: one line per request, and it is ours."""
    sent = "one-" + secrets.token_hex(8)
    requests.get(provider.issuer + "/.well-known/openid-configuration", timeout=10,
                 headers={"X-Request-ID": sent})
    access_line(provider, "GET", "/.well-known/openid-configuration", sent)
    log = Path(provider.workdir / "provider.log").read_text(encoding="utf-8", errors="replace")
    mentions = [line for line in log.splitlines() if "/.well-known/openid-configuration" in line]
    assert mentions and all("idp.access" in line for line in mentions), mentions[:3]
