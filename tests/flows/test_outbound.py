"""A slow or hostile remote server cannot stall the provider (idp.oidc.outbound): every call to a
client's jwks_uri, sector_identifier_uri or back-channel receiver ends within the
``[outbound]`` deadline however slowly the server drips its answer, holds no database lock
meanwhile (SQLite: one writer at a time), is not repeated at every request, never runs in a
page that a person waits for, never follows a redirect, never reads more than ``max_bytes``,
and never reaches a loopback, private or link-local (cloud metadata) address unless the
operator allows them; every failure answers the same message."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from demo.slapd import SlapdServer
from idp.app import create_app
from idp.oidc.client_keys import UNAVAILABLE
from idp.oidc.key_metadata import SECTOR_UNUSABLE
from idp.oidc.logout import Signer
from idp.storage.base import make_engine
from idp.storage.clients import find_client
from idp.storage.logout import LogoutDelivery
from idp.storage.migrate import upgrade
from tests.flows.conftest import RP1, make_settings
from tests.flows.test_helpdesk_api import HELPDESK, call, helpdesk_clients, log_in, token_of
from tests.support.client_keys import JsonServer, assertion_form, json_server, make_key, public_jwks
from tests.support.dripping import DrippingServer, dripping_server, elapsed
from tests.support.oidc_client import csrf_of, sign_in
from tests.support.receiver import settled
from tests.support.registration import initial_token, register, valid_metadata

ISSUER = "https://id.campus.test"
TIMEOUT_S = 3.0
REDIRECT = "https://library.tpu.example/callback"


def make_app(tmp_path: Path, directories: dict[str, SlapdServer], **outbound: Any) -> Flask:
    """SQLite, where a transaction held across a fetch locks out every other writer."""
    url = f"sqlite:///{tmp_path}/idp.sqlite3"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return create_app(make_settings(url, directories,
                                    outbound={"timeout_s": TIMEOUT_S, **outbound}))


@pytest.fixture
def app(tmp_path: Path, directories: dict[str, SlapdServer]) -> Iterator[Flask]:
    found = make_app(tmp_path, directories)
    yield found
    found.extensions["campus_id"].deliveries.wait_idle(2 * TIMEOUT_S)
    found.extensions["campus_id"].engine.dispose()


@pytest.fixture
def dripping() -> Iterator[DrippingServer]:
    with dripping_server(interval_s=0.5) as server:
        yield server


@pytest.fixture
def documents() -> Iterator[JsonServer]:
    with json_server() as server:
        yield server


def jwt_client(app: Flask, browser: FlaskClient, jwks_uri: str) -> str:
    response = register(browser, initial_token(app), valid_metadata(
        token_endpoint_auth_method="private_key_jwt", redirect_uris=[REDIRECT], jwks_uri=jwks_uri))
    assert response.status_code == 201, response.json
    return str(response.json["client_id"])


def token_request(browser: FlaskClient, client_id: str) -> Any:
    return browser.post("/token", data={"grant_type": "authorization_code", "code": "made-up",
                                        "redirect_uri": REDIRECT,
                                        **assertion_form(make_key(), client_id)})


def pairwise_registration(app: Flask, browser: FlaskClient, sector_uri: str) -> Any:
    return register(browser, initial_token(app), valid_metadata(
        redirect_uris=[REDIRECT], subject_type="pairwise", sector_identifier_uri=sector_uri))


# --- jwks_uri at the token endpoint -------------------------------------------------------

def test_a_dripping_jwks_uri_ends_within_the_deadline_and_logins_go_on_meanwhile(
        app: Flask, dripping: DrippingServer) -> None:
    """The drip would last about a minute (a byte every 0.5 s); the /token request gives up at
    the deadline, and a login made while it waits neither waits for it nor finds the
    database locked: the fetch holds no transaction."""
    client_id = jwt_client(app, app.test_client(), dripping.url("/jwks.json"))
    answers: list[tuple[Any, float]] = []

    def slow_token() -> None:
        started = time.monotonic()
        answers.append((token_request(app.test_client(), client_id), elapsed(started)))

    waiting = threading.Thread(target=slow_token)
    waiting.start()
    deadline = time.monotonic() + 5
    while dripping.hits == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert dripping.hits == 1  # the fetch is under way

    started = time.monotonic()
    result = sign_in(app.test_client(), RP1, "demo", "demo", organization="tpu")
    login_took = elapsed(started)
    assert result["code"]
    assert login_took < TIMEOUT_S  # it did not wait for the fetch...
    assert waiting.is_alive()  # ...which was still under way

    waiting.join(4 * TIMEOUT_S)
    [(response, took)] = answers
    assert response.status_code in (400, 401) and response.json["error"] == "invalid_client"
    assert response.json["error_description"] == UNAVAILABLE
    assert took < TIMEOUT_S + 2  # not the minute the drip would take

    # Remembered: the next requests are refused at once, without asking the server again.
    started = time.monotonic()
    again = token_request(app.test_client(), client_id)
    assert again.json["error_description"] == UNAVAILABLE and elapsed(started) < TIMEOUT_S / 3
    assert dripping.hits == 1


def test_an_oversized_jwks_is_refused(tmp_path: Path, directories: dict[str, SlapdServer],
                                      documents: JsonServer) -> None:
    app = make_app(tmp_path, directories, max_bytes=2048)
    try:
        big = public_jwks(*(make_key("RS256") for _ in range(5)))  # ~2.7 kB
        client_id = jwt_client(app, app.test_client(), documents.serve("/jwks.json", big))
        response = token_request(app.test_client(), client_id)
        assert response.json["error"] == "invalid_client"
        assert response.json["error_description"] == UNAVAILABLE
        assert documents.hits["/jwks.json"] == 1
    finally:
        app.extensions["campus_id"].engine.dispose()


# --- sector_identifier_uri at registration -------------------------------------------------

def test_a_dripping_sector_identifier_uri_is_a_clear_400_within_the_deadline(
        app: Flask, browser: FlaskClient, dripping: DrippingServer) -> None:
    started = time.monotonic()
    response = pairwise_registration(app, browser, dripping.url("/sector.json"))
    assert elapsed(started) < TIMEOUT_S + 2
    assert response.status_code == 400 and response.json["error"] == "invalid_client_metadata"
    assert response.json["error_description"] == f"sector_identifier_uri: {SECTOR_UNUSABLE}"


def test_a_jwks_uri_is_not_fetched_at_registration(app: Flask, browser: FlaskClient,
                                                   dripping: DrippingServer) -> None:
    started = time.monotonic()
    jwt_client(app, browser, dripping.url("/jwks.json"))
    assert elapsed(started) < TIMEOUT_S / 3 and dripping.hits == 0


class Redirecting:
    """Answers every GET with a redirect to ``target``."""

    def __init__(self, target: str) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(302)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


def test_a_redirect_is_not_followed(app: Flask, browser: FlaskClient,
                                    documents: JsonServer) -> None:
    target = documents.serve("/sector.json", [REDIRECT])
    redirecting = Redirecting(target)
    try:
        response = pairwise_registration(app, browser, redirecting.url("/sector.json"))
    finally:
        redirecting.httpd.shutdown()
        redirecting.httpd.server_close()
    assert response.status_code == 400
    assert response.json["error_description"] == f"sector_identifier_uri: {SECTOR_UNUSABLE}"
    assert documents.hits.get("/sector.json") is None
    assert pairwise_registration(app, browser, target).status_code == 201  # served directly: fine


# --- the address filter --------------------------------------------------------------------

def test_private_addresses_are_refused_with_one_message_unless_allowed(
        tmp_path: Path, directories: dict[str, SlapdServer], documents: JsonServer) -> None:
    """Whatever is behind a refused address (a JSON document, a closed port, something that
    is not JSON, the cloud metadata service), the registrant reads the same message and the
    provider connects to nothing."""
    listed = documents.serve("/sector.json", [REDIRECT])
    documents.documents["/html"] = "<html>"
    closed = "http://127.0.0.1:9/sector.json"
    candidates = [listed, closed, documents.url("/html"), documents.url("/missing"),
                  "http://169.254.169.254/latest/meta-data/", "http://[::ffff:127.0.0.1]:9/",
                  "http://10.0.0.1/sector.json", "http://localhost:9/sector.json"]
    (tmp_path / "refused").mkdir()
    app = make_app(tmp_path / "refused", directories, allow_private=False)
    try:
        browser = app.test_client()
        descriptions = set()
        for uri in candidates:
            response = pairwise_registration(app, browser, uri)
            assert response.status_code == 400, uri
            descriptions.add(response.json["error_description"])
        assert descriptions == {f"sector_identifier_uri: {SECTOR_UNUSABLE}"}
        assert documents.hits == {}  # nothing was asked: refused before connecting
        client_id = jwt_client(app, browser, documents.serve("/jwks.json", public_jwks(make_key())))
        assert token_request(browser, client_id).json["error_description"] == UNAVAILABLE
        assert documents.hits == {}
    finally:
        app.extensions["campus_id"].engine.dispose()

    (tmp_path / "allowed").mkdir()
    allowed = make_app(tmp_path / "allowed", directories, allow_private=True)
    try:
        assert pairwise_registration(allowed, allowed.test_client(), listed).status_code == 201
        assert documents.hits == {"/sector.json": 1}
    finally:
        allowed.extensions["campus_id"].engine.dispose()


# --- back-channel logout --------------------------------------------------------------------

def test_logout_answers_at_once_with_a_dripping_receiver_and_the_token_is_retried(
        app: Flask, browser: FlaskClient, dripping: DrippingServer) -> None:
    services = app.extensions["campus_id"]
    with services.sessions() as db:
        client = find_client(db, "rp1")
        assert client is not None
        client.backchannel_logout_uri = dripping.url("/logout")
        db.commit()
    sign_in(browser, RP1, "demo", "demo", organization="tpu")

    started = time.monotonic()
    response = browser.post("/logout", data={"csrf_token": csrf_of(browser.get("/"))})
    assert response.status_code < 400
    assert elapsed(started) < TIMEOUT_S / 3  # the page does not wait for the receiver

    settled(app, 3 * TIMEOUT_S)  # the background attempt gives up at the deadline
    assert dripping.hits == 1
    with services.sessions() as db:
        [row] = db.query(LogoutDelivery).all()
        assert row.attempts == 1 and row.delivered_at is None and row.next_attempt_at
        assert "deadline" in (row.last_error or "") or "timed out" in (row.last_error or "")
        row.next_attempt_at = row.created_at  # due now: the next `idp logout deliver`
        db.commit()
        dripping.interval_s = 0  # the receiver is quick again
        from idp.oidc.logout import deliver
        assert deliver(db, Signer(ISSUER, services.keyring()),
                       limits=services.settings.outbound) == (1, 0)
        [row] = db.query(LogoutDelivery).all()
        assert row.delivered_at is not None


# --- Security Event Tokens ------------------------------------------------------------------

def test_a_merge_answers_at_once_with_a_dripping_event_receiver(
        tmp_path: Path, directories: dict[str, SlapdServer], dripping: DrippingServer) -> None:
    """The helpdesk API links two accounts; rp1's event_delivery_uri drips: the API answers
    without waiting for it, and the Security Event Token waits for its retry."""
    url = f"sqlite:///{tmp_path}/idp.sqlite3"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    clients = helpdesk_clients()
    clients["rp1"] = {**clients["rp1"], "event_delivery_uri": dripping.url("/events")}
    app = create_app(make_settings(url, directories, clients=clients,
                                   outbound={"timeout_s": TIMEOUT_S}))
    try:
        sub = log_in(app, "tpu", "vzhukov")["claims"]["sub"]
        log_in(app, "tsu", "viktor.zhukov")
        api = app.test_client()
        token = token_of(api, HELPDESK)
        started = time.monotonic()
        linked = call(api, "POST", f"/identities/{sub}/accounts", token,
                      json={"account": "tsu:viktor.zhukov", "reason": "ticket 11"})
        assert linked.status_code == 200, linked.json
        assert elapsed(started) < TIMEOUT_S / 3
        settled(app, 3 * TIMEOUT_S)
        assert dripping.hits == 1
        with app.extensions["campus_id"].sessions() as db:
            [row] = db.query(LogoutDelivery).all()
            assert row.kind == "set" and row.attempts == 1 and row.delivered_at is None
            assert row.next_attempt_at is not None
    finally:
        app.extensions["campus_id"].deliveries.wait_idle(2 * TIMEOUT_S)
        app.extensions["campus_id"].engine.dispose()
