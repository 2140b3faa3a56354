"""The helpdesk console's link by search, card re-issue, delivery retry, recent logins and
login throttle, over Flask's test client with real slapd logins: each a preview with a
required reason, then the same service as the API, audited with the staff member; a
helpdesk:ORG member gets 404 for what it cannot see and 403 (audited) for a change beyond its
organization; a service's refusal reads in Russian on a Russian page; the API's search
results carry state and organizations."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from demo.slapd import SlapdServer
from idp.app import create_app
from idp.storage.audit import AuditEventType
from idp.storage.cards import CampusCard
from idp.storage.identities import Identity
from idp.storage.provisioning import DeliveryJob, JobState
from tests.flows.conftest import make_settings
from tests.flows.test_access_follows_login import access_tables
from tests.flows.test_account import events
from tests.flows.test_helpdesk_api import HELPDESK, call, helpdesk_clients, token_of
from tests.flows.test_helpdesk_console import ROLES, logs_in, staff, sub_in
from tests.support.admin import post_form
from tests.support.oidc_client import login

THROTTLE = {"account": {"free_failures": 2, "base_delay_s": 600, "max_delay_s": 900,
                        "forget_s": 600}}


@pytest.fixture
def app(settings: Any, database_url: str, directories: dict[str, SlapdServer],
        tmp_path: Path) -> Iterator[Flask]:
    """A library for students, delivered through a webhook nobody answers; the helpdesk
    roles; an account held back after two wrong passwords."""
    del settings  # migrated the database
    secret = tmp_path / "hook.secret"
    secret.write_text("whsec_" + base64.b64encode(b"k" * 32).decode(), encoding="utf-8")
    app = create_app(make_settings(database_url, directories, clients=helpdesk_clients(),
                                   roles=ROLES, throttle=THROTTLE, **access_tables(secret)))
    yield app
    app.extensions["campus_id"].deliveries.wait_idle(10)
    app.extensions["campus_id"].engine.dispose()


def sub_of(browser: FlaskClient, q: str) -> str:
    return sub_in(browser.get(f"/helpdesk/?q={q}").get_data(as_text=True))


def active_card(app: Flask, sub: str) -> str | None:
    with app.extensions["campus_id"].sessions() as db:
        identity = db.scalars(select(Identity).where(Identity.sub == sub)).one()
        number: str | None = db.scalars(select(CampusCard.number).where(
            CampusCard.identity_id == identity.id, CampusCard.state == "active")).one_or_none()
        return number


def test_link_an_account_found_by_search(app: Flask) -> None:
    assert logs_in(app, "tsu", "maxim.novikov").status_code == 302
    assert logs_in(app, "tsu", "roman.belov").status_code == 302
    browser, _ = staff(app, "tusur", "demo")
    sub, other = sub_of(browser, "maxim.novikov"), sub_of(browser, "roman.belov")
    person = browser.get(f"/helpdesk/people/{sub}").get_data(as_text=True)
    assert f'href="/helpdesk/people/{sub}/link"' in person and "Link an account" in person

    found = browser.get(f"/helpdesk/people/{sub}/link?q=Белов").get_data(as_text=True)
    assert 'data-link-account="tsu:roman.belov"' in found and "Link tsu:roman.belov" in found
    own = browser.get(f"/helpdesk/people/{sub}/link?q=novikov").get_data(as_text=True)
    assert "tsu:maxim.novikov — already linked here" in own and "Link tsu:maxim.novikov" not in own

    path = f"/helpdesk/people/{sub}/link/account?account=tsu:roman.belov"
    preview = browser.get(path)
    text = preview.get_data(as_text=True)
    assert "These accounts join this person: tsu:roman.belov." in text
    assert f"This person keeps the sub {sub}; the sub of the other campus identity, {other}" in text
    assert post_form(browser, preview, path, {"reason": " "}).status_code == 400
    assert not events(app, AuditEventType.IDENTITY_MERGED)
    done = post_form(browser, preview, path, {"reason": "ticket 77: same student"})
    assert done.status_code == 302
    page = browser.get(done.headers["Location"]).get_data(as_text=True)
    assert "The account is linked." in page and 'data-account="tsu:roman.belov"' in page
    [merged] = events(app, AuditEventType.IDENTITY_MERGED)
    assert merged.actor.startswith("staff:") and merged.details["reason"] == "ticket 77: same student"
    assert merged.details["absorbed_sub"] == other and merged.details["sub"] == sub

    again = browser.get(path + "&lang=ru")  # now its own account: refused in Russian
    refused = post_form(browser, again, path, {"reason": "ещё раз"})
    assert refused.status_code == 400
    assert "Не выполнено: tsu:roman.belov уже привязана здесь." in refused.get_data(as_text=True)


def test_a_scoped_helpdesk_links_only_within_its_organization(app: Flask) -> None:
    for org, username in (("tsu", "maxim.novikov"), ("tsu", "roman.belov"), ("tpu", "dvasiliev")):
        assert logs_in(app, org, username).status_code == 302
    everyone, _ = staff(app, "tusur", "demo")
    tsu_sub, tpu_sub = sub_of(everyone, "maxim.novikov"), sub_of(everyone, "dvasiliev")

    browser, _ = staff(app, "tsu", "demo")
    hidden = browser.get(f"/helpdesk/people/{tsu_sub}/link?q=dvasiliev").get_data(as_text=True)
    assert "tpu:dvasiliev" not in hidden and "No account to link was found" in hidden
    assert browser.get(f"/helpdesk/people/{tsu_sub}/link/account?account=tpu:dvasiliev"
                       ).status_code == 404
    assert browser.get(f"/helpdesk/people/{tpu_sub}/link").status_code == 404
    own = browser.get(f"/helpdesk/people/{tsu_sub}/link/account?account=tsu:roman.belov")
    assert own.status_code == 200

    everyone_path = f"/helpdesk/people/{tsu_sub}/link/account?account=tpu:dvasiliev"
    preview = everyone.get(everyone_path)
    assert post_form(everyone, preview, everyone_path, {"reason": "joint"}).status_code == 302
    before = len(events(app, AuditEventType.ADMIN_FORBIDDEN))
    # The person now has a tpu account: linking more to it is the consortium's decision.
    assert browser.get(f"/helpdesk/people/{tsu_sub}/link").status_code == 403
    assert browser.get(f"/helpdesk/people/{tsu_sub}/link/account?account=tsu:roman.belov"
                       ).status_code == 403
    assert len(events(app, AuditEventType.ADMIN_FORBIDDEN)) == before + 2


def test_reissue_the_campus_card_from_the_person_page(app: Flask) -> None:
    assert logs_in(app, "tpu", "dvasiliev").status_code == 302  # a student: library, card
    browser, _ = staff(app, "tsu", "demo")  # helpdesk:tsu cannot see a tpu-only person
    everyone, _ = staff(app, "tusur", "demo")
    sub = sub_of(everyone, "dvasiliev")
    old = active_card(app, sub)
    assert old is not None
    assert browser.get(f"/helpdesk/people/{sub}/card").status_code == 404

    page = everyone.get(f"/helpdesk/people/{sub}").get_data(as_text=True)
    assert f"Card •••• •••• {old[-4:]}, issued" in page and old not in page
    preview = everyone.get(f"/helpdesk/people/{sub}/card?lang=ru")
    text = preview.get_data(as_text=True)
    assert f"Карта •••• •••• {old[-4:]} сразу перестанет действовать" in text and old not in text
    assert post_form(everyone, preview, f"/helpdesk/people/{sub}/card", {"reason": ""}
                     ).status_code == 400
    assert active_card(app, sub) == old
    done = post_form(everyone, preview, f"/helpdesk/people/{sub}/card",
                     {"reason": "потеряна, заявление 12"})
    assert done.status_code == 302
    new = active_card(app, sub)
    assert new is not None and new != old
    page = everyone.get(done.headers["Location"]).get_data(as_text=True)
    assert "Выдана новая кампусная карта; старая больше не действует." in page
    assert f"•••• •••• {new[-4:]}" in page
    [revoked] = events(app, AuditEventType.CARD_REVOKED)
    assert revoked.actor.startswith("staff:") and revoked.details["number"] == old
    assert revoked.details["reason"] == "потеряна, заявление 12"


def test_a_person_without_a_card_is_refused_in_russian(app: Flask) -> None:
    assert logs_in(app, "tsu", "kirill.sorokin").status_code == 302  # no affiliation: no card
    browser, _ = staff(app, "tusur", "demo")
    sub = sub_of(browser, "kirill.sorokin")
    assert "No active campus card." in browser.get(f"/helpdesk/people/{sub}").get_data(as_text=True)
    preview = browser.get(f"/helpdesk/people/{sub}/card?lang=ru")
    refused = post_form(browser, preview, f"/helpdesk/people/{sub}/card", {"reason": "потеряна"})
    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    assert "Не выполнено: У человека нет действующей кампусной карты для перевыпуска." in text
    assert "campus card to re-issue" not in text


def fail_job(app: Flask, sub: str) -> int:
    """One of the person's jobs as the worker leaves it when the receiver refuses it for good."""
    with app.extensions["campus_id"].sessions() as db:
        identity = db.scalars(select(Identity).where(Identity.sub == sub)).one()
        job = db.scalars(select(DeliveryJob).where(DeliveryJob.identity_id == identity.id)
                         .order_by(DeliveryJob.id)).first()
        assert job is not None
        job.state, job.attempts, job.last_error = JobState.FAILED.value, 3, "HTTP 410: gone"
        db.commit()
        return job.id


