"""RP-Initiated Logout 1.0 and Back-Channel Logout 1.0: the end-session endpoint, and logout
tokens delivered to a real HTTP receiver (and retried when it was down)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet
from werkzeug.wrappers import Request, Response

from idp.oidc.logout import EVENT
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.clients import find_client
from idp.storage.logout import LogoutDelivery
from tests.flows.conftest import RP1, RP1_LOGGED_OUT, RP2
from tests.support.oidc_client import csrf_of, sign_in
from tests.support.receiver import PushReceiver, settled

ISSUER = "https://id.campus.test"


class Receiver(PushReceiver):
    """A back-channel logout endpoint."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        super().__init__()

    def receive(self, request: Request) -> Response:
        self.tokens.append(request.form["logout_token"])
        return Response(status=200, headers={"Cache-Control": "no-store"})


@pytest.fixture
def receiver(app: Flask) -> Iterator[Receiver]:
    found = Receiver()
    services = app.extensions["campus_id"]
    with services.sessions() as db:
        for client_id in ("rp1", "rp2"):
            client = find_client(db, client_id)
            assert client is not None
            client.backchannel_logout_uri = found.url(client_id)
        db.commit()
    yield found
    found.close()


def id_token_of(browser: FlaskClient, rp: Any, username: str = "demo", password: str = "demo",
                organization: str = "tpu") -> str:
    result = sign_in(browser, rp, username, password, organization=organization)
    token = rp.token(browser, result["code"]).get_json()
    return str(token["id_token"])


def claims(browser: FlaskClient, token: str, typ: str = "JWT") -> dict[str, Any]:
    keys = KeySet.import_key_set(browser.get("/jwks").get_json())
    decoded = jwt.decode(token, keys)
    assert decoded.header["typ"] == typ
    return dict(decoded.claims)


def session_alive(browser: FlaskClient) -> bool:
    response = browser.get("/authorize", query_string=RP1.params(prompt="none"))
    location = response.headers.get("Location", "")
    return "code=" in location and "error=" not in location


def test_discovery_advertises_logout(browser: FlaskClient) -> None:
    meta = browser.get("/.well-known/openid-configuration").get_json()
    assert meta["end_session_endpoint"] == f"{ISSUER}/logout"
    assert meta["backchannel_logout_supported"] is True
    assert meta["backchannel_logout_session_supported"] is True
    assert "frontchannel_logout_supported" not in meta


def test_logout_with_hint_redirects_with_state_and_ends_the_session(browser: FlaskClient) -> None:
    hint = id_token_of(browser, RP1)
    sid = claims(browser, hint)["sid"]
    assert sid and sid != browser.get_cookie("session")
    assert session_alive(browser)
    response = browser.get("/logout", query_string={
        "id_token_hint": hint, "post_logout_redirect_uri": RP1_LOGGED_OUT, "state": "xyz 1"})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(RP1_LOGGED_OUT + "?")
    assert parse_qs(urlsplit(location).query) == {"state": ["xyz 1"]}
    response = browser.get("/authorize", query_string=RP1.params(prompt="none"))
    assert "error=login_required" in response.headers["Location"]


def test_the_sid_is_stable_for_the_session_and_shared_by_its_clients(browser: FlaskClient) -> None:
    first = claims(browser, id_token_of(browser, RP1))
    second = claims(browser, id_token_of(browser, RP2, "", ""))
    assert first["sid"] == second["sid"]
    assert claims(browser, id_token_of(browser, RP1, "", ""))["sid"] == first["sid"]


@pytest.mark.parametrize("uri", [
    "https://evil.example.org/logged-out",
    RP1_LOGGED_OUT + "/",
    RP1_LOGGED_OUT + "?x=1",
    RP1_LOGGED_OUT.upper(),
    "https://rp2.example.org/bye",  # registered, but for another client
])
def test_an_unregistered_redirect_uri_is_refused_and_the_session_lives(browser: FlaskClient,
                                                                       uri: str) -> None:
    hint = id_token_of(browser, RP1)
    response = browser.get("/logout", query_string={"id_token_hint": hint,
                                                    "post_logout_redirect_uri": uri})
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert session_alive(browser)


def test_a_hint_from_elsewhere_is_refused(browser: FlaskClient) -> None:
    id_token_of(browser, RP1)
    forged = jwt.encode({"alg": "HS256"}, {"iss": ISSUER, "sub": "x", "aud": "rp1"}, _oct())
    response = browser.get("/logout", query_string={"id_token_hint": forged})
    assert response.status_code == 400
    assert session_alive(browser)


def _oct() -> Any:
    from joserfc.jwk import OctKey

    return OctKey.import_key("k" * 32)


