"""JWT access tokens of the client credentials grant are self-contained and not stored: they
introspect as stored tokens do, from their signature and claims; revoking one (RFC 7009) stores
it revoked, seen by every worker; disabling or deleting their client ends them for good."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from sqlalchemy import func, select, text

from demo.slapd import SlapdServer
from idp import context
from idp.admin.clients import Actor, enable_client
from idp.admin.registry import create_client
from idp.app import create_app
from idp.oidc.access_tokens import self_contained
from idp.oidc.keys import generate_key
from idp.oidc.registration import delete_client
from idp.settings import AccessTokenFormat, GrantType, Settings
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.base import utcnow
from idp.storage.clients import find_client
from idp.storage.tokens import AccessToken
from tests.flows.conftest import RP2, SERVICE, SERVICE_AUDIENCE, SERVICE_JWT, make_settings
from tests.support.oidc_client import sign_in
from tests.support.tokens import client_credentials, introspect, revoke, userinfo_status

ISSUER = "https://id.campus.test"
ADMIN_JWT = ("automation-jwt", "automation-jwt-secret-0123456789")


@pytest.fixture
def settings(settings: Settings, database_url: str, directories: dict[str, SlapdServer]) -> Settings:
    """The flow tests' clients and an admin automation client with JWT access tokens."""
    admin = {"name": "Automation", "client_secret": ADMIN_JWT[1], "scopes": [],
             "grant_types": ["client_credentials"], "roles": ["consortium_admin"],
             "access_token_format": "jwt", "id_token_signed_response_alg": "ES256"}
    return make_settings(database_url, directories, clients={ADMIN_JWT[0]: admin})


@pytest.fixture
def other_worker(settings: Settings) -> Iterator[Flask]:
    """A second app over the same database stands for another gunicorn worker."""
    app = create_app(settings)
    yield app
    app.extensions["campus_id"].engine.dispose()


def cc_token(browser: FlaskClient, client: tuple[str, str] = SERVICE_JWT) -> str:
    response = client_credentials(browser, client)
    assert response.status_code == 200, response.json
    return str(response.json["access_token"])


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


def stored_access_tokens(app: Flask) -> int:
    with app.extensions["campus_id"].sessions() as db:
        return int(db.scalar(select(func.count()).select_from(AccessToken)) or 0)


def active(browser: FlaskClient, token: str, client: tuple[str, str] = SERVICE_JWT) -> bool:
    response = introspect(browser, client, token)
    assert response.status_code == 200, response.json
    return bool(response.json["active"])


def sql(app: Flask, statement: str, **values: object) -> None:
    with app.extensions["campus_id"].engine.begin() as conn:
        conn.execute(text(statement), values)


def test_cc_jwt_is_not_stored_and_introspects_with_every_field(app: Flask, browser: FlaskClient) -> None:
    before = stored_access_tokens(app)
    token = cc_token(browser)
    assert stored_access_tokens(app) == before
    claims = claims_of(token)
    info = introspect(browser, SERVICE_JWT, token).json
    assert info == {"active": True, "scope": "catalog.read", "client_id": SERVICE_JWT[0],
                    "sub": SERVICE_JWT[0], "iss": ISSUER, "iat": claims["iat"],
                    "token_type": "Bearer", "exp": claims["exp"], "aud": SERVICE_AUDIENCE,
                    "jti": claims["jti"]}
    assert info["exp"] - info["iat"] == 3600 and abs(info["iat"] - time.time()) < 60
    # The same fields as a stored (opaque) service token, and its jti.
    opaque = introspect(browser, SERVICE, cc_token(browser, SERVICE)).json
    assert stored_access_tokens(app) == before + 1
    assert set(info) == set(opaque) | {"jti"}
    for hint in ("access_token", "refresh_token", "something_else"):
        assert introspect(browser, SERVICE_JWT, token, hint=hint).json == info