def test_retry_a_failed_delivery_from_the_person_page(app: Flask) -> None:
    assert logs_in(app, "tsu", "maxim.novikov").status_code == 302
    browser, _ = staff(app, "tusur", "demo")
    sub = sub_of(browser, "maxim.novikov")
    job = fail_job(app, sub)
    page = browser.get(f"/helpdesk/people/{sub}").get_data(as_text=True)
    assert f'data-job="{job}" data-job-state="failed"' in page and "failed: HTTP 410: gone" in page
    path = f"/helpdesk/people/{sub}/deliveries/{job}/retry"

    scoped, _ = staff(app, "tsu", "demo")  # jobs serve the whole consortium
    assert f'data-job="{job}"' not in scoped.get(f"/helpdesk/people/{sub}").get_data(as_text=True)
    assert scoped.get(path).status_code == 403
    assert browser.get(f"/helpdesk/people/{sub}/deliveries/{job + 1000}/retry").status_code == 404

    preview = browser.get(path)
    text = preview.get_data(as_text=True)
    assert f"Job {job} (grant of " in text and "the same idempotency key" in text
    assert "Its last error: HTTP 410: gone" in text
    done = post_form(browser, preview, path, {"reason": "library fixed its server"})
    assert done.status_code == 302
    assert "The delivery is sent again." in browser.get(done.headers["Location"]).get_data(as_text=True)
    [retried] = events(app, AuditEventType.DELIVERY_RETRIED)
    assert retried.actor.startswith("staff:") and retried.details["job"] == job
    assert retried.details["reason"] == "library fixed its server"
    again = browser.get(path + "?lang=ru")
    refused = post_form(browser, again, path, {"reason": "ещё раз"})
    assert refused.status_code == 400
    assert f"Задание доставки {job} не завершилось ошибкой" in refused.get_data(as_text=True)


