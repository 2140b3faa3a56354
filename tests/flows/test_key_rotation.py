"""Signing key rotation as relying parties see it, with a controlled clock: a new key is in the
JWKS before it signs, signs after the activation delay, the old key keeps validating its tokens
until they have expired and then leaves the JWKS; the running app notices all of it by itself.
Also ID tokens and JWT access tokens signed with EdDSA."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import func, select

from demo.slapd import SlapdServer
from idp.app import create_app
from idp.oidc.key_rotation import KeyRotationError, retention, retire, rotate, settle
from idp.settings import Settings
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.base import make_engine, utcnow
from idp.storage.keys import SigningKey
from tests.flows.conftest import RP2, SECRET_KEY, make_settings
from tests.support.oidc_client import RelyingParty, sign_in

ED = RelyingParty("ed-rp", "https://ed.example.org/callback", secret="ed-rp-secret-0123456789")
DELAY = timedelta(hours=1)


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(migrated_database_url: str, directories: dict[str, SlapdServer]) -> Settings:
    ed = {"name": "Ed25519 RP", "redirect_uris": [ED.redirect_uri], "client_secret": ED.secret,
          "id_token_signed_response_alg": "EdDSA", "access_token_format": "jwt"}
    return make_settings(migrated_database_url, directories, clients={ED.client_id: ed},
                         keys={"activation_delay_s": int(DELAY.total_seconds())})


@pytest.fixture
def app(settings: Settings, clock: Clock) -> Iterator[Flask]:
    app = create_app(settings)
    clock.now = utcnow()  # after the keys made at start
    app.extensions["campus_id"].keys.clock = clock
    yield app
    app.extensions["campus_id"].engine.dispose()


def tokens_of(browser: FlaskClient, rp: RelyingParty) -> dict[str, Any]:
    result = sign_in(browser, rp, "demo", "demo", organization="tpu")
    response = rp.token(browser, result["code"])
    assert response.status_code == 200, response.get_data(as_text=True)
    return dict(response.get_json())


def published(browser: FlaskClient) -> set[str]:
    return {k["kid"] for k in browser.get("/jwks").get_json()["keys"]}


def verified(browser: FlaskClient, token: str, alg: str) -> jwt.Token:
    """What a relying party does: the kid from the header, the key from the JWKS now served."""
    keys = KeySet.import_key_set(browser.get("/jwks").get_json())
    return jwt.decode(token, keys, algorithms=[alg])


def kid_of(token: str) -> str:
    """The kid in a token's header, read before any verification as a relying party does."""
    head = token.split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["kid"])


def rotate_es256(app: Flask, clock: Clock) -> str:
    """Rotate the way `idp keys rotate` does, from outside the running app."""
    services = app.extensions["campus_id"]
    with services.sessions() as db:
        added = rotate(db, SECRET_KEY, ["ES256"], now=clock(), delay=DELAY, actor="test")
        db.commit()
        return added[0].kid


def test_a_rotated_key_is_published_first_signs_later_and_leaves_after_its_tokens_expire(
        app: Flask, clock: Clock, settings: Settings) -> None:
    browser = app.test_client()
    first = tokens_of(browser, RP2)  # RP2 signs with ES256 and gets JWT access tokens
    old_kid = kid_of(first["id_token"])
    new_kid = rotate_es256(app, clock)

    clock.advance(timedelta(seconds=settings.keys.reload_check_s))  # no restart: the app looks
    assert {old_kid, new_kid} <= published(browser)
    before = tokens_of(browser, RP2)
    assert kid_of(before["id_token"]) == old_kid
    assert kid_of(before["access_token"]) == old_kid

    clock.advance(DELAY)
    after = tokens_of(browser, RP2)
    assert kid_of(after["id_token"]) == new_kid
    assert kid_of(after["access_token"]) == new_kid
    assert {old_kid, new_kid} <= published(browser)
    for token in (first["id_token"], before["id_token"], before["access_token"]):
        assert verified(browser, token, "ES256").claims["iss"] == settings.server.issuer

    clock.advance(retention(settings))
    assert old_kid not in published(browser)
    assert new_kid in published(browser)
    assert verified(browser, after["id_token"], "ES256").claims["aud"] == RP2.client_id

    services = app.extensions["campus_id"]
    with services.sessions() as db:
        settled = settle(db, now=clock(), retention=retention(settings), actor="test")
        db.commit()
        assert settled.activated == (new_kid,)
        assert settled.retired == (old_kid,)
        kinds = [(e.type, e.details["kid"]) for e in audit.events(db)
                 if e.type.startswith("key.") and e.details.get("kid") in (old_kid, new_kid)]
    assert (AuditEventType.KEY_ROTATED.value, new_kid) in kinds
    assert (AuditEventType.KEY_ACTIVATED.value, new_kid) in kinds
    assert (AuditEventType.KEY_RETIRED.value, old_kid) in kinds


