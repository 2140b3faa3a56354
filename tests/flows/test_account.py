"""My Campus ID (/account) over full HTTP with real slapd directories: consents and their
revocation, log out everywhere, linking by the person (right and wrong second password,
merging two existing identities), the primary account, proposals, CSRF and the login redirect."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from demo import people
from demo.slapd import SlapdServer
from idp import context
from idp.app import create_app
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.grants import Consent
from idp.storage.identities import Identity, LinkedAccount
from idp.storage.linking import LinkProposal
from idp.storage.logout import LogoutDelivery
from idp.storage.sessions import LoginSession
from tests.flows.conftest import RP1, RP2, client_table, make_settings
from tests.flows.test_logout import Receiver, claims, receiver  # noqa: F401  (fixture)
from tests.support.oidc_client import csrf_of, sign_in
from tests.support.receiver import settled
from tests.support.tokens import refresh, userinfo_status

OFFLINE = "openid profile email offline_access"


def password(org: str, username: str) -> str:
    return people.organization(org).person(username).password


GRIGORIEVA = password("tpu", "pgrigorieva")  # the session account's, asked again at each link
ELKINA = password("tusur", "elkina.av")


def open_account(browser: FlaskClient, org: str, username: str) -> Any:
    """Log in the way a person who typed /account does; returns the /account page."""
    first = browser.get("/account")
    assert first.status_code == 302 and first.headers["Location"] == "/login?next=account"
    form = browser.get(first.headers["Location"])
    assert 'name="next" value="account"' in form.get_data(as_text=True)
    done = browser.post("/login", data={"csrf_token": csrf_of(form), "next": "account",
                                        "organization": org, "username": username,
                                        "password": password(org, username)})
    assert done.status_code == 302 and done.headers["Location"] == "/account"
    page = browser.get("/account")
    assert page.status_code == 200
    return page


def post(browser: FlaskClient, path: str, **data: str) -> Any:
    token = csrf_of(browser.get("/account"))
    return browser.post(path, data={"csrf_token": token, **data})


def link(browser: FlaskClient, org: str, username: str, secret: str | None = None, *,
         current: str, **extra: str) -> Any:
    """The link form: ``current`` is the password of the account the browser is logged in
    with, which every link asks again."""
    return post(browser, "/account/link", current_password=current, organization=org,
                username=username,
                password=secret if secret is not None else password(org, username), **extra)


def sub_at_rp1(app: Flask, org: str, username: str) -> str:
    browser = app.test_client()
    result = sign_in(browser, RP1, username, password(org, username), organization=org)
    tokens = RP1.token(browser, result["code"]).json
    info = browser.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    return str(info.json["sub"])


def rows(app: Flask, model: Any) -> list[Any]:
    with app.app_context():
        return list(context.db().scalars(select(model)).unique())


def events(app: Flask, kind: AuditEventType) -> list[audit.AuditEvent]:
    with app.app_context():
        return audit.events(context.db(), kind)


def test_not_logged_in_goes_to_the_login_page_and_back(browser: FlaskClient) -> None:
    page = open_account(browser, "tpu", "demo").get_data(as_text=True)
    assert 'data-account="tpu:demo"' in page and 'action="/account/logout-everywhere"' in page
    assert browser.post("/login?next=https://evil.example/", data={}).status_code == 400  # no CSRF
    english = browser.get("/account?lang=en").get_data(as_text=True)
    assert "Link another university account" in english and "Services you allowed" in english


def test_forms_without_a_login_session_go_to_the_login_page(browser: FlaskClient, app: Flask) -> None:
    token = csrf_of(browser.get("/login"))
    for path in ("/account/logout-everywhere", "/account/link", "/account/primary",
                 "/account/consents/1/revoke", "/account/proposals/1/reject",
                 "/account/links/1/undo"):
        response = browser.post(path, data={"csrf_token": token, "organization": "tpu",
                                            "username": "demo", "password": "demo"})
        assert response.status_code == 302 and response.headers["Location"] == "/login?next=account"
    assert rows(app, LinkedAccount) == []


def test_the_login_page_follows_no_other_next_than_the_account_page(browser: FlaskClient) -> None:
    form = browser.get("/login?next=https://evil.example/")
    assert 'name="next"' not in form.get_data(as_text=True)
    done = browser.post("/login", data={"csrf_token": csrf_of(form), "next": "https://evil.example/",
                                        "organization": "tpu", "username": "demo",
                                        "password": "demo"})
    assert done.headers["Location"] == "/"


def test_revoking_a_consent_asks_again_and_ends_the_refresh_tokens(
        browser: FlaskClient, app: Flask) -> None:
    result = sign_in(browser, RP1, "demo", "demo", organization="tpu", scope=OFFLINE)
    tokens = RP1.token(browser, result["code"]).json
    page = browser.get("/account").get_data(as_text=True)
    assert 'data-client="rp1"' in page and "Библиотека ТГУ" in page
    [consent] = rows(app, Consent)

    missing_csrf = browser.post(f"/account/consents/{consent.id}/revoke")
    assert missing_csrf.status_code == 400
    assert len(rows(app, Consent)) == 1

    response = post(browser, f"/account/consents/{consent.id}/revoke")
    assert response.status_code == 303 and response.headers["Location"] == "/account?done=revoked"
    assert 'data-client="rp1"' not in browser.get("/account").get_data(as_text=True)
    assert rows(app, Consent) == []
    refused = refresh(browser, ("rp1", RP1.secret), tokens["refresh_token"])
    assert refused.status_code == 400 and refused.json["error"] == "invalid_grant"
    assert userinfo_status(browser, tokens["access_token"]) == 401
    again = browser.get("/authorize", query_string=RP1.params())
    assert again.status_code == 200 and 'value="allow"' in again.get_data(as_text=True)
    [event] = events(app, AuditEventType.CONSENT_REVOKED)
    assert event.client_id == "rp1" and event.details["refresh_tokens"] >= 1


def test_revoking_someone_elses_consent_changes_nothing(browser: FlaskClient, app: Flask) -> None:
    other = app.test_client()
    sign_in(other, RP1, "ikuznetsov", password("tpu", "ikuznetsov"), organization="tpu")
    [theirs] = rows(app, Consent)
    open_account(browser, "tpu", "demo")
    assert post(browser, f"/account/consents/{theirs.id}/revoke").status_code == 404
    assert len(rows(app, Consent)) == 1


def test_log_out_everywhere_ends_every_session_and_tells_every_relying_party(
        app: Flask, receiver: Receiver) -> None:  # noqa: F811
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop, RP1, "demo", "demo", organization="tpu")
    sign_in(phone, RP2, "demo", "demo", organization="tpu")
    assert phone.get("/account").status_code == 200
    assert "2" in laptop.get("/account").get_data(as_text=True)

    assert laptop.post("/account/logout-everywhere").status_code == 400  # no CSRF token
    assert phone.get("/account").status_code == 200

    response = post(laptop, "/account/logout-everywhere")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    for browser in (laptop, phone):
        assert browser.get("/account").headers["Location"] == "/login?next=account"
    assert all(s.ended_at is not None for s in rows(app, LoginSession))
    deliveries = rows(app, LogoutDelivery)
    assert sorted(d.client.client_id for d in deliveries) == ["rp1", "rp2"]
    settled(app)  # posted off the request
    assert len(receiver.tokens) == 2
    assert {claims(laptop, t, "logout+jwt")["aud"] for t in receiver.tokens} == {"rp1", "rp2"}
    assert len(events(app, AuditEventType.LOGOUT_EVERYWHERE)) == 1
    assert len(events(app, AuditEventType.LOGOUT)) == 2


def test_linking_with_the_right_second_password_gives_one_sub(browser: FlaskClient, app: Flask) -> None:
    open_account(browser, "tpu", "pgrigorieva")
    response = link(browser, "tusur", "grigorieva.pa", current=GRIGORIEVA)
    assert response.status_code == 303 and response.headers["Location"] == "/account?done=linked"
    page = browser.get("/account").get_data(as_text=True)
    assert 'data-account="tusur:grigorieva.pa"' in page
    assert sub_at_rp1(app, "tpu", "pgrigorieva") == sub_at_rp1(app, "tusur", "grigorieva.pa")
    [event] = events(app, AuditEventType.ACCOUNT_LINKED)
    assert event.details["evidence"]["method"] == "person"
    assert event.details["evidence"]["accounts"] == ["tpu:pgrigorieva", "tusur:grigorieva.pa"]
    assert len(rows(app, Identity)) == 1
    again = post(browser, "/account/link?lang=en", current_password=GRIGORIEVA,
                 organization="tusur", username="grigorieva.pa",
                 password=password("tusur", "grigorieva.pa"))
    assert again.status_code == 409
    assert "already linked to your Campus ID" in again.get_data(as_text=True)


def test_a_wrong_second_password_links_nothing(browser: FlaskClient, app: Flask) -> None:
    open_account(browser, "tpu", "pgrigorieva")
    response = link(browser, "tusur", "grigorieva.pa", "not-her-password", current=GRIGORIEVA)
    assert response.status_code == 401
    assert "Wrong username or password" in response.get_data(as_text=True) or \
        "Неверный логин или пароль" in response.get_data(as_text=True)
    assert [a.organization for a in rows(app, LinkedAccount)] == ["tpu"]
    assert events(app, AuditEventType.ACCOUNT_LINKED) == []
    [failed] = events(app, AuditEventType.LINK_PROOF_FAILED)
    assert "not-her-password" not in repr(failed.details)
    missing_csrf = browser.post("/account/link", data={
        "organization": "tusur", "username": "grigorieva.pa",
        "password": password("tusur", "grigorieva.pa")})
    assert missing_csrf.status_code == 400
    assert [a.organization for a in rows(app, LinkedAccount)] == ["tpu"]


def test_linking_an_account_with_its_own_identity_merges_into_the_current_one(
        browser: FlaskClient, app: Flask) -> None:
    tusur_sub = sub_at_rp1(app, "tusur", "grigorieva.pa")
    # A browser still logged in with the tusur account holds an ID token carrying the old sub.
    old = app.test_client()
    result = sign_in(old, RP1, "grigorieva.pa", password("tusur", "grigorieva.pa"),
                     organization="tusur")
    old_id_token = RP1.token(old, result["code"]).json["id_token"]
    tpu_sub = sub_at_rp1(app, "tpu", "pgrigorieva")
    assert tusur_sub != tpu_sub

    open_account(browser, "tpu", "pgrigorieva")
    assert link(browser, "tusur", "grigorieva.pa", current=GRIGORIEVA).status_code == 303
    assert sub_at_rp1(app, "tusur", "grigorieva.pa") == tpu_sub  # survivor: the current identity
    [merged] = events(app, AuditEventType.IDENTITY_MERGED)
    assert merged.details["absorbed_sub"] == tusur_sub
    assert merged.details["evidence"]["method"] == "person"

    # RP-initiated logout with the pre-merge hint (old sub, now an alias) ends that session.
    assert old.get("/account").status_code == 200
    response = old.get("/logout", query_string={"id_token_hint": old_id_token})
    assert response.status_code == 200
    assert old.get("/account").status_code == 302


def test_the_person_chooses_the_primary_account(browser: FlaskClient, app: Flask) -> None:
    open_account(browser, "tpu", "pgrigorieva")
    link(browser, "tusur", "grigorieva.pa", current=GRIGORIEVA)
    [tusur] = [a for a in rows(app, LinkedAccount) if a.organization == "tusur"]
    assert post(browser, "/account/primary", account="999999").status_code == 404
    assert browser.post("/account/primary", data={"account": str(tusur.id)}).status_code == 400
    assert events(app, AuditEventType.PRIMARY_ACCOUNT_CHOSEN) == []
    response = post(browser, "/account/primary", account=str(tusur.id))
    assert response.status_code == 303
    rp = app.test_client()
    result = sign_in(rp, RP1, "pgrigorieva", password("tpu", "pgrigorieva"), organization="tpu")
    tokens = RP1.token(rp, result["code"]).json
    info = rp.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).json
    assert info["preferred_username"] == "grigorieva.pa@tusur.ru"
    [event] = events(app, AuditEventType.PRIMARY_ACCOUNT_CHOSEN)
    assert event.details["after"] == "tusur:grigorieva.pa"


@pytest.fixture
def linking_app(migrated_database_url: str, directories: dict[str, SlapdServer]) -> Iterator[Flask]:
    app = create_app(make_settings(migrated_database_url, directories,
                                   linking={"rules": people.LINKING_RULES}))
    yield app
    app.extensions["campus_id"].engine.dispose()


def proposal_between_elkinas(app: Flask) -> LinkProposal:
    sub_at_rp1(app, "tsu", "alena.elkina")
    sub_at_rp1(app, "tusur", "elkina.av")
    [proposal] = rows(app, LinkProposal)
    assert proposal.status == "pending"
    return proposal


def test_a_proposal_is_accepted_by_proving_the_other_password(linking_app: Flask) -> None:
    app = linking_app
    proposal = proposal_between_elkinas(app)
    browser = app.test_client()
    page = open_account(browser, "tusur", "elkina.av").get_data(as_text=True)
    assert f'data-proposal="{proposal.id}"' in page
    assert "alena.elkina" not in page  # the other side's username is not shown before proof

    wrong = link(browser, "tsu", "alena.elkina", "wrong", proposal=str(proposal.id), current=ELKINA)
    assert wrong.status_code == 401
    not_the_one = link(browser, "tpu", "demo", proposal=str(proposal.id), current=ELKINA)
    assert not_the_one.status_code == 409
    [still] = rows(app, LinkProposal)
    assert still.status == "pending"

    accepted = link(browser, "tsu", "alena.elkina", proposal=str(proposal.id), current=ELKINA)
    assert accepted.status_code == 303 and accepted.headers["Location"] == "/account?done=accepted"
    [decided] = rows(app, LinkProposal)
    assert decided.status == "approved"
    assert sub_at_rp1(app, "tsu", "alena.elkina") == sub_at_rp1(app, "tusur", "elkina.av")
    [event] = events(app, AuditEventType.LINK_APPROVED)
    assert event.details["evidence"]["decided_by"] == "person"
    assert f'data-proposal="{proposal.id}"' not in browser.get("/account").get_data(as_text=True)


def test_a_proposal_is_rejected_by_the_person(linking_app: Flask) -> None:
    app = linking_app
    proposal = proposal_between_elkinas(app)
    browser = app.test_client()
    open_account(browser, "tsu", "alena.elkina")
    assert browser.post(f"/account/proposals/{proposal.id}/reject").status_code == 400  # no CSRF
    assert rows(app, LinkProposal)[0].status == "pending"
    response = post(browser, f"/account/proposals/{proposal.id}/reject")
    assert response.status_code == 303
    assert rows(app, LinkProposal)[0].status == "rejected"
    assert sub_at_rp1(app, "tsu", "alena.elkina") != sub_at_rp1(app, "tusur", "elkina.av")
    [event] = events(app, AuditEventType.LINK_REJECTED)
    assert event.actor == "tsu:alena.elkina"
    outsider = app.test_client()
    open_account(outsider, "tpu", "demo")
    assert post(outsider, f"/account/proposals/{proposal.id}/reject").status_code == 404


def test_guessing_the_second_password_is_throttled_like_a_login(browser: FlaskClient, app: Flask) -> None:
    from tests.support.throttle import FakeClock

    app.extensions["campus_id"].throttle.clock = FakeClock()  # no time passes during the test
    open_account(browser, "tpu", "pgrigorieva")
    statuses = [link(browser, "tusur", "grigorieva.pa", f"guess-{n}", current=GRIGORIEVA).status_code
                for n in range(8)]
    assert statuses[0] == 401 and statuses[-1] == 429
    right = link(browser, "tusur", "grigorieva.pa", current=GRIGORIEVA)
    assert right.status_code == 429 and int(right.headers["Retry-After"]) > 0
    assert [a.organization for a in rows(app, LinkedAccount)] == ["tpu"]
    assert events(app, AuditEventType.LOGIN_THROTTLED)


def test_a_merge_through_my_campus_id_is_told_to_relying_parties(
        migrated_database_url: str, directories: dict[str, SlapdServer]) -> None:
    from idp.oidc.events import IdentityEvent
    from tests.flows.test_identity_events import Receiver as EventReceiver
    from tests.flows.test_identity_events import verified

    events_receiver = EventReceiver()
    clients = client_table()
    clients["rp1"] = {**clients["rp1"], "event_delivery_uri": events_receiver.url("rp1")}
    app = create_app(make_settings(migrated_database_url, directories, clients=clients))
    try:
        old_sub = sub_at_rp1(app, "tusur", "grigorieva.pa")
        sub = sub_at_rp1(app, "tpu", "pgrigorieva")
        browser = app.test_client()
        open_account(browser, "tpu", "pgrigorieva")
        assert link(browser, "tusur", "grigorieva.pa", current=GRIGORIEVA).status_code == 303
        settled(app)  # posted off the request
        [(path, token)] = events_receiver.received
        assert path == "rp1"
        told = verified(browser, token, "rp1")
        assert told["events"] == {IdentityEvent.MERGED.value: {"sub": sub, "previous_sub": old_sub}}
    finally:
        events_receiver.close()
        app.extensions["campus_id"].engine.dispose()