def test_other_clients_see_it_inactive_and_cannot_revoke_it(app: Flask, browser: FlaskClient) -> None:
    token = cc_token(browser)
    assert introspect(browser, SERVICE, token).json == {"active": False}
    refused = revoke(browser, SERVICE, token)
    assert refused.status_code == 400 and refused.json["error"] == "invalid_grant"
    assert active(browser, token)
    with app.app_context():
        assert not audit.events(context.db(), AuditEventType.TOKEN_REVOKED)


def test_revoked_cc_jwt_is_inactive_in_every_worker(
        app: Flask, browser: FlaskClient, other_worker: Flask) -> None:
    elsewhere = other_worker.test_client()
    token = cc_token(browser)
    keep = cc_token(browser)
    assert active(elsewhere, token)
    assert revoke(browser, SERVICE_JWT, token).status_code == 200
    assert not active(browser, token) and not active(elsewhere, token)
    assert active(browser, keep) and active(elsewhere, keep)
    assert stored_access_tokens(app) == 1
    with app.extensions["campus_id"].sessions() as db:
        row = db.scalars(select(AccessToken)).one()
        claims = claims_of(token)
        assert row.revoked_at is not None and row.jti == claims["jti"] and row.identity_id is None
        assert row.scope == "catalog.read" and int(row.expires_at.timestamp()) == claims["exp"]
        assert int(row.issued_at.timestamp()) == claims["iat"]
    # Again, in either worker: 200, nothing new.
    assert revoke(browser, SERVICE_JWT, token).status_code == 200
    assert revoke(elsewhere, SERVICE_JWT, token).status_code == 200
    with app.app_context():
        (event,) = audit.events(context.db(), AuditEventType.TOKEN_REVOKED)
        assert event.client_id == SERVICE_JWT[0] and event.identity_id is None
        assert event.details == {"kind": "access_token", "jti": claims_of(token)["jti"],
                                 "self_contained": True}


def registered(app: Flask, *, roles: tuple[str, ...] = ()) -> tuple[str, str]:
    """A service client with JWT access tokens registered as ``idp clients create`` does:
    unlike the file's clients, the client management API may disable it."""
    with app.app_context():
        db = context.db()
        new = create_client(db, name="Registered service", grant_types=[GrantType.CLIENT_CREDENTIALS],
                            scopes=[] if roles else ["catalog.read"], roles=roles,
                            access_token_format=AccessTokenFormat.JWT,
                            access_token_audience="" if roles else SERVICE_AUDIENCE)
        db.commit()
    assert new.client_secret is not None
    return new.client_id, new.client_secret


def test_disabling_the_client_ends_its_tokens_for_good(
        app: Flask, browser: FlaskClient, other_worker: Flask) -> None:
    """Through the client management API, itself called with a self-contained token."""
    elsewhere = other_worker.test_client()
    service = registered(app)
    token = cc_token(browser, service)
    admin = {"Authorization": f"Bearer {cc_token(browser, ADMIN_JWT)}"}
    assert browser.get(f"/api/v1/clients/{service[0]}", headers=admin).status_code == 200
    disabled = browser.patch(f"/api/v1/clients/{service[0]}", json={"disabled": True},
                             headers=admin)
    assert disabled.status_code == 200 and disabled.json["disabled"] is True
    assert client_credentials(elsewhere, service).status_code == 401
    enabled = browser.patch(f"/api/v1/clients/{service[0]}", json={"disabled": False},
                            headers=admin)
    assert enabled.status_code == 200 and enabled.json["disabled"] is False
    assert not active(browser, token, service) and not active(elsewhere, token, service)
    fresh = cc_token(elsewhere, service)  # perhaps in the very second of the disabling: stored then
    assert active(browser, fresh, service) and active(elsewhere, fresh, service)
    with app.app_context():
        (event,) = audit.events(context.db(), AuditEventType.CLIENT_DISABLED)
        assert event.details["revoked_access_tokens"] == 0
        client = find_client(context.db(), service[0])
        assert client is not None and client.tokens_revoked_before is not None
        assert event.details["tokens_revoked_before"] == client.tokens_revoked_before.isoformat()


