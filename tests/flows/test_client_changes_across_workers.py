"""Two apps over one database stand for two gunicorn workers: a client changed in one is
answered correctly by the other, although each keeps clients in memory for a moment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import text

from idp.app import create_app
from idp.settings import Settings
from idp.storage.clients import hash_secret
from tests.flows.conftest import RP1, SERVICE
from tests.support.oidc_client import RelyingParty, is_login_form
from tests.support.tokens import client_credentials

NEW_URI = "https://rp1.example.org/another-callback"


@pytest.fixture
def other_worker(settings: Settings) -> Iterator[Flask]:
    app = create_app(settings)
    yield app
    app.extensions["campus_id"].engine.dispose()


def change_elsewhere(app: Flask, statement: str, **values: object) -> None:
    """As another process would: plain SQL, nothing this process could notice."""
    with app.extensions["campus_id"].engine.begin() as conn:
        conn.execute(text(statement), values)


def test_a_secret_rotated_in_another_worker_works_at_once(app: Flask, other_worker: Flask) -> None:
    browser = app.test_client()
    assert client_credentials(browser, SERVICE).status_code == 200  # the old one, remembered
    change_elsewhere(other_worker, "UPDATE clients SET secret_hash = :h WHERE client_id = :c",
                     h=hash_secret("rotated-secret-0123456789"), c=SERVICE[0])
    assert client_credentials(browser, (SERVICE[0], "rotated-secret-0123456789")).status_code == 200
    refused = client_credentials(browser, SERVICE)
    assert refused.status_code == 401 and refused.json["error"] == "invalid_client"
    assert client_credentials(browser, (SERVICE[0], "not-the-secret")).status_code == 401


def test_a_redirect_uri_added_in_another_worker_is_accepted_at_once(
        app: Flask, other_worker: Flask) -> None:
    browser = app.test_client()
    assert is_login_form(browser.get("/authorize", query_string=RP1.params()))  # remembered
    change_elsewhere(other_worker, "UPDATE clients SET redirect_uris = :u WHERE client_id = :c",
                     u=f'["{RP1.redirect_uri}", "{NEW_URI}"]', c=RP1.client_id)
    moved = RelyingParty(RP1.client_id, NEW_URI, secret=RP1.secret)
    response = browser.get("/authorize", query_string=moved.params())
    assert is_login_form(response)
    unknown = RelyingParty(RP1.client_id, "https://rp1.example.org/never-registered")
    assert browser.get("/authorize", query_string=unknown.params()).status_code == 400
