"""Relying parties hear of merges and unlinks: Security Event Tokens (RFC 8417) pushed (RFC
8935) to a real HTTP receiver that verifies them against the provider's JWKS, queued with the
change, and retried after the receiver was down."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet
from werkzeug.wrappers import Request, Response

from demo import people
from demo.slapd import SlapdServer
from idp.app import create_app
from idp.oidc.backchannel import deliver
from idp.oidc.events import IdentityEvent
from idp.settings.load import parse_settings
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.base import utcnow
from idp.storage.clients import PAIRWISE_SUBJECT, find_client
from idp.storage.logout import DeliveryKind, LogoutDelivery
from idp.web.session import Signer
from tests.flows.conftest import RP2, make_settings
from tests.flows.test_helpdesk_api import HELPDESK, call, database, helpdesk_clients, log_in, token_of
from tests.support.oidc_client import RelyingParty
from tests.support.receiver import PushReceiver, settled

__all__ = ["database"]  # the fixture, imported for pytest
ISSUER = "https://id.campus.test"
RP1 = RelyingParty("rp1", "https://rp1.example.org/callback", secret="rp1-secret-0123456789")


class Receiver(PushReceiver):
    """An RFC 8935 push endpoint per client: checks the request's form and keeps the tokens."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str]] = []  # (path, token)
        super().__init__()

    def receive(self, request: Request) -> Response:
        if request.mimetype != "application/secevent+jwt":
            return Response('{"err": "invalid_request"}', status=400)
        self.received.append((request.path.strip("/"), request.get_data(as_text=True)))
        return Response(status=202)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def app(database: str, directories: dict[str, SlapdServer], receiver: Receiver) -> Iterator[Flask]:
    """rp1 and rp2 registered an event_delivery_uri in the configuration file."""
    clients = helpdesk_clients()
    for rp in ("rp1", "rp2"):
        clients[rp] = {**clients[rp], "event_delivery_uri": receiver.url(rp)}
    app = create_app(make_settings(database, directories, clients=clients))
    yield app
    settled(app)
    app.extensions["campus_id"].engine.dispose()


@pytest.fixture
def api(app: Flask) -> FlaskClient:
    return app.test_client()


def verified(api: FlaskClient, token: str, audience: str) -> dict[str, Any]:
    """What a receiver checks (RFC 8417 4): signature by a published key, typ, iss, aud."""
    decoded = jwt.decode(token, KeySet.import_key_set(api.get("/jwks").get_json()))
    assert decoded.header["typ"] == "secevent+jwt"
    claims = dict(decoded.claims)
    assert claims["iss"] == ISSUER and claims["aud"] == audience
    assert isinstance(claims["iat"], int) and claims["jti"] and claims["txn"]
    assert "exp" not in claims and "sub" not in claims  # never mistaken for an ID token
    return claims


def test_a_merge_is_told_to_the_relying_parties_of_both_identities(
        app: Flask, api: FlaskClient, receiver: Receiver) -> None:
    sub = log_in(app, "tpu", "vzhukov", rp=RP1)["claims"]["sub"]
    old_sub = log_in(app, "tsu", "viktor.zhukov", rp=RP1)["claims"]["sub"]
    bystander = log_in(app, "tpu", "tgaliev", rp=RP1)["claims"]["sub"]
    token = token_of(api, HELPDESK)

    linked = call(api, "POST", f"/identities/{sub}/accounts", token,
                  json={"account": "tsu:viktor.zhukov", "reason": "ticket 9"})
    assert linked.status_code == 200, linked.json
    settled(app)
    [(path, set_token)] = receiver.received  # rp1 met both; rp2 met neither
    assert path == "rp1"
    claims = verified(api, set_token, "rp1")
    assert claims["events"] == {IdentityEvent.MERGED.value: {"sub": sub, "previous_sub": old_sub}}
    assert bystander not in str(claims)
    with app.extensions["campus_id"].sessions() as db:
        assert len(audit.events(db, AuditEventType.SECURITY_EVENT_DELIVERED)) == 1

    refused = call(api, "POST", f"/identities/{sub}/accounts", token,
                   json={"account": "tsu:viktor.zhukov", "reason": "again"})
    assert refused.status_code == 409
    settled(app)
    assert len(receiver.received) == 1  # a refused change queues nothing