def test_a_disabled_admin_client_s_token_stays_refused(app: Flask, browser: FlaskClient) -> None:
    automation = registered(app, roles=("consortium_admin",))
    token = cc_token(browser, automation)
    admin = {"Authorization": f"Bearer {token}"}
    assert browser.get("/api/v1/clients", headers=admin).status_code == 200
    assert browser.patch(f"/api/v1/clients/{automation[0]}", json={"disabled": True},
                         headers=admin).status_code == 200
    assert browser.get("/api/v1/clients", headers=admin).status_code == 401
    with app.app_context():
        db = context.db()
        client = find_client(db, automation[0])
        assert client is not None
        enable_client(db, client, Actor("test"))
        db.commit()
    assert browser.get("/api/v1/clients", headers=admin).status_code == 401
    renewed = {"Authorization": f"Bearer {cc_token(browser, automation)}"}
    assert browser.get("/api/v1/clients", headers=renewed).status_code == 200


def test_a_deleted_client_s_tokens_are_inactive(app: Flask, browser: FlaskClient) -> None:
    admin_token = cc_token(browser, ADMIN_JWT)
    token = cc_token(browser)
    with app.app_context():
        db = context.db()
        client = find_client(db, SERVICE_JWT[0])
        assert client is not None
        delete_client(db, client, ip=None, actor="test")
        db.commit()
    # The client itself can no longer ask; its token is gone for a client that can.
    assert introspect(browser, SERVICE_JWT, token).status_code == 401
    admin = {"Authorization": f"Bearer {admin_token}"}
    assert browser.get(f"/api/v1/clients/{SERVICE_JWT[0]}", headers=admin).status_code == 404
    with app.app_context():
        db = context.db()
        admin_client = find_client(db, ADMIN_JWT[0])
        assert admin_client is not None
        delete_client(db, admin_client, ip=None, actor="test")
        db.commit()
    assert browser.get("/api/v1/clients", headers=admin).status_code == 401


def set_watermark(app: Flask, client_id: str, moment: datetime) -> None:
    """As ``revoke_client_tokens`` does, through the ORM (every client cache forgets it)."""
    with app.app_context():
        db = context.db()
        client = find_client(db, client_id)
        assert client is not None
        client.tokens_revoked_before = moment
        db.commit()


def test_a_token_of_the_second_of_the_revocation_is_stored_and_lives(
        app: Flask, browser: FlaskClient) -> None:
    """iat has whole seconds: a token of the very second its client's tokens were revoked
    could not be told from one issued before; it is stored instead, and found by digest."""
    time.sleep(1 - time.time() % 1)  # early in a second: the token most likely shares it
    watermark = utcnow()
    set_watermark(app, SERVICE_JWT[0], watermark)
    before = stored_access_tokens(app)
    token = cc_token(browser)
    same_second = claims_of(token)["iat"] == int(watermark.timestamp())
    assert stored_access_tokens(app) - before == (1 if same_second else 0)
    assert active(browser, token)
    set_watermark(app, SERVICE_JWT[0], utcnow() - timedelta(seconds=5))
    before = stored_access_tokens(app)
    later = cc_token(browser)
    assert stored_access_tokens(app) == before and active(browser, later)


