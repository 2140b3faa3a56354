"""My Campus ID: privilege must not travel through linking. The session alone, however young,
never links (every link asks again for the password of the account the session was opened
with); every link of the identity is listed with when and how it was made; "this was not me"
undoes a link of the last 30 days made after the signed-in account, never that account
itself. Full HTTP with real slapd directories, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from demo.slapd import SlapdServer
from idp.app import create_app
from idp.linking import actions
from idp.oidc.events import IdentityEvent
from idp.storage.audit import AuditEventType
from idp.storage.base import utcnow
from idp.storage.identities import LinkedAccount
from idp.storage.logout import DeliveryKind, LogoutDelivery
from idp.web.session import Signer
from tests.flows.conftest import RP1, client_table, make_settings
from tests.flows.test_account import (
    ELKINA,
    GRIGORIEVA,
    OFFLINE,
    events,
    link,
    linking_app,
    open_account,
    password,
    post,
    proposal_between_elkinas,
    rows,
    sub_at_rp1,
)
from tests.flows.test_identity_events import verified
from tests.support.oidc_client import sign_in
from tests.support.tokens import refresh, userinfo_status

__all__ = ["linking_app"]  # the fixture, imported for pytest

VICTIM = ("tpu", "pgrigorieva")
OTHER = ("tusur", "grigorieva.pa")  # stands for an account someone else controls


def accounts_of(app: Flask, org: str, username: str) -> list[str]:
    """The accounts on the identity of org:username."""
    with app.extensions["campus_id"].sessions() as db:
        account = db.scalars(select(LinkedAccount).filter_by(organization=org,
                                                             username=username)).one()
        return sorted(f"{a.organization}:{a.username}" for a in account.identity.accounts)


def account_id(app: Flask, org: str, username: str) -> int:
    with app.extensions["campus_id"].sessions() as db:
        return db.scalars(select(LinkedAccount.id).filter_by(organization=org,
                                                             username=username)).one()


def linked_days_ago(app: Flask, org: str, username: str, days: float) -> None:
    with app.extensions["campus_id"].sessions() as db:
        db.execute(update(LinkedAccount).filter_by(organization=org, username=username)
                   .values(linked_at=utcnow() - timedelta(days=days)))
        db.commit()


def undo(browser: FlaskClient, org: str, username: str, app: Flask) -> object:
    return post(browser, f"/account/links/{account_id(app, org, username)}/undo")


def test_the_session_alone_never_links(browser: FlaskClient, app: Flask) -> None:
    other_sub = sub_at_rp1(app, *OTHER)  # an identity of its own: a link would merge it
    page = open_account(browser, *VICTIM).get_data(as_text=True)  # a session a second old
    assert 'name="current_password"' in page and "tpu:pgrigorieva" in page

    no_password = link(browser, *OTHER, current="")
    assert no_password.status_code == 400
    wrong = link(browser, *OTHER, current="not-her-password")
    assert wrong.status_code == 401
    english = post(browser, "/account/link?lang=en", current_password="not-her-password",
                   organization="tusur", username="grigorieva.pa", password=password(*OTHER))
    assert english.status_code == 401
    assert "The password of the account you are logged in with is wrong." in english.get_data(as_text=True)
    # Her own password given as the other account's does not help either.
    swapped = post(browser, "/account/link", current_password=password(*OTHER),
                   organization="tusur", username="grigorieva.pa", password=GRIGORIEVA)
    assert swapped.status_code == 401

    assert accounts_of(app, *VICTIM) == ["tpu:pgrigorieva"]
    assert sub_at_rp1(app, *OTHER) == other_sub
    assert events(app, AuditEventType.ACCOUNT_LINKED) == []
    assert events(app, AuditEventType.IDENTITY_MERGED) == []
    failed = events(app, AuditEventType.LINK_REAUTH_FAILED)
    assert [e.details["reason"] for e in failed] == ["no password", "invalid_credentials",
                                                     "invalid_credentials", "invalid_credentials"]
    assert {e.actor for e in failed} == {"tpu:pgrigorieva"} and all(e.identity_id for e in failed)
    assert "not-her-password" not in repr([e.details for e in failed])
    # The check was the login's own, against her account's directory; the other account's
    # password was never tried.
    assert len([e for e in events(app, AuditEventType.LOGIN_FAILED) if e.organization == "tpu"]) == 3
    assert events(app, AuditEventType.LINK_PROOF_FAILED) == []


def test_the_right_current_password_links(browser: FlaskClient, app: Flask) -> None:
    open_account(browser, *VICTIM)
    response = link(browser, *OTHER, current=GRIGORIEVA)
    assert response.status_code == 303 and response.headers["Location"] == "/account?done=linked"
    assert accounts_of(app, *VICTIM) == ["tpu:pgrigorieva", "tusur:grigorieva.pa"]
    assert events(app, AuditEventType.LINK_REAUTH_FAILED) == []


def test_guessing_the_current_password_is_throttled_like_a_login(
        browser: FlaskClient, app: Flask) -> None:
    from tests.support.throttle import FakeClock

    app.extensions["campus_id"].throttle.clock = FakeClock()  # no time passes during the test
    open_account(browser, *VICTIM)
    statuses = [link(browser, *OTHER, current=f"guess-{n}").status_code for n in range(8)]
    assert statuses[0] == 401 and statuses[-1] == 429
    right = link(browser, *OTHER, current=GRIGORIEVA)
    assert right.status_code == 429 and int(right.headers["Retry-After"]) > 0
    assert accounts_of(app, *VICTIM) == ["tpu:pgrigorieva"]
    assert events(app, AuditEventType.LINK_REAUTH_FAILED)[-1].details["reason"] == "throttled"


def test_accepting_a_proposal_needs_the_current_password(linking_app: Flask) -> None:
    app = linking_app
    proposal = proposal_between_elkinas(app)
    browser = app.test_client()
    open_account(browser, "tusur", "elkina.av")  # an Active-Directory-like directory
    for current in ("", "wrong"):
        refused = link(browser, "tsu", "alena.elkina", proposal=str(proposal.id), current=current)
        assert refused.status_code in (400, 401)
    assert rows(app, type(proposal))[0].status == "pending"
    assert len(events(app, AuditEventType.LINK_REAUTH_FAILED)) == 2
    accepted = link(browser, "tsu", "alena.elkina", proposal=str(proposal.id), current=ELKINA)
    assert accepted.status_code == 303
    assert rows(app, type(proposal))[0].status == "approved"
    page = browser.get("/account").get_data(as_text=True)
    # Her account joined the other identity (the proposal's candidate): it is the newer link.
    assert 'data-account="tusur:elkina.av" data-how="person"' in page
    assert 'data-account="tsu:alena.elkina" data-how="first_login"' in page


def test_every_link_is_listed_with_when_and_how(linking_app: Flask) -> None:
    app = linking_app
    sub_at_rp1(app, "tpu", "asmirnova")
    sub_at_rp1(app, "tsu", "anna.smirnova")  # same SNILS: linked by the rule "snils"
    sub_at_rp1(app, "tsu", "ivan.petrov")
    services = app.extensions["campus_id"]
    with services.sessions() as db:
        identity = db.scalars(select(LinkedAccount).filter_by(username="asmirnova")).one().identity
        actions.link(db, Signer("https://id.campus.test", services.keyring()), identity,
                     "tsu:ivan.petrov", reason="ticket 7", actor="cli:helpdesk",
                     settings=services.settings)
        db.commit()
    browser = app.test_client()
    open_account(browser, "tpu", "asmirnova")
    assert link(browser, "tusur", "elkina.av",
                current=password("tpu", "asmirnova")).status_code == 303

    page = browser.get("/account?lang=en").get_data(as_text=True)
    today = utcnow().strftime("%Y-%m-%d")
    for account, how in (("tpu:asmirnova", "first_login"), ("tsu:anna.smirnova", "rule"),
                         ("tsu:ivan.petrov", "staff"), ("tusur:elkina.av", "person")):
        assert f'data-account="{account}" data-how="{how}"' in page
    assert "Your Campus ID was created at this account&#39;s first login, " + today in page
    assert "Linked automatically by the rule “snils”, " + today in page
    assert "Linked by the helpdesk, " + today in page
    assert "Linked on My Campus ID with the passwords of both accounts, " + today in page
    assert page.count("/undo") == 3  # every link but the account she is logged in with
    russian = browser.get("/account?lang=ru").get_data(as_text=True)
    assert "Связана автоматически по правилу «snils»" in russian and "Это не я" in russian


@pytest.fixture
def told_app(migrated_database_url: str, directories: dict[str, SlapdServer]) -> Iterator[Flask]:
    """rp1 registered an ``event_delivery_uri`` (nobody listens: the queued tokens are read)."""
    clients = client_table()
    clients["rp1"] = {**clients["rp1"], "event_delivery_uri": "https://rp1.example.org/events"}
    app = create_app(make_settings(migrated_database_url, directories, clients=clients))
    yield app
    app.extensions["campus_id"].engine.dispose()


def test_this_was_not_me_undoes_a_recent_link(told_app: Flask) -> None:
    app = told_app
    victim_sub = sub_at_rp1(app, *VICTIM)
    other_sub = sub_at_rp1(app, *OTHER)
    intruder = app.test_client()
    open_account(intruder, *OTHER)  # a session of the other account, on its own browser
    browser = app.test_client()
    open_account(browser, *VICTIM)
    assert link(browser, *OTHER, current=GRIGORIEVA).status_code == 303
    page = browser.get("/account").get_data(as_text=True)
    assert page.count("/undo") == 1 and f'action="/account/links/{account_id(app, *OTHER)}/undo"' in page

    assert browser.post(f"/account/links/{account_id(app, *OTHER)}/undo").status_code == 400  # CSRF
    assert accounts_of(app, *VICTIM) == ["tpu:pgrigorieva", "tusur:grigorieva.pa"]

    response = undo(browser, *OTHER, app)
    assert response.status_code == 303 and response.headers["Location"] == "/account?done=undone"
    assert "data-account=\"tusur:grigorieva.pa\"" not in browser.get("/account").get_data(as_text=True)
    assert accounts_of(app, *VICTIM) == ["tpu:pgrigorieva"]
    assert accounts_of(app, *OTHER) == ["tusur:grigorieva.pa"]
    new_sub = sub_at_rp1(app, *OTHER)
    assert new_sub not in (victim_sub, other_sub)  # a new identity, as an unlink gives
    assert sub_at_rp1(app, *VICTIM) == victim_sub
    # The other account's session left with it: it no longer shows her accounts.
    theirs = intruder.get("/account").get_data(as_text=True)
    assert 'data-account="tpu:pgrigorieva"' not in theirs
    assert 'data-account="tusur:grigorieva.pa" data-how="unlink"' in theirs

    [event] = events(app, AuditEventType.ACCOUNT_UNLINKED)
    assert event.actor == "tpu:pgrigorieva" and event.details["new_sub"] == new_sub
    assert event.details["evidence"]["method"] == "person"
    assert event.details["evidence"]["undone"] == "not_me"
    assert event.details["evidence"]["how"] == "person"
    with app.extensions["campus_id"].sessions() as db:
        [told] = db.scalars(select(LogoutDelivery).filter_by(
            kind=DeliveryKind.SECURITY_EVENT.value).order_by(LogoutDelivery.id.desc()).limit(1))
        claims = verified(app.test_client(), told.token, "rp1")
    assert claims["events"] == {IdentityEvent.ACCOUNT_UNLINKED.value: {
        "sub": victim_sub, "new_sub": new_sub, "organization": "tusur"}}


def test_a_link_older_than_30_days_is_not_undone(browser: FlaskClient, app: Flask) -> None:
    open_account(browser, *VICTIM)
    assert link(browser, *OTHER, current=GRIGORIEVA).status_code == 303
    linked_days_ago(app, *VICTIM, 400)  # her own account: a first login long ago
    linked_days_ago(app, *OTHER, 29)
    assert "/undo" in browser.get("/account").get_data(as_text=True)
    linked_days_ago(app, *OTHER, 31)
    assert "/undo" not in browser.get("/account").get_data(as_text=True)
    refused = undo(browser, *OTHER, app)
    assert refused.status_code == 403
    assert accounts_of(app, *VICTIM) == ["tpu:pgrigorieva", "tusur:grigorieva.pa"]
    assert events(app, AuditEventType.ACCOUNT_UNLINKED) == []
    [event] = events(app, AuditEventType.LINK_UNDO_REFUSED)
    assert event.details == {"account": "tusur:grigorieva.pa",
                             "reason": "linked more than 30 days ago"}


def test_the_signed_in_account_and_earlier_ones_cannot_be_pushed_out(
        browser: FlaskClient, app: Flask) -> None:
    victim_sub = sub_at_rp1(app, *VICTIM)
    open_account(browser, *VICTIM)
    assert link(browser, "tsu", "ivan.petrov", current=GRIGORIEVA).status_code == 303
    assert link(browser, *OTHER, current=GRIGORIEVA).status_code == 303  # linked last
    everyone = ["tpu:pgrigorieva", "tsu:ivan.petrov", "tusur:grigorieva.pa"]

    latecomer = app.test_client()  # signed in with the account linked last
    page = open_account(latecomer, *OTHER).get_data(as_text=True)
    assert "/undo" not in page
    for target, why in ((OTHER, "the signed-in account"),
                        (VICTIM, "not a link (first_login)"),
                        (("tsu", "ivan.petrov"), "linked before the signed-in account")):
        assert undo(latecomer, *target, app).status_code == 403
        assert events(app, AuditEventType.LINK_UNDO_REFUSED)[-1].details["reason"] == why
    assert accounts_of(app, *VICTIM) == everyone
    assert sub_at_rp1(app, *VICTIM) == victim_sub

    # Someone else's identity: not found, nothing changes.
    stranger = app.test_client()
    open_account(stranger, "tpu", "demo")
    assert undo(stranger, *OTHER, app).status_code == 404
    # She, signed in with her first account, may undo both later links.
    assert browser.get("/account").get_data(as_text=True).count("/undo") == 2
    assert undo(browser, "tsu", "ivan.petrov", app).status_code == 303
    assert accounts_of(app, *VICTIM) == ["tpu:pgrigorieva", "tusur:grigorieva.pa"]


def test_this_was_not_me_ends_what_the_pushed_out_account_got_meanwhile(
        browser: FlaskClient, app: Flask) -> None:
    """Tokens a relying party got through the other account's sessions while it was on her
    identity carry her sub and her data: they end with the link; hers stay."""
    open_account(browser, *VICTIM)
    assert link(browser, *OTHER, current=GRIGORIEVA).status_code == 303
    hers = app.test_client()
    mine = RP1.token(hers, sign_in(hers, RP1, VICTIM[1], GRIGORIEVA, organization="tpu",
                                   scope=OFFLINE)["code"]).json
    intruder = app.test_client()
    theirs = RP1.token(intruder, sign_in(intruder, RP1, OTHER[1], password(*OTHER),
                                         organization="tusur", scope=OFFLINE)["code"]).json
    bearer = {"Authorization": f"Bearer {theirs['access_token']}"}
    victim_sub = intruder.get("/userinfo", headers=bearer).json["sub"]
    assert victim_sub == hers.get("/userinfo", headers={
        "Authorization": f"Bearer {mine['access_token']}"}).json["sub"]

    assert undo(browser, *OTHER, app).status_code == 303
    refused = refresh(intruder, ("rp1", RP1.secret), theirs["refresh_token"])
    assert refused.status_code == 400 and refused.json["error"] == "invalid_grant"
    assert userinfo_status(intruder, theirs["access_token"]) == 401
    assert userinfo_status(hers, mine["access_token"]) == 200
    assert refresh(hers, ("rp1", RP1.secret), mine["refresh_token"]).status_code == 200
    [event] = events(app, AuditEventType.ACCOUNT_UNLINKED)
    assert event.details["revoked_refresh_tokens"] == 1 and event.details["revoked_access_tokens"] == 1