def test_a_receiver_that_was_down_gets_the_unlink_later(
        app: Flask, api: FlaskClient, receiver: Receiver) -> None:
    sub = log_in(app, "tpu", "vzhukov", rp=RP1)["claims"]["sub"]
    log_in(app, "tsu", "viktor.zhukov")
    token = token_of(api, HELPDESK)
    assert call(api, "POST", f"/identities/{sub}/accounts", token,
                json={"account": "tsu:viktor.zhukov", "reason": "ticket 1"}).status_code == 200
    settled(app)
    receiver.received.clear()
    receiver.up = False

    unlinked = call(api, "DELETE", f"/identities/{sub}/accounts/tsu:viktor.zhukov", token,
                    json={"reason": "linked by mistake"})
    assert unlinked.status_code == 200, unlinked.json
    new_sub = unlinked.json["new_identity"]["sub"]
    settled(app)
    assert receiver.received == []
    services = app.extensions["campus_id"]
    with services.sessions() as db:
        [row] = db.query(LogoutDelivery).filter_by(kind=DeliveryKind.SECURITY_EVENT.value,
                                                   delivered_at=None).all()
        assert row.attempts == 1 and row.last_error == "HTTP 503" and row.next_attempt_at
        first_token = row.token
        signer, limits = Signer(ISSUER, services.keyring()), services.settings.outbound
        assert deliver(db, signer, limits=limits) == (0, 0)  # not due yet: nothing is posted early
        row.next_attempt_at = utcnow() - timedelta(seconds=1)
        db.commit()
        receiver.up = True
        assert deliver(db, signer, limits=limits) == (1, 0)
        db.refresh(row)
        assert row.delivered_at is not None and row.next_attempt_at is None and row.attempts == 2
        assert audit.events(db, AuditEventType.SECURITY_EVENT_DELIVERY_FAILED)
        assert deliver(db, signer, limits=limits) == (0, 0)  # delivered once, never again
    [(path, set_token)] = receiver.received
    assert path == "rp1"
    claims = verified(api, set_token, "rp1")
    assert claims["jti"] == verified(api, first_token, "rp1")["jti"]  # the same event, re-signed
    assert claims["events"] == {IdentityEvent.ACCOUNT_UNLINKED.value: {
        "sub": sub, "new_sub": new_sub, "organization": "tsu"}}


def test_a_pairwise_client_hears_the_subjects_it_knows(
        app: Flask, api: FlaskClient, receiver: Receiver) -> None:
    with app.extensions["campus_id"].sessions() as db:
        rp2 = find_client(db, "rp2")
        assert rp2 is not None
        rp2.subject_type, rp2.sector_identifier = PAIRWISE_SUBJECT, "rp2.example.org"
        db.commit()
    sub = log_in(app, "tpu", "vzhukov", rp=RP1)["claims"]["sub"]
    seen_by_rp2 = log_in(app, "tsu", "viktor.zhukov", rp=RP2)["claims"]["sub"]
    token = token_of(api, HELPDESK)
    linked = call(api, "POST", f"/identities/{sub}/accounts", token,
                  json={"account": "tsu:viktor.zhukov", "reason": "ticket 10"})
    assert linked.status_code == 200, linked.json
    settled(app)
    by_client = dict(receiver.received)
    assert sorted(by_client) == ["rp1", "rp2"]
    now_seen_by_rp2 = log_in(app, "tsu", "viktor.zhukov", rp=RP2, consent=None)["claims"]["sub"]
    assert verified(api, by_client["rp2"], "rp2")["events"] == {IdentityEvent.MERGED.value: {
        "sub": now_seen_by_rp2, "previous_sub": seen_by_rp2}}
    assert seen_by_rp2 != linked.json["merged_sub"] and now_seen_by_rp2 != sub  # pairwise
    assert verified(api, by_client["rp1"], "rp1")["events"] == {IdentityEvent.MERGED.value: {
        "sub": sub, "previous_sub": linked.json["merged_sub"]}}


def test_the_event_delivery_uri_follows_the_redirect_uri_rules() -> None:
    clients = helpdesk_clients()
    clients["rp1"] = {**clients["rp1"], "event_delivery_uri": "http://rp1.example.org/events"}
    clients["rp2"] = {**clients["rp2"], "event_delivery_uri": "https://rp2.example.org/events"}
    clients[HELPDESK[0]] = {**clients[HELPDESK[0]], "event_delivery_uri": "https://h.example.org/e"}
    problems: list[str] = []
    parse_settings({"server": {"issuer": ISSUER, "dev_mode": True, "secret_key": "k" * 32},
                    "database": {"url": "sqlite://"},
                    "organizations": {"tpu": people.organization("tpu").config(["ldap://127.0.0.1:1"])},
                    "clients": clients}, problems)
    assert [p for p in problems if "event_delivery_uri" in p] == [
        "clients.rp1.event_delivery_uri: 'http://rp1.example.org/events' must use https "
        "(http only to loopback in dev mode)",
        "clients.helpdesk.event_delivery_uri: only a client of the authorization_code grant "
        "knows people to hear about",
    ]