def test_forged_tampered_or_foreign_tokens_are_inactive(app: Flask, browser: FlaskClient) -> None:
    token = cc_token(browser)
    header, payload, signature = token.split(".")
    claims = claims_of(token)
    tampered = {**claims, "scope": "catalog.read catalog.write"}
    forged_payload = base64.urlsafe_b64encode(json.dumps(tampered).encode()).rstrip(b"=").decode()
    kid = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]
    alg = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["alg"]
    stranger = generate_key(alg)
    with app.app_context():
        ours = context.services().keyring().key_for(alg)
    assert ours.kid == kid

    def signed(key: Any, extra_header: dict[str, Any] | None = None, **changes: Any) -> str:
        head = {"alg": alg, "typ": "at+jwt", "kid": kid, **(extra_header or {})}
        return jwt.encode(head, {**claims, **changes}, key)

    now = int(time.time())
    bad = {
        "tampered payload": f"{header}.{forged_payload}.{signature}",
        "bad signature": f"{header}.{payload}.{signature[:-6]}AAAAAA",
        "no signature": f"{header}.{payload}.",
        "alg none": base64.urlsafe_b64encode(b'{"alg":"none","typ":"at+jwt"}').rstrip(b"=").decode()
        + f".{payload}.",
        "a stranger's key under our kid": signed(stranger),
        "a stranger's key of its own": signed(stranger, {"kid": str(stranger.kid)}),
        "another issuer": signed(ours, iss="https://elsewhere.example.org"),
        "expired": signed(ours, iat=now - 7200, exp=now - 3600),
        "not an access token (typ)": signed(ours, {"typ": "JWT"}),
        "a person's subject": signed(ours, sub="someone-else"),
        "garbage": "not.a.token",
        "empty parts": "..",
    }
    for name, value in bad.items():
        assert introspect(browser, SERVICE_JWT, value).json == {"active": False}, name
        assert revoke(browser, SERVICE_JWT, value).status_code == 200, name  # unknown: 200
    # Ours, re-signed with our own key: the same token in effect, so active.
    assert active(browser, signed(ours))
    with app.app_context():
        assert not audit.events(context.db(), AuditEventType.TOKEN_REVOKED)
    assert active(browser, token)


def test_a_key_no_longer_published_makes_it_unknown(app: Flask, browser: FlaskClient) -> None:
    token = cc_token(browser)
    with app.test_request_context():
        ring = context.services().keyring()
        kid = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "==="))["kid"]
        published = ring.published
        others = tuple(k for k in published if k.kid != kid)
        found = self_contained(token, issuer=ISSUER, keys=published, find_client=context.client)
        assert found is not None and found.is_active()
        assert self_contained(token, issuer=ISSUER, keys=others, find_client=context.client) is None


def test_a_person_jwt_is_never_taken_as_self_contained(app: Flask, browser: FlaskClient) -> None:
    """A person's JWT access token is stored: without its row (which never happens) it is
    unknown, not a service token; an ID token (typ JWT) is no access token either."""
    result = sign_in(browser, RP2, "demo@tpu.ru", "demo")
    tokens = RP2.token(browser, result["code"]).json
    creds = (RP2.client_id, str(RP2.secret))
    assert active(browser, tokens["access_token"], creds)
    assert introspect(browser, creds, tokens["id_token"]).json == {"active": False}
    sql(app, "DELETE FROM access_tokens")
    assert introspect(browser, creds, tokens["access_token"]).json == {"active": False}
    assert userinfo_status(browser, tokens["access_token"]) == 401


def test_userinfo_refuses_a_cc_jwt(browser: FlaskClient) -> None:
    assert userinfo_status(browser, cc_token(browser)) == 401


def test_a_token_for_a_known_client_is_issued_without_the_database(app: Flask,
                                                                  browser: FlaskClient) -> None:
    """The client's snapshot is in memory after its first request, and the token is not
    stored: the next request neither runs a statement nor takes a connection."""
    from sqlalchemy import event

    cc_token(browser)
    engine = app.extensions["campus_id"].engine
    used: list[str] = []

    def statement(*_: Any) -> None:
        used.append("statement")

    def checkout(*_: Any) -> None:
        used.append("connection")

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine.pool, "checkout", checkout)
    try:
        token = cc_token(browser)
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine.pool, "checkout", checkout)
    assert used == []
    assert active(browser, token)
