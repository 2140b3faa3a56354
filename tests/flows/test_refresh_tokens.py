"""Refresh tokens: issued for offline_access (or by a client's policy), rotated on every use,
a reused one revoking its whole family, absolute and idle expiry, no scope escalation."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from idp import context
from idp.app import create_app
from idp.settings import Settings
from idp.storage import audit
from idp.storage.base import utcnow
from idp.storage.refresh_tokens import RefreshToken
from idp.storage.tokens import AccessToken, digest
from tests.flows.conftest import MOODLE, PORTAL, RP1, SPA, make_settings
from tests.support.oidc_client import RelyingParty, csrf_of, sign_in
from tests.support.tokens import introspect, refresh, userinfo_status

OFFLINE = "openid profile email offline_access"


def creds(rp: RelyingParty) -> tuple[str, str | None]:
    return rp.client_id, rp.secret


def offline_tokens(browser: FlaskClient, rp: RelyingParty = RP1, scope: str = OFFLINE,
                   user: str = "demo@tpu.ru", password: str = "demo") -> dict[str, Any]:
    result = sign_in(browser, rp, user, password, scope=scope)
    response = rp.token(browser, result["code"])
    assert response.status_code == 200, response.json
    body: dict[str, Any] = response.json
    return body


def family_rows(app: Flask) -> list[RefreshToken]:
    with app.app_context():
        return list(context.db().scalars(select(RefreshToken).order_by(RefreshToken.id)))


def audit_types(app: Flask) -> list[str]:
    with app.app_context():
        return [e.type for e in audit.events(context.db())]


def test_offline_access_gets_a_refresh_token_that_rotates(browser: FlaskClient, app: Flask) -> None:
    first = offline_tokens(browser)
    assert first["refresh_token"] and "offline_access" in first["scope"].split()
    response = refresh(browser, creds(RP1), first["refresh_token"])
    assert response.status_code == 200, response.json
    assert "no-store" in response.headers["Cache-Control"]
    second = response.json
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert "id_token" not in second  # OpenID Connect Core 12.2: may be left out
    assert set(second["scope"].split()) == set(OFFLINE.split())
    assert userinfo_status(browser, second["access_token"]) == 200
    third = refresh(browser, creds(RP1), second["refresh_token"], method="post")
    assert third.status_code == 200, third.json

    rows = family_rows(app)
    assert len(rows) == 3 and len({r.family_id for r in rows}) == 1
    assert rows[1].parent_id == rows[0].id and rows[2].parent_id == rows[1].id
    assert rows[0].rotated_at and rows[1].rotated_at and rows[2].rotated_at is None
    # The absolute expiry is the family's; the idle expiry moves with each refresh.
    assert rows[0].expires_at == rows[1].expires_at == rows[2].expires_at
    assert rows[2].idle_expires_at >= rows[0].idle_expires_at
    # Only digests are kept.
    assert rows[0].token_hash == digest(first["refresh_token"])
    with app.app_context():
        dump = repr(context.db().execute(select(RefreshToken.__table__)).all())
        dump += repr(context.db().execute(select(AccessToken.__table__)).all())
    for value in (first["refresh_token"], second["refresh_token"], second["access_token"]):
        assert value not in dump


def test_lifetimes_come_from_the_settings(settings: Settings) -> None:
    oidc = replace(settings.oidc, refresh_token_lifetime_s=7200, refresh_token_idle_lifetime_s=600)
    app = create_app(replace(settings, oidc=oidc))
    try:
        offline_tokens(app.test_client())
        (row,) = family_rows(app)
        now = utcnow()
        assert abs((row.expires_at - now).total_seconds() - 7200) < 60
        assert abs((row.idle_expires_at - now).total_seconds() - 600) < 60
    finally:
        app.extensions["campus_id"].engine.dispose()


def test_no_refresh_token_without_offline_access_unless_the_client_always_gets_one(
        browser: FlaskClient) -> None:
    plain = offline_tokens(browser, scope="openid profile")
    assert "refresh_token" not in plain
    portal = offline_tokens(browser, PORTAL, scope="openid profile")
    assert portal["refresh_token"]


def test_client_without_the_refresh_grant_gets_none_and_may_not_refresh(browser: FlaskClient) -> None:
    result = sign_in(browser, MOODLE, "demo@tusur.ru", "demo", scope=OFFLINE,
                     code_challenge=None, code_challenge_method=None)
    tokens = browser.post("/token", data={
        "grant_type": "authorization_code", "code": result["code"],
        "redirect_uri": MOODLE.redirect_uri}, auth=(MOODLE.client_id, MOODLE.secret)).json
    assert "refresh_token" not in tokens and "offline_access" not in tokens["scope"]
    rp1 = offline_tokens(browser)
    refused = refresh(browser, creds(MOODLE), rp1["refresh_token"])
    assert refused.status_code == 400 and refused.json["error"] == "unauthorized_client"


def test_consent_screen_says_what_offline_access_means(browser: FlaskClient) -> None:
    sign_in(browser, RP1, "demo@tpu.ru", "demo", scope="openid")
    page = browser.get("/authorize", query_string=RP1.params(scope="openid offline_access"))
    assert page.status_code == 200 and csrf_of(page)
    assert "когда вы не в системе" in page.get_data(as_text=True)


def test_reused_refresh_token_revokes_the_whole_family(browser: FlaskClient, app: Flask) -> None:
    first = offline_tokens(browser)
    second = refresh(browser, creds(RP1), first["refresh_token"]).json
    other_family = offline_tokens(browser)

    reuse = refresh(browser, creds(RP1), first["refresh_token"])
    assert reuse.status_code == 400 and reuse.json["error"] == "invalid_grant"
    # The legitimate holder's current tokens are dead too: nobody knows who is the thief.
    current = refresh(browser, creds(RP1), second["refresh_token"])
    assert current.status_code == 400 and current.json["error"] == "invalid_grant"
    for access in (first["access_token"], second["access_token"]):
        assert userinfo_status(browser, access) == 401
        assert introspect(browser, creds(RP1), access).json == {"active": False}
    assert introspect(browser, creds(RP1), second["refresh_token"]).json == {"active": False}
    # Another login's family is untouched.
    assert userinfo_status(browser, other_family["access_token"]) == 200
    assert refresh(browser, creds(RP1), other_family["refresh_token"]).status_code == 200

    with app.app_context():
        (event,) = audit.events(context.db(), audit.AuditEventType.REFRESH_TOKEN_REUSED)
        assert event.client_id == RP1.client_id and event.identity_id is not None
        assert event.details["revoked_refresh_tokens"] == 2  # the spent parent and its child
        assert event.details["revoked_access_tokens"] == 2
        assert first["refresh_token"] not in repr(event.details)


def test_revoked_family_stays_revoked_on_a_second_reuse(browser: FlaskClient, app: Flask) -> None:
    first = offline_tokens(browser)
    refresh(browser, creds(RP1), first["refresh_token"])
    assert refresh(browser, creds(RP1), first["refresh_token"]).status_code == 400
    assert refresh(browser, creds(RP1), first["refresh_token"]).status_code == 400
    assert audit_types(app).count("token.refresh_reused") == 2


def test_refresh_token_of_another_client_is_refused_and_left_alone(browser: FlaskClient) -> None:
    tokens = offline_tokens(browser)
    stolen = refresh(browser, creds(PORTAL), tokens["refresh_token"])
    assert stolen.status_code == 400 and stolen.json["error"] == "invalid_grant"
    assert refresh(browser, creds(RP1), tokens["refresh_token"]).status_code == 200


def test_confidential_client_must_authenticate_and_public_client_names_itself(
        browser: FlaskClient) -> None:
    tokens = offline_tokens(browser)
    no_secret = refresh(browser, (RP1.client_id, None), tokens["refresh_token"])
    assert no_secret.status_code in (400, 401) and no_secret.json["error"] == "invalid_client"
    wrong = refresh(browser, (RP1.client_id, "wrong-secret-0123456789"), tokens["refresh_token"])
    assert wrong.status_code == 401 and wrong.json["error"] == "invalid_client"
    spa = offline_tokens(browser, SPA)
    rotated = refresh(browser, creds(SPA), spa["refresh_token"])
    assert rotated.status_code == 200 and rotated.json["refresh_token"] != spa["refresh_token"]


@pytest.mark.parametrize("column", ["expires_at", "idle_expires_at"])
def test_expired_refresh_token_is_refused(browser: FlaskClient, app: Flask, column: str) -> None:
    tokens = offline_tokens(browser)
    with app.app_context():
        db = context.db()
        db.execute(update(RefreshToken).values({column: utcnow() - timedelta(seconds=1)}))
        db.commit()
    response = refresh(browser, creds(RP1), tokens["refresh_token"])
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"
    assert "expired" in response.json["error_description"]
    assert introspect(browser, creds(RP1), tokens["refresh_token"]).json == {"active": False}


def test_idle_expiry_never_passes_the_absolute_one(browser: FlaskClient, app: Flask) -> None:
    tokens = offline_tokens(browser)
    end = utcnow() + timedelta(seconds=90)
    with app.app_context():
        db = context.db()
        db.execute(update(RefreshToken).values(expires_at=end))
        db.commit()
    refresh(browser, creds(RP1), tokens["refresh_token"])
    child = family_rows(app)[-1]
    assert child.expires_at == end and child.idle_expires_at <= end


def test_scope_escalation_on_refresh_is_refused_and_narrowing_is_not_kept(
        browser: FlaskClient) -> None:
    tokens = offline_tokens(browser, scope="openid profile offline_access")
    wider = refresh(browser, creds(RP1), tokens["refresh_token"], scope="openid profile email")
    assert wider.status_code == 400 and wider.json["error"] == "invalid_scope"
    narrow = refresh(browser, creds(RP1), tokens["refresh_token"], scope="openid")
    assert narrow.status_code == 200 and narrow.json["scope"] == "openid"
    info = browser.get("/userinfo", headers={"Authorization": f"Bearer {narrow.json['access_token']}"})
    assert "name" not in info.json
    # RFC 6749 6: the new refresh token keeps the scope the person granted.
    again = refresh(browser, creds(RP1), narrow.json["refresh_token"])
    assert set(again.json["scope"].split()) == {"openid", "profile", "offline_access"}


def test_reused_code_also_revokes_the_refresh_tokens_it_gave(browser: FlaskClient) -> None:
    result = sign_in(browser, RP1, "demo@tpu.ru", "demo", scope=OFFLINE)
    tokens = RP1.token(browser, result["code"]).json
    assert RP1.token(browser, result["code"]).status_code == 400
    refused = refresh(browser, creds(RP1), tokens["refresh_token"])
    assert refused.status_code == 400 and refused.json["error"] == "invalid_grant"


@pytest.mark.parametrize("data", [
    {"grant_type": "refresh_token"},
    {"grant_type": "refresh_token", "refresh_token": "not-a-token"},
    {"grant_type": "refresh_token", "refresh_token": "x" * 5000},
    {"grant_type": "password", "username": "demo", "password": "demo"},
    {"grant_type": "urn:ietf:params:oauth:grant-type:device_code"},
])
def test_bad_refresh_requests(browser: FlaskClient, data: dict[str, str]) -> None:
    response = browser.post("/token", data=data, auth=(RP1.client_id, RP1.secret))
    assert response.status_code == 400
    expected = {"refresh_token": {"invalid_request", "invalid_grant"}}.get(
        data["grant_type"], {"unsupported_grant_type"})
    assert response.json["error"] in expected


def test_settings_refuse_an_idle_lifetime_longer_than_the_absolute_one(
        database_url: str, directories: Any) -> None:
    with pytest.raises(AssertionError, match="refresh_token_idle_lifetime_s"):
        make_settings(database_url, directories, oidc={
            "refresh_token_lifetime_s": 600, "refresh_token_idle_lifetime_s": 700})

