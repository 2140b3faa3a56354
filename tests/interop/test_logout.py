"""RP-initiated logout and back-channel logout against a running `idp serve`, driven by panva's
openid-client (buildEndSessionUrl, followed through to the redirect) and jose (the Logout Token
the provider POSTs to a receiver in this test, validated against the JWKS), for each signing
algorithm a relying party may choose."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from demo.stack import ProviderStack
from tests.interop.conftest import INTEROP_DIR, REDIRECT_URI
from tests.support.oidc_client import is_login_form

pytestmark = pytest.mark.interop
LOGGED_OUT = "http://127.0.0.1:9/logged-out"  # never fetched, like REDIRECT_URI
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
RID = re.compile(r'name="rid" value="([^"]+)"')


class Receiver:
    """A relying party's back-channel logout endpoint: keeps each logout token it is sent."""

    def __init__(self) -> None:
        self.tokens: dict[str, list[str]] = {}
        self.server = make_server("127.0.0.1", 0, self._app)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/{name}"

    @Request.application  # type: ignore[arg-type]
    def _app(self, request: Request) -> Response:
        self.tokens.setdefault(request.path.strip("/"), []).append(request.form["logout_token"])
        return Response(status=200, headers={"Cache-Control": "no-store"})

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(5)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


class Browser:
    """One person's browser: keeps its cookies from the login to the logout."""

    def __init__(self, provider: ProviderStack) -> None:
        self.provider = provider
        self.web = requests.Session()

    def get(self, url: str) -> requests.Response:
        return self.web.get(urljoin(self.provider.issuer, url), allow_redirects=False, timeout=10,
                            verify=str(self.provider.ca_file))

    def post(self, url: str, data: dict[str, str]) -> requests.Response:
        return self.web.post(urljoin(self.provider.issuer, url), data=data, allow_redirects=False,
                             timeout=10, verify=str(self.provider.ca_file))

    def log_in(self, authorization_url: str, username: str, password: str) -> str:
        page = self.get(authorization_url)  # the login form, at the request itself
        assert is_login_form(page), page.text[:300]
        form = {"csrf_token": _match(CSRF, page.text), "rid": _match(RID, page.text),
                "username": username, "password": password}
        response = self.post("/login", form)
        assert response.status_code == 302, response.text[:300]
        if response.headers["Location"].startswith("/authorize"):  # consent first (else the code)
            consent_url = response.headers["Location"]
            response = self.get(consent_url)
            if response.status_code == 200:
                response = self.post(consent_url, {"csrf_token": _match(CSRF, response.text),
                                                   "consent": "allow"})
        assert response.status_code == 302, response.text[:300]
        return str(response.headers["Location"])

    def follow_until(self, url: str, prefix: str) -> str:
        """Follow redirects as a browser does until one leaves for ``prefix``."""
        for _ in range(5):
            response = self.get(url)
            assert response.status_code in (302, 303), response.text[:300]
            url = response.headers["Location"]
            if url.startswith(prefix):
                return url
        raise AssertionError(f"never sent to {prefix}")


def _match(pattern: re.Pattern[str], text: str) -> str:
    found = pattern.search(text)
    assert found, f"no {pattern.pattern} on the page"
    return found.group(1)


def create_client(provider: ProviderStack, receiver: Receiver, alg: str) -> dict[str, str]:
    """Registered the way an operator does it, with this test's receiver as its endpoint."""
    out = provider.idp("clients", "create", "--name", f"Logout {alg}", "--redirect-uri", REDIRECT_URI,
                       "--post-logout-redirect-uri", LOGGED_OUT, "--backchannel-logout-uri",
                       receiver.url(alg), "--id-token-alg", alg, "--json")
    created: dict[str, str] = json.loads(out)
    return created


def session_alive(browser: Browser, client_id: str) -> bool:
    """prompt=none answers with a code only while the single sign-on session lives."""
    response = browser.get("/authorize?" + "&".join(f"{k}={v}" for k, v in {
        "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI,
        "scope": "openid", "prompt": "none", "state": "s",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256"}.items()))
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    return "code" in query


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_rp_initiated_and_back_channel_logout_pass_panva_checks(
        provider: ProviderStack, receiver: Receiver, alg: str) -> None:
    created = create_client(provider, receiver, alg)
    client_id = created["client_id"]
    browser = Browser(provider)
    env = {**os.environ, "ISSUER": provider.issuer, "REDIRECT_URI": REDIRECT_URI,
           "POST_LOGOUT_REDIRECT_URI": LOGGED_OUT, "NODE_EXTRA_CA_CERTS": str(provider.ca_file),
           "CLIENT_ID": client_id, "CLIENT_SECRET": created["client_secret"], "ID_TOKEN_ALG": alg}
    with subprocess.Popen(["node", str(INTEROP_DIR / "logout.mjs")], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True, env=env) as node:
        assert node.stdout is not None and node.stdin is not None
        try:
            start = json.loads(node.stdout.readline())
            assert "authorization_url" in start, start
            callback = browser.log_in(start["authorization_url"], "demo@tusur.ru", "demo")
            node.stdin.write(callback + "\n")
            node.stdin.flush()
            end = json.loads(node.stdout.readline())
            assert "end_session_url" in end, end
            assert session_alive(browser, client_id)
            landed = browser.follow_until(end["end_session_url"], LOGGED_OUT)
            waited_until = time.monotonic() + 10  # posted off the request, after its commit
            while not receiver.tokens.get(alg) and time.monotonic() < waited_until:
                time.sleep(0.05)
            tokens = receiver.tokens.get(alg, [])
            assert len(tokens) == 1, "one logout token, delivered right after the logout"
            node.stdin.write(json.dumps({"landed": landed, "logout_token": tokens[0]}) + "\n")
            node.stdin.flush()
            answer: dict[str, Any] = json.loads(node.stdout.readline())
        finally:
            node.stdin.close()
            try:
                node.wait(30)
            except subprocess.TimeoutExpired:
                node.kill()
    assert "error" not in answer, answer
    result = answer["result"]
    id_claims, logout = result["id_token_claims"], result["logout"]
    assert logout["header"]["alg"] == alg and logout["header"]["typ"] == "logout+jwt"
    assert logout["claims"]["sid"] == id_claims["sid"]
    assert logout["claims"]["sub"] == id_claims["sub"]
    assert logout["claims"]["aud"] == client_id
    assert not session_alive(browser, client_id)
