"""Full HTTP flows against the app, with real slapd directories for three organizations of
two schemas (OpenLDAP inetOrgPerson and an Active-Directory-like one), on SQLite and on
PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from demo import people
from demo.slapd import SlapdServer
from idp.app import create_app
from idp.settings import Settings
from idp.settings.load import parse_settings
from tests.support.oidc_client import RelyingParty

SECRET_KEY = "flow-tests-secret-key-0123456789abcdef"
RP1 = RelyingParty("rp1", "https://rp1.example.org/callback", secret="rp1-secret-0123456789")
RP2 = RelyingParty("rp2", "https://rp2.example.org/callback", secret="rp2-secret-0123456789")
MOODLE = RelyingParty("moodle", "https://moodle.example.org/admin/oauth2callback.php",
                      secret="moodle-secret-0123456789")
SPA = RelyingParty("spa", "http://127.0.0.1:5173/callback")
PORTAL = RelyingParty("portal", "https://portal.example.org/cb", secret="portal-secret-0123456789")
# Services of the client credentials grant: (client_id, secret).
SERVICE = ("timetable", "timetable-secret-0123456789")
SERVICE_JWT = ("library-api", "library-api-secret-0123456789")
SERVICE_AUDIENCE = "https://api.library.example.org"
REFRESH = ["authorization_code", "refresh_token"]
RP1_LOGGED_OUT = "https://rp1.example.org/logged-out"


@pytest.fixture(scope="session")
def directories() -> Iterator[dict[str, SlapdServer]]:
    servers = {org_id: people.organization(org_id).server().start()
               for org_id in ("tpu", "tsu", "tusur")}
    try:
        yield servers
    finally:
        for server in servers.values():
            server.close()


def client_table() -> dict[str, Any]:
    def confidential(rp: RelyingParty, name: str, **extra: Any) -> dict[str, Any]:
        return {"name": name, "redirect_uris": [rp.redirect_uri], "client_secret": rp.secret,
                **extra}

    return {
        "rp1": confidential(RP1, "Библиотека ТГУ", grant_types=REFRESH,
                            post_logout_redirect_uris=[RP1_LOGGED_OUT]),
        "rp2": confidential(RP2, "Sports booking", id_token_signed_response_alg="ES256",
                            grant_types=REFRESH, access_token_format="jwt",
                            post_logout_redirect_uris=["https://rp2.example.org/bye"]),
        "moodle": confidential(MOODLE, "Moodle", pkce="optional"),
        "portal": confidential(PORTAL, "Campus portal", trusted=True, grant_types=REFRESH,
                               refresh_token_policy="always"),
        "spa": {"name": "Timetable app", "redirect_uris": [SPA.redirect_uri], "public": True,
                "grant_types": REFRESH},
        SERVICE[0]: {"name": "Timetable sync", "client_secret": SERVICE[1],
                     "grant_types": ["client_credentials"],
                     "scopes": ["schedule.read", "schedule.write"]},
        SERVICE_JWT[0]: {"name": "Library API client", "client_secret": SERVICE_JWT[1],
                         "grant_types": ["client_credentials"], "scopes": ["catalog.read"],
                         "access_token_format": "jwt", "access_token_audience": SERVICE_AUDIENCE},
    }


def make_settings(database_url: str, servers: dict[str, SlapdServer], **overrides: Any) -> Settings:
    data: dict[str, Any] = {
        "server": {"issuer": "https://id.campus.test", "dev_mode": True, "secret_key": SECRET_KEY},
        "database": {"url": database_url},
        "organizations": {
            org_id: people.organization(org_id).config([server.uri], timeout_s=2)
            for org_id, server in servers.items()
        },
        "clients": client_table(),
    }
    for key, value in overrides.items():
        data[key] = {**data.get(key, {}), **value}
    problems: list[str] = []
    settings = parse_settings(data, problems)
    assert not problems, problems
    return settings


@pytest.fixture
def settings(migrated_database_url: str, directories: dict[str, SlapdServer]) -> Settings:
    return make_settings(migrated_database_url, directories)


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    app = create_app(settings)
    yield app
    app.extensions["campus_id"].deliveries.wait_idle(10)  # its back-channel posts, off requests
    app.extensions["campus_id"].engine.dispose()


@pytest.fixture
def browser(app: Flask) -> FlaskClient:
    return app.test_client()