def test_between_checks_the_app_asks_the_database_nothing(app: Flask, clock: Clock) -> None:
    browser = app.test_client()
    before = published(browser)
    new_kid = rotate_es256(app, clock)
    clock.advance(timedelta(seconds=1))
    assert published(browser) == before  # still the cached ring: no query per request
    clock.advance(timedelta(seconds=10))
    assert published(browser) == before | {new_kid}


def test_eddsa_signs_id_tokens_and_jwt_access_tokens(app: Flask) -> None:
    browser = app.test_client()
    meta = browser.get("/.well-known/openid-configuration").get_json()
    assert "EdDSA" in meta["id_token_signing_alg_values_supported"]
    tokens = tokens_of(browser, ED)
    for name in ("id_token", "access_token"):
        token = verified(browser, tokens[name], "EdDSA")
        assert token.header["alg"] == "EdDSA"
        assert token.claims["iss"] == "https://id.campus.test"
    okp = [k for k in browser.get("/jwks").get_json()["keys"] if k["kty"] == "OKP"]
    assert [(k["crv"], k["alg"]) for k in okp] == [("Ed25519", "EdDSA")]
    assert "d" not in okp[0]


def test_a_second_rotation_before_the_first_activates_is_refused(app: Flask, clock: Clock) -> None:
    rotate_es256(app, clock)
    services = app.extensions["campus_id"]
    with services.sessions() as db:
        count = db.scalar(select(func.count(SigningKey.id)))
        with pytest.raises(KeyRotationError, match=r"ES256 already has key .* waiting to activate"):
            rotate(db, SECRET_KEY, ["RS256", "ES256"], now=clock(), delay=DELAY, actor="test")
        db.rollback()
        assert db.scalar(select(func.count(SigningKey.id))) == count


def test_the_signing_key_cannot_be_retired_and_a_replaced_one_only_by_force(
        app: Flask, clock: Clock, settings: Settings) -> None:
    browser = app.test_client()
    old_kid = kid_of(tokens_of(browser, RP2)["id_token"])
    services = app.extensions["campus_id"]
    keep = retention(settings)
    with services.sessions() as db:
        with pytest.raises(KeyRotationError, match="signs ES256 tokens now"):
            retire(db, old_kid, now=clock(), retention=keep, actor="test")
        with pytest.raises(KeyRotationError, match="no signing key nope"):
            retire(db, "nope", now=clock(), retention=keep, actor="test")
    new_kid = rotate_es256(app, clock)
    clock.advance(DELAY)
    with services.sessions() as db:
        with pytest.raises(KeyRotationError, match="--force retires it anyway"):
            retire(db, old_kid, now=clock(), retention=keep, actor="test")
        retire(db, old_kid, now=clock(), retention=keep, actor="test", force=True)
        db.commit()
    clock.advance(timedelta(seconds=10))
    assert old_kid not in published(browser)
    assert kid_of(tokens_of(browser, RP2)["id_token"]) == new_kid


def test_jwks_may_be_cached_for_less_than_the_activation_delay(app: Flask, settings: Settings) -> None:
    response = app.test_client().get("/jwks")
    assert response.cache_control.max_age is not None
    assert response.cache_control.max_age < settings.keys.activation_delay_s


def test_a_failed_check_keeps_the_current_keys(app: Flask, clock: Clock,
                                               caplog: pytest.LogCaptureFixture) -> None:
    """The database gone for a moment: tokens are still signed and JWKS still served."""
    browser = app.test_client()
    before = published(browser)
    live = app.extensions["campus_id"].keys
    working = live.engine
    live.engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    try:
        clock.advance(timedelta(seconds=10))
        with caplog.at_level("WARNING", logger="idp.oidc.live_keys"):
            assert live.current().jwks_body == live.current().jwks_body
            assert {k.kid for k in live.current().published} == before
        assert "could not check for changes" in caplog.text
    finally:
        live.engine.dispose()
        live.engine = working
    new_kid = rotate_es256(app, clock)
    clock.advance(timedelta(seconds=10))
    assert published(browser) == before | {new_kid}


def test_an_id_token_of_the_replaced_key_still_works_as_logout_hint(
        app: Flask, clock: Clock, settings: Settings) -> None:
    """Relying parties keep the ID token for the session and send it back at logout, hours
    later: the replaced key stays published that long."""
    browser = app.test_client()
    hint = tokens_of(browser, RP2)["id_token"]
    new_kid = rotate_es256(app, clock)
    clock.advance(DELAY + timedelta(seconds=settings.server.session_lifetime_s // 2))
    assert kid_of(tokens_of(browser, RP2)["id_token"]) == new_kid
    response = browser.get("/logout", query_string={
        "id_token_hint": hint, "post_logout_redirect_uri": "https://rp2.example.org/bye",
        "state": "after-rotation"})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    assert response.headers["Location"] == "https://rp2.example.org/bye?state=after-rotation"
