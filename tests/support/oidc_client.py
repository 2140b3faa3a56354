"""A small test relying party over Flask's test client: builds authorization requests with
PKCE, answers the login and consent pages the way a person would, and redeems codes."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
RID = re.compile(r'name="rid" value="([^"]*)"')


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@dataclass
class RelyingParty:
    client_id: str
    redirect_uri: str
    secret: str | None = None
    scope: str = "openid profile email campus"
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))

    def params(self, **extra: str | None) -> dict[str, str]:
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": self.scope,
            "state": secrets.token_urlsafe(8),
            "nonce": secrets.token_urlsafe(8),
            "code_challenge": s256(self.verifier),
            "code_challenge_method": "S256",
        }
        params.update(extra)  # type: ignore[arg-type]
        return {k: v for k, v in params.items() if v is not None}

    def token(self, browser: FlaskClient, code: str, **extra: str) -> TestResponse:
        data = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": self.redirect_uri, "code_verifier": self.verifier, **extra}
        auth = (self.client_id, self.secret) if self.secret else None
        if not self.secret:
            data["client_id"] = self.client_id
        return browser.post("/token", data=data, auth=auth)


def csrf_of(response: TestResponse) -> str:
    found = CSRF.search(response.get_data(as_text=True))
    assert found, "the page has no CSRF token"
    return found.group(1)


def login(browser: FlaskClient, login_page: TestResponse, username: str, password: str,
          organization: str = "") -> TestResponse:
    """Fill the login form like a person; returns the response to the form post."""
    html = login_page.get_data(as_text=True)
    rid = RID.search(html)
    return browser.post("/login", data={
        "csrf_token": csrf_of(login_page), "rid": rid.group(1) if rid else "",
        "organization": organization, "username": username, "password": password,
    })


class Page(Protocol):
    """A test client's answer or a ``requests`` one."""

    status_code: int

    @property
    def text(self) -> str: ...


def is_login_form(response: Page) -> bool:
    """The login page: shown by ``/authorize`` itself to a browser with no session."""
    return response.status_code == 200 and 'action="/login"' in response.text


def follow(browser: FlaskClient, response: TestResponse) -> TestResponse:
    """The page a redirect within the provider leads to. A redirect out of it is the answer
    itself: a relying party's callback (after a login, the code comes at once)."""
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    location = response.headers["Location"]
    if not location.startswith("/"):
        return response
    return browser.get(location)


def callback_params(response: TestResponse) -> dict[str, str]:
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    location = response.headers["Location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def sign_in(browser: FlaskClient, rp: RelyingParty, username: str, password: str,
            organization: str = "", consent: str | None = "allow", **extra: Any) -> dict[str, str]:
    """The whole front channel: authorize → login → (consent) → callback parameters."""
    params = rp.params(**extra)
    response = browser.get("/authorize", query_string=params)
    if is_login_form(response):
        response = follow(browser, login(browser, response, username, password, organization))
    if response.status_code == 200 and consent is not None:
        response = browser.post("/authorize", query_string=params,
                                data={"csrf_token": csrf_of(response), "consent": consent})
    result = callback_params(response)
    assert result.get("state") == params["state"]
    result["_nonce"] = params.get("nonce", "")
    return result
