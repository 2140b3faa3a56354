"""The provider as production serves it (`idp serve`, under each engine: granian, the default,
and gunicorn), for what only the server layer shows: an oversized body is a clear 413 at every
kind of endpoint (it was gunicorn's bare 500, the error page tripping over the body again), and
the access log tells method, path, client and status, never a query string or a form, where
codes, id_token_hints, request objects and secrets travel."""

from __future__ import annotations

import base64
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from demo.slapd import free_port
from demo.stack import ProviderStack
from tests.interop.test_logout import Browser
from tests.support.oidc_client import s256

CLIENT_ID = "served-rp"
SECRET = "served-rp-secret-0123456789"
REDIRECT_URI = "http://127.0.0.1:9/cb"  # never fetched
ONE_MB = 1024 * 1024
ACCESS_LINE = re.compile(
    r'"(?P<method>[A-Z]+) (?P<path>\S+)" (?P<status>\d{3}) \S+ \d+ms client=(?P<client>\S+)')


@pytest.fixture(scope="module", params=["granian", "gunicorn"])
def provider(request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProviderStack]:
    clients = {CLIENT_ID: {"name": "Served RP", "redirect_uris": [REDIRECT_URI],
                           "client_secret": SECRET, "grant_types": ["authorization_code"]}}
    with ProviderStack(tmp_path_factory.mktemp(f"served-{request.param}"), port=free_port(),
                       clients=clients, workers=1,
                       extra_config={"server": {"engine": request.param}}) as stack:
        yield stack


def post(provider: ProviderStack, path: str, data: object, **kwargs: object) -> requests.Response:
    return requests.post(provider.issuer + path, data=data, timeout=60,  # type: ignore[arg-type]
                         allow_redirects=False, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [ONE_MB, 10 * ONE_MB])
def test_an_oversized_form_is_a_413_page_or_json(provider: ProviderStack, size: int) -> None:
    form = {"username": "demo", "password": "demo", "x": "a" * size}
    for path in ("/login", "/authorize"):
        response = post(provider, path, form)
        assert response.status_code == 413, (path, response.text[:300])
        assert "Отправленные данные слишком велики (больше 64 КБ)." in response.text
    token = post(provider, "/token", form, auth=(CLIENT_ID, SECRET))
    assert token.status_code == 413
    assert token.json() == {"error": "invalid_request",
                            "error_description": "The request body is larger than 64 KB."}
    # The server is none the worse for it.
    assert requests.get(provider.issuer + "/jwks", timeout=10).status_code == 200


def test_an_oversized_chunked_body_is_a_413(provider: ProviderStack) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: sent with Transfer-Encoding: chunked
        yield b"grant_type=authorization_code&x="
        for _ in range(16):
            yield b"a" * (64 * 1024)
    response = post(provider, "/token", chunks(), auth=(CLIENT_ID, SECRET),
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413 and response.json()["error"] == "invalid_request"
    small = post(provider, "/token", iter([b"grant_type=authorization_code&code=x"]),
                 auth=(CLIENT_ID, SECRET), headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert small.status_code == 400 and small.json()["error"] == "invalid_grant"


def access_lines(provider: ProviderStack) -> list[re.Match[str]]:
    log = Path(provider.workdir / "provider.log").read_text(encoding="utf-8", errors="replace")
    return [found for line in log.splitlines() if (found := ACCESS_LINE.search(line))]


def test_the_access_log_names_path_and_client_never_the_query(provider: ProviderStack) -> None:
    verifier = secrets.token_urlsafe(48)
    state, nonce = "state-" + secrets.token_hex(8), "nonce-" + secrets.token_hex(8)
    params = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI,
              "scope": "openid", "state": state, "nonce": nonce,
              "code_challenge": s256(verifier), "code_challenge_method": "S256"}
    callback = Browser(provider).log_in("/authorize?" + urlencode(params), "demo@tpu.ru", "demo")
    code = parse_qs(urlsplit(callback).query)["code"][0]
    tokens = post(provider, "/token", {"grant_type": "authorization_code", "code": code,
                                       "redirect_uri": REDIRECT_URI, "code_verifier": verifier},
                  auth=(CLIENT_ID, SECRET)).json()
    hint = tokens["id_token"]
    logout = requests.get(provider.issuer + "/logout", params={"id_token_hint": hint},
                          timeout=10, allow_redirects=False)
    assert logout.status_code < 500
    request_object = "eyJhbGciOiJub25lIn0." + base64.urlsafe_b64encode(b'{"x":1}').decode() + "."
    requests.get(provider.issuer + "/authorize", timeout=10, allow_redirects=False,
                 params={**params, "request": request_object})

    wanted = {("GET", "/authorize", "200", CLIENT_ID), ("POST", "/token", "200", CLIENT_ID),
              ("POST", "/login", "302", "-")}  # /token's client from HTTP Basic; /login names none
    deadline = time.monotonic() + 5  # access lines are written in batches, within 0.2 s
    while not (wanted <= (seen := {(m["method"], m["path"], m["status"], m["client"])
                                   for m in access_lines(provider)})
               and any(method == "GET" and path == "/logout" for method, path, _, _ in seen)):
        assert time.monotonic() < deadline, seen
        time.sleep(0.05)
    log = Path(provider.workdir / "provider.log").read_text(encoding="utf-8", errors="replace")
    for secret in (code, hint, tokens["access_token"], verifier, request_object, SECRET, state,
                   nonce, "id_token_hint", "code=", "?"):
        assert secret not in "\n".join(m.group(0) for m in access_lines(provider)), secret
        if secret not in ("?", "code="):
            assert secret not in log, secret
