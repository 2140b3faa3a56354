"""The helpdesk's lock through the running provider, with real slapd logins: a locked identity
cannot log in (told why, audited), its session and refresh token are ended at once, its
grants end and connectors are told through the outbox; unlocking lets the person in again and
gives the access back. The API's scope, reason and conflict answers."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from idp.storage.audit import AuditEventType
from tests.flows.conftest import RP1
from tests.flows.test_access_follows_login import (  # noqa: F401 (the app fixture)
    access,
    app,
    jobs,
    states,
)
from tests.flows.test_account import events, password
from tests.flows.test_helpdesk_api import HELPDESK, HELPDESK_TPU, OFFLINE, call, token_of
from tests.support.oidc_client import login, sign_in
from tests.support.tokens import refresh


def offline_sign_in(provider: Flask, org: str, username: str) -> tuple[FlaskClient, dict[str, Any]]:
    browser = provider.test_client()
    result = sign_in(browser, RP1, username, password(org, username), organization=org,
                     scope=OFFLINE)
    tokens = RP1.token(browser, result["code"]).json
    return browser, dict(tokens)


def lock(api: FlaskClient, sub: str, change: str = "lock", reason: str | None = "ticket 4711",
         client: tuple[str, str] = HELPDESK) -> Any:
    body = {"reason": reason} if reason is not None else {}
    return call(api, "POST", f"/identities/{sub}/{change}", token_of(api, client), json=body)


def login_page(provider: Flask, org: str, username: str, lang: str = "en") -> Any:
    browser = provider.test_client()
    page = browser.get(f"/login?lang={lang}")
    return login(browser, page, username, password(org, username), org)


def userinfo_status(browser: FlaskClient, access_token: str) -> int:
    return browser.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"}).status_code


def test_a_locked_person_is_logged_out_refused_and_loses_access_until_unlocked(app: Flask) -> None:  # noqa: F811
    browser, tokens = offline_sign_in(app, "tpu", "dvasiliev")
    sub = browser.get("/userinfo", headers={
        "Authorization": f"Bearer {tokens['access_token']}"}).json["sub"]
    api = app.test_client()
    assert browser.get("/account").status_code == 200  # logged in
    granted = len(jobs(app))

    answer = lock(api, sub)
    assert answer.status_code == 200, answer.json
    assert answer.json["locked"]["reason"] == "ticket 4711"
    assert answer.json["locked"]["by"] == "client:helpdesk"
    assert answer.json["sessions_ended"] == 1 and answer.json["refresh_tokens_revoked"] == 1
    assert len(answer.json["jobs"]) == 2

    # Everything the person held ends at once: the session, the refresh and access tokens...
    assert browser.get("/account").status_code == 302
    assert refresh(api, (RP1.client_id, RP1.secret), tokens["refresh_token"]).status_code == 400
    assert userinfo_status(browser, tokens["access_token"]) == 401
    # ... and the grants, without the students' 30 days of grace; connectors hear revokes.
    assert {r: s for r, (s, _) in states(access(api, sub)).items()} == {"gym": "ended",
                                                                        "library": "ended"}
    assert sorted(kind for kind, _r, _c in jobs(app)[granted:]) == ["revoke", "revoke"]
    shown = call(api, "GET", f"/identities/{sub}", token_of(api, HELPDESK)).json
    assert shown["locked"]["reason"] == "ticket 4711"

    # The right password now says why it does not work, in either language.
    refused = login_page(app, "tpu", "dvasiliev")
    assert refused.status_code == 401
    assert "locked by the helpdesk" in refused.get_data(as_text=True)
    refused_ru = login_page(app, "tpu", "dvasiliev", "ru")
    assert "заблокирована службой поддержки" in refused_ru.get_data(as_text=True)
    assert len(events(app, AuditEventType.LOGIN_REFUSED_LOCKED)) == 2
    locked = events(app, AuditEventType.IDENTITY_LOCKED)
    assert [(e.actor, e.details["reason"], e.details["before"], e.details["after"])
            for e in locked] == [("client:helpdesk", "ticket 4711", {"state": "active"},
                                  {"state": "locked"})]
    assert lock(api, sub).status_code == 409  # already locked

    answer = lock(api, sub, "unlock", "identity confirmed in person")
    assert answer.status_code == 200, answer.json
    assert answer.json["locked"] is None and len(answer.json["jobs"]) == 2
    assert {r: s for r, (s, _) in states(access(api, sub)).items()} == {"gym": "active",
                                                                        "library": "active"}
    assert jobs(app)[-2:][0][0] == "grant" and jobs(app)[-1][0] == "grant"
    assert login_page(app, "tpu", "dvasiliev").status_code == 302  # logged in again
    unlocked = events(app, AuditEventType.IDENTITY_UNLOCKED)
    assert unlocked[0].details["before"]["lock_reason"] == "ticket 4711"
    assert lock(api, sub, "unlock").status_code == 409  # not locked


def test_lock_asks_for_a_reason_and_stays_in_the_callers_organization(app: Flask) -> None:  # noqa: F811
    browser, tokens = offline_sign_in(app, "tsu", "ivan.petrov")
    sub = browser.get("/userinfo", headers={
        "Authorization": f"Bearer {tokens['access_token']}"}).json["sub"]
    api = app.test_client()
    assert lock(api, sub, reason=None).status_code == 422
    assert lock(api, sub, reason="  ").status_code == 422
    assert lock(api, sub, client=HELPDESK_TPU).status_code == 403  # a tsu person
    assert lock(api, "no-such-sub").status_code == 404
    assert browser.get("/account").status_code == 200  # nothing happened
    assert not events(app, AuditEventType.IDENTITY_LOCKED)
