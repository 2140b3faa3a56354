"""The helpdesk console over Flask's test client, with real slapd logins: staff sign in as for
/admin, find a person, read the person's page, lock with a previewed change and a required
reason (the person then cannot log in), unlock; approve and reject proposals, unlink, log out
everywhere; a helpdesk:tsu member never learns that a tpu-only person exists (404) and may not
change another organization's; a person without a helpdesk role is refused; every form needs
its CSRF token; the sign-in lasts [helpdesk] session_minutes."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from flask import Flask
from flask.testing import FlaskClient

from demo import people
from demo.slapd import SlapdServer
from idp.app import create_app
from idp.linking import console
from idp.storage.audit import AuditEventType
from tests.flows.conftest import make_settings
from tests.flows.test_account import events
from tests.flows.test_helpdesk_api import log_in
from tests.support.admin import admin_sign_in, post_form
from tests.support.oidc_client import login

ROLES = {"helpdesk": ["tusur:demo"], "org_helpdesk": ["tsu:demo"]}


def pw(org: str, username: str) -> str:
    return people.organization(org).person(username).password


@pytest.fixture
def app(migrated_database_url: str, directories: dict[str, SlapdServer]) -> Iterator[Flask]:
    app = create_app(make_settings(migrated_database_url, directories, roles=ROLES,
                                   helpdesk={"session_minutes": 15}))
    yield app
    app.extensions["campus_id"].deliveries.wait_idle(10)
    app.extensions["campus_id"].engine.dispose()


def logs_in(app: Flask, org: str, username: str, lang: str = "en") -> Any:
    browser = app.test_client()
    return login(browser, browser.get(f"/login?lang={lang}"), username, pw(org, username), org)


def staff(app: Flask, org: str, username: str, start: str = "/helpdesk/") -> tuple[FlaskClient, Any]:
    browser = app.test_client()
    browser.get("/?lang=en")
    return browser, admin_sign_in(browser, username, pw(org, username), org, start=start,
                                  area="helpdesk")


def sub_in(html: str) -> str:
    found = re.search(r'data-sub="([^"]+)"', html)
    assert found, html[:2000]
    return found.group(1)


def test_search_person_lock_and_unlock(app: Flask) -> None:
    assert logs_in(app, "tpu", "dvasiliev").status_code == 302
    browser, page = staff(app, "tusur", "demo")
    assert page.status_code == 200 and "Find a person" in page.get_data(as_text=True)
    results = browser.get("/helpdesk/?q=васильев").get_data(as_text=True)
    assert "Дмитрий Андреевич Васильев" in results or "Васильев Дмитрий" in results
    assert "Tomsk Polytechnic University" in results and ">active<" in results
    sub = sub_in(results)

    person = browser.get(f"/helpdesk/people/{sub}").get_data(as_text=True)
    assert 'data-account="tpu:dvasiliev"' in person and "(primary)" in person
    assert 'data-event="login.succeeded"' in person
    assert person.count('data-session="tpu:dvasiliev"') == 1  # the one login's session

    preview = browser.get(f"/helpdesk/people/{sub}/lock")
    text = preview.get_data(as_text=True)
    assert "cannot log in anywhere until unlocked" in text and "Sessions ended: 1." in text
    assert browser.post(f"/helpdesk/people/{sub}/lock", data={"reason": "x"}).status_code == 400
    refused = post_form(browser, preview, f"/helpdesk/people/{sub}/lock", {"reason": "  "})
    assert refused.status_code == 400 and "Please give a reason." in refused.get_data(as_text=True)
    assert not events(app, AuditEventType.IDENTITY_LOCKED)

    done = post_form(browser, preview, f"/helpdesk/people/{sub}/lock",
                     {"reason": "phoned: stolen password"})
    assert done.status_code == 302
    person = browser.get(done.headers["Location"]).get_data(as_text=True)
    assert "The person is locked." in person and 'data-state="locked"' in person
    assert "phoned: stolen password" in person and "No active session." in person
    [locked] = events(app, AuditEventType.IDENTITY_LOCKED)
    assert locked.actor.startswith("staff:") and locked.details["reason"] == "phoned: stolen password"
    assert logs_in(app, "tpu", "dvasiliev").status_code == 401

    preview = browser.get(f"/helpdesk/people/{sub}/unlock")
    assert "can log in again" in preview.get_data(as_text=True)
    done = post_form(browser, preview, f"/helpdesk/people/{sub}/unlock", {"reason": "verified"})
    assert done.status_code == 302
    assert logs_in(app, "tpu", "dvasiliev").status_code == 302


def test_the_timeline_filters_by_kind_and_pages_back(app: Flask,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Three logins and a lock: the filter lists the kinds the trail holds and shows one kind;
    two events to a page here, the older ones a link away, the filter kept; an unknown kind
    shows everything; Russian labels on a Russian page."""
    for _ in range(3):
        assert logs_in(app, "tpu", "dvasiliev").status_code == 302
    browser, _page = staff(app, "tusur", "demo")
    sub = sub_in(browser.get("/helpdesk/?q=dvasiliev").get_data(as_text=True))
    preview = browser.get(f"/helpdesk/people/{sub}/lock")
    assert post_form(browser, preview, f"/helpdesk/people/{sub}/lock",
                     {"reason": "checking"}).status_code == 302

    person = browser.get(f"/helpdesk/people/{sub}?lang=en").get_data(as_text=True)
    assert "Show events" in person and '<option value="identity.locked">' in person
    assert '<option value="login.succeeded">' in person
    locked = browser.get(f"/helpdesk/people/{sub}?event=identity.locked").get_data(as_text=True)
    assert re.findall(r'data-event="([^"]+)"', locked) == ["identity.locked"]
    assert '<option value="identity.locked" selected>' in locked

    monkeypatch.setattr(console, "TIMELINE", 2)
    first = browser.get(f"/helpdesk/people/{sub}?event=login.succeeded").get_data(as_text=True)
    assert re.findall(r'data-event="([^"]+)"', first) == ["login.succeeded"] * 2
    older = re.search(r'href="([^"]+)"[^>]*rel="next">Older events<', first)
    assert older, first[-3000:]
    rest = browser.get(older.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert re.findall(r'data-event="([^"]+)"', rest) == ["login.succeeded"]
    assert 'rel="next"' not in rest

    everything = browser.get(f"/helpdesk/people/{sub}?event=no.such&lang=ru").get_data(as_text=True)
    assert "Показать события" in everything and "Все события" in everything
    newest = re.findall(r'data-event="([^"]+)"', person)
    assert re.findall(r'data-event="([^"]+)"', everything) == newest[:2]  # every kind
    assert browser.get(f"/helpdesk/people/{sub}?before=x' OR 1=1").status_code == 200


def test_a_scoped_helpdesk_sees_only_its_organizations_people(app: Flask) -> None:
    assert logs_in(app, "tpu", "dvasiliev").status_code == 302
    assert logs_in(app, "tsu", "ivan.petrov").status_code == 302
    everyone, _ = staff(app, "tusur", "demo")
    tpu_sub = sub_in(everyone.get("/helpdesk/?q=dvasiliev").get_data(as_text=True))
    tsu_sub = sub_in(everyone.get("/helpdesk/?q=ivan.petrov").get_data(as_text=True))

    browser, page = staff(app, "tsu", "demo")
    assert "helpdesk:tsu" in page.get_data(as_text=True)
    assert f'data-sub="{tpu_sub}"' not in browser.get("/helpdesk/?q=dvasiliev").get_data(as_text=True)
    assert "Nobody found" in browser.get(f"/helpdesk/?q={tpu_sub}").get_data(as_text=True)
    assert browser.get(f"/helpdesk/people/{tpu_sub}").status_code == 404
    assert browser.get(f"/helpdesk/people/{tpu_sub}/lock").status_code == 404
    assert browser.get("/helpdesk/people/no-such-sub").status_code == 404
    assert browser.get(f"/helpdesk/people/{tsu_sub}").status_code == 200
    assert browser.get(f"/helpdesk/people/{tsu_sub}/lock").status_code == 200


def test_no_helpdesk_role_is_refused_and_the_sign_in_expires(app: Flask) -> None:
    browser, page = staff(app, "tpu", "asmirnova")
    assert page.status_code == 403 and "no helpdesk role" in page.get_data(as_text=True)
    assert events(app, AuditEventType.ADMIN_FORBIDDEN)

    browser, page = staff(app, "tusur", "demo")
    assert page.status_code == 200
    later = time.time() + 16 * 60
    with mock.patch("idp.web.admin.staff.time.time", return_value=later):
        again = browser.get("/helpdesk/")
    assert again.status_code == 302 and "/helpdesk/login" in again.headers["Location"]


@pytest.fixture
def linking_app(migrated_database_url: str, directories: dict[str, SlapdServer]) -> Iterator[Flask]:
    """With the demo's linking rules: the same person at two organizations is a proposal."""
    app = create_app(make_settings(migrated_database_url, directories, roles=ROLES, linking={
        "primary_precedence": ["tsu", "tpu"], "rules": people.LINKING_RULES}))
    yield app
    app.extensions["campus_id"].deliveries.wait_idle(10)
    app.extensions["campus_id"].engine.dispose()


def proposal_ids(html: str) -> list[str]:
    return re.findall(r'data-proposal="(\d+)"', html)


def test_proposals_unlink_and_logout_from_the_console(linking_app: Flask) -> None:
    app = linking_app
    elkina = log_in(app, "tsu", "alena.elkina")["claims"]["sub"]
    log_in(app, "tusur", "elkina.av")  # the same name and birth date: a proposal
    galiev = log_in(app, "tpu", "tgaliev")["claims"]["sub"]
    log_in(app, "tusur", "galiev.tr")

    scoped, _ = staff(app, "tsu", "demo")
    [elkina_proposal] = proposal_ids(scoped.get(f"/helpdesk/people/{elkina}").get_data(as_text=True))
    approve = f"/helpdesk/people/{elkina}/approve?proposal={elkina_proposal}"
    assert scoped.get(approve).status_code == 403  # the other identity is tusur's
    assert scoped.get(f"/helpdesk/people/{galiev}").status_code == 404

    browser, _ = staff(app, "tusur", "demo")
    preview = browser.get(approve)
    assert "The account tusur:elkina.av joins this campus identity" in preview.get_data(as_text=True)
    done = post_form(browser, preview, approve, {"reason": "same passport"})
    assert done.status_code == 302 and "done=approve" in done.headers["Location"]
    page = browser.get(done.headers["Location"]).get_data(as_text=True)
    assert 'data-account="tusur:elkina.av"' in page and 'data-account="tsu:alena.elkina"' in page
    assert "The proposal is approved." in page and not proposal_ids(page)

    [galiev_proposal] = proposal_ids(browser.get(f"/helpdesk/people/{galiev}").get_data(as_text=True))
    reject = f"/helpdesk/people/{galiev}/reject?proposal={galiev_proposal}"
    done = post_form(browser, browser.get(reject), reject, {"reason": "different people"})
    assert "The proposal is rejected." in browser.get(done.headers["Location"]).get_data(as_text=True)
    assert browser.get(reject).status_code == 404  # decided: no longer open

    unlink = f"/helpdesk/people/{elkina}/unlink?account=tusur:elkina.av"
    assert scoped.get(unlink).status_code == 403  # a tusur account
    preview = browser.get(unlink)
    assert "moves to a new campus identity" in preview.get_data(as_text=True)
    done = post_form(browser, preview, unlink, {"reason": "two people after all"})
    page = browser.get(done.headers["Location"]).get_data(as_text=True)
    assert "The account is unlinked." in page and 'data-account="tusur:elkina.av"' not in page

    logout = f"/helpdesk/people/{elkina}/logout"
    preview = browser.get(logout)
    assert "Sessions ended: 1." in preview.get_data(as_text=True)
    done = post_form(browser, preview, logout, {"reason": "lost phone"})
    assert "logged out everywhere" in browser.get(done.headers["Location"]).get_data(as_text=True)
    [logged_out] = events(app, AuditEventType.LOGOUT_EVERYWHERE)
    assert logged_out.details["reason"] == "lost phone" and logged_out.actor.startswith("staff:")
    assert "Sessions ended: 0." in browser.get(logout).get_data(as_text=True)