def wrong_password(app: Flask, org: str, username: str) -> int:
    client = app.test_client()
    return login(client, client.get("/login?lang=en"), username, "wrong-password", org).status_code


def test_recent_logins_failures_and_clearing_the_throttle(app: Flask) -> None:
    assert logs_in(app, "tpu", "asokolov").status_code == 302
    assert [wrong_password(app, "tpu", "asokolov") for _ in range(3)] == [401, 401, 429]
    assert logs_in(app, "tpu", "asokolov").status_code == 429  # the right password waits too
    browser, _ = staff(app, "tusur", "demo")
    sub = sub_of(browser, "asokolov")

    page = browser.get(f"/helpdesk/people/{sub}?lang=ru").get_data(as_text=True)
    assert re.findall(r'data-login="(\w+)"', page) == [
        "throttled", "throttled", "failed", "failed", "succeeded"]
    assert "неверный пароль или отказ" in page and "задержан ограничением" in page
    held = re.search(r'tpu:asokolov: вход задержан до (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC', page)
    assert held, page
    assert f'href="/helpdesk/people/{sub}/throttle?account=tpu' in page
    path = f"/helpdesk/people/{sub}/throttle?account=tpu:asokolov"

    scoped, _ = staff(app, "tsu", "demo")
    assert scoped.get(path).status_code == 404  # a tpu-only person
    preview = browser.get(path + "&lang=en")
    assert "tpu:asokolov is held back until" in preview.get_data(as_text=True)
    done = post_form(browser, preview, path, {"reason": "identity checked by phone"})
    assert done.status_code == 302
    page = browser.get(done.headers["Location"]).get_data(as_text=True)
    assert "The login throttle is cleared for the account." in page
    assert 'data-hold="tpu:asokolov" data-held="no"' in page
    [cleared] = events(app, AuditEventType.LOGIN_THROTTLE_CLEARED)
    assert cleared.actor.startswith("staff:") and cleared.details["account"] == "tpu:asokolov"
    assert cleared.details["before"]["held_until"] and cleared.details["after"]["held_until"] is None
    assert logs_in(app, "tpu", "asokolov").status_code == 302


def test_the_api_search_carries_state_and_organizations(app: Flask) -> None:
    assert logs_in(app, "tpu", "dvasiliev").status_code == 302
    api = app.test_client()
    found = call(api, "GET", "/identities?q=dvasiliev", token_of(api, HELPDESK)).json
    [item] = found["items"]
    assert item["state"] == "active" and item["organizations"] == ["tpu"]
    assert sorted(item["affiliations"]) == ["member", "student"]
