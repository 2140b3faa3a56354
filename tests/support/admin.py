"""Signing staff in to the admin UI over Flask's test client, the way a browser does: /admin,
the code flow of Campus ID with its login page, then the callback."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.oidc_client import csrf_of, is_login_form, login


def local(location: str) -> str:
    """A redirect target as a path of the app (the callback comes back to the issuer's host)."""
    parts = urlsplit(location)
    return parts.path + ("?" + parts.query if parts.query else "")


def admin_sign_in(browser: FlaskClient, username: str, password: str, organization: str,
                  start: str = "/admin/clients", area: str = "admin") -> TestResponse:
    """Returns the response of the page the sign-in lands on; ``area``: ``helpdesk`` for the
    helpdesk console, which signs in the same way."""
    response = browser.get(start)
    assert response.status_code == 302 and f"/{area}/login" in response.headers["Location"]
    response = browser.get(local(response.headers["Location"]))
    assert response.status_code == 302 and response.headers["Location"].startswith("/authorize")
    response = browser.get(local(response.headers["Location"]))
    if is_login_form(response):
        response = login(browser, response, username, password, organization)  # the code at once
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    assert f"/{area}/callback" in response.headers["Location"]
    response = browser.get(local(response.headers["Location"]))
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return browser.get(local(response.headers["Location"]))


def post_form(browser: FlaskClient, page: TestResponse, path: str,
              data: dict[str, str | list[str]]) -> TestResponse:
    """A form post with the CSRF token of ``page``."""
    return browser.post(path, data={"csrf_token": csrf_of(page), **data})


class _FormReader(HTMLParser):
    """The fields one form (found by its action) submits as a browser would, untouched: text
    inputs and textareas as shown, checked boxes as ``on``, each select's selected option (else
    its first)."""

    def __init__(self, action: str) -> None:
        super().__init__(convert_charrefs=True)
        self.action, self.inside = action, False
        self.fields: dict[str, list[str]] = {}
        self._select: str | None = None
        self._first: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("action") == self.action
        if not self.inside or ("name" not in a and tag in ("input", "select", "textarea")):
            return
        if tag == "input" and a.get("type") == "checkbox":
            if "checked" in a:
                self.fields.setdefault(a["name"], []).append(a.get("value") or "on")
        elif tag == "input" and a.get("type") not in ("submit", "button"):
            self.fields.setdefault(a["name"], []).append(a.get("value", ""))
        elif tag == "select":
            self._select, self._first = a["name"], None
        elif tag == "option" and self._select is not None:
            self._first = a.get("value", "") if self._first is None else self._first
            if "selected" in a:
                self.fields[self._select] = [a.get("value", "")]
        elif tag == "textarea":
            self._textarea = a["name"]
            self.fields[a["name"]] = [""]

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self.fields[self._textarea][0] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select is not None:
            if self._select not in self.fields and self._first is not None:
                self.fields[self._select] = [self._first]
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def form_as_shown(page: TestResponse, action: str) -> dict[str, str | list[str]]:
    """What submitting the form at ``action`` on ``page`` unchanged would send."""
    reader = _FormReader(action)
    reader.feed(page.get_data(as_text=True))
    assert reader.fields, f"no form posting to {action}"
    return {name: values if len(values) > 1 else values[0] for name, values in reader.fields.items()}