def test_without_a_hint_the_person_confirms_with_a_csrf_protected_form(browser: FlaskClient) -> None:
    id_token_of(browser, RP1)
    page = browser.get("/logout", query_string={"client_id": "rp1",
                                                "post_logout_redirect_uri": RP1_LOGGED_OUT,
                                                "state": "s1", "ui_locales": "en"})
    assert page.status_code == 200
    assert "Log out of Campus ID?" in page.get_data(as_text=True)
    assert session_alive(browser)
    # A cross-site POST without the form token only gets the form again...
    forged = browser.post("/logout", data={"client_id": "rp1"})
    assert forged.status_code == 200 and session_alive(browser)
    # ...and a wrong token is refused.
    assert browser.post("/logout", data={"csrf_token": "nope"}).status_code == 400
    assert session_alive(browser)
    done = browser.post("/logout", data={"csrf_token": csrf_of(page), "client_id": "rp1",
                                         "post_logout_redirect_uri": RP1_LOGGED_OUT, "state": "s1"})
    assert done.status_code == 302
    assert done.headers["Location"] == RP1_LOGGED_OUT + "?state=s1"
    assert not session_alive(browser)


def test_without_a_redirect_uri_a_logged_out_page_in_the_asked_language(browser: FlaskClient) -> None:
    hint = id_token_of(browser, RP1)
    page = browser.get("/logout", query_string={"id_token_hint": hint, "ui_locales": "ru en"})
    assert page.status_code == 200
    assert "Вы вышли из системы" in page.get_data(as_text=True)


def _validate_logout_token(browser: FlaskClient, token: str, client_id: str, sid: str,
                           sub: str) -> dict[str, Any]:
    found = claims(browser, token, typ="logout+jwt")
    assert found["iss"] == ISSUER and found["aud"] == client_id
    assert found["sid"] == sid and found["sub"] == sub
    assert found["events"] == {EVENT: {}}
    assert "nonce" not in found
    assert found["jti"] and found["exp"] > found["iat"]
    return found


def test_backchannel_logout_reaches_every_client_of_the_session(
        app: Flask, browser: FlaskClient, receiver: Receiver) -> None:
    first = claims(browser, id_token_of(browser, RP1))
    second = claims(browser, id_token_of(browser, RP2, "", ""))
    other = app.test_client()  # the same person in another browser: not affected
    id_token_of(other, RP1)
    browser.post("/logout", data={"csrf_token": csrf_of(browser.get("/"))})
    settled(app)
    assert len(receiver.tokens) == 2
    by_aud = {claims(browser, t, typ="logout+jwt")["aud"]: t for t in receiver.tokens}
    one = _validate_logout_token(browser, by_aud["rp1"], "rp1", first["sid"], first["sub"])
    two = _validate_logout_token(browser, by_aud["rp2"], "rp2", second["sid"], second["sub"])
    assert one["jti"] != two["jti"]
    assert jwt.decode(by_aud["rp2"], KeySet.import_key_set(browser.get("/jwks").get_json())) \
        .header["alg"] == "ES256"
    assert session_alive(other) and not session_alive(browser)
    with app.extensions["campus_id"].sessions() as db:
        assert len(audit.events(db, AuditEventType.LOGOUT_DELIVERED)) == 2


def test_a_receiver_that_was_down_gets_the_token_later(
        app: Flask, browser: FlaskClient, receiver: Receiver) -> None:
    from idp.oidc.logout import deliver
    from idp.web.session import Signer

    hint = id_token_of(browser, RP1)
    sid = claims(browser, hint)["sid"]
    receiver.up = False
    browser.get("/logout", query_string={"id_token_hint": hint})
    settled(app)
    assert receiver.tokens == []
    services = app.extensions["campus_id"]
    with services.sessions() as db:
        [row] = db.query(LogoutDelivery).all()
        assert row.attempts == 1 and row.delivered_at is None and row.last_error == "HTTP 503"
        row.next_attempt_at = row.created_at  # due now
        db.commit()
        receiver.up = True
        assert deliver(db, Signer(ISSUER, services.keyring()),
                       limits=services.settings.outbound) == (1, 0)
        [row] = db.query(LogoutDelivery).all()
        assert row.delivered_at is not None and row.next_attempt_at is None
        assert audit.events(db, AuditEventType.LOGOUT_DELIVERY_FAILED)
    [token] = receiver.tokens
    _validate_logout_token(browser, token, "rp1", sid, claims(browser, hint)["sub"])


def test_backchannel_logout_revokes_the_clients_refresh_tokens(
        browser: FlaskClient, receiver: Receiver) -> None:
    result = sign_in(browser, RP1, "demo", "demo", organization="tpu",
                     scope="openid offline_access")
    tokens = RP1.token(browser, result["code"]).get_json()
    browser.get("/logout", query_string={"id_token_hint": tokens["id_token"]})
    refreshed = browser.post("/token", data={"grant_type": "refresh_token",
                                             "refresh_token": tokens["refresh_token"]},
                             auth=(RP1.client_id, RP1.secret))
    assert refreshed.status_code == 400
