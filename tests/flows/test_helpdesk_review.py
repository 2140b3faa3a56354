"""The helpdesk console's review queue over Flask's test client, with real slapd logins raising
the proposals (the demo's name-and-birth-date rule: tsu alena.elkina and tusur elkina.av; tpu
tgaliev and tusur galiev.tr): oldest first with the evidence masked and both parties; approve
and reject from the row with a required reason and the CSRF token, audited; a helpdesk:tsu
member sees only the proposal with a tsu account, may reject it and may not approve it (403,
audited); a proposal out of scope or decided is 404; 120 open proposals come 50 to a page."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select, update

from demo import people
from demo.slapd import SlapdServer
from idp.app import create_app
from idp.storage.audit import AuditEventType
from idp.storage.base import make_engine
from idp.storage.linking import LinkProposal, MatchFingerprint
from idp.storage.migrate import upgrade
from tests.flows.conftest import make_settings
from tests.flows.test_account import events
from tests.flows.test_helpdesk_api import log_in
from tests.flows.test_helpdesk_console import ROLES, staff
from tests.support.admin import post_form

QUEUE = "/helpdesk/review"


@pytest.fixture
def app(database_url: str, directories: dict[str, SlapdServer]) -> Iterator[Flask]:
    engine = make_engine(database_url)
    upgrade(engine)
    engine.dispose()
    app = create_app(make_settings(database_url, directories, roles=ROLES,
                                   linking={"rules": people.LINKING_RULES}))
    yield app
    app.extensions["campus_id"].deliveries.wait_idle(10)
    app.extensions["campus_id"].engine.dispose()


@pytest.fixture
def proposals(app: Flask) -> dict[str, int]:
    """The two proposals, raised by logins, oldest (Elkina's) first."""
    log_in(app, "tsu", "alena.elkina")
    log_in(app, "tusur", "elkina.av")
    log_in(app, "tpu", "tgaliev")
    log_in(app, "tusur", "galiev.tr")
    with app.extensions["campus_id"].sessions() as db:
        elkina, galiev = db.scalars(select(LinkProposal.id).order_by(LinkProposal.id))
    return {"elkina": elkina, "galiev": galiev}


def rows(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-proposal="(\d+)"', html)]


def row_html(html: str, proposal: int) -> str:
    start = html.index(f'data-proposal="{proposal}"')
    end = html.find('data-proposal="', start + 1)
    return html[start:end if end > 0 else len(html)]


def test_the_queue_shows_evidence_and_parties_oldest_first(app: Flask,
                                                           proposals: dict[str, int]) -> None:
    browser, page = staff(app, "tusur", "demo")
    assert "Review queue (2)" in page.get_data(as_text=True)  # the console's navigation
    html = browser.get(QUEUE).get_data(as_text=True)
    assert rows(html) == [proposals["elkina"], proposals["galiev"]]
    assert "Open proposals: 2." in html
    elkina = row_html(html, proposals["elkina"])
    assert f"Proposal {proposals['elkina']}: tusur:elkina.av" in elkina
    assert "Rule “name_birthdate”." in elkina and "The rule only ever proposes." in elkina
    assert 'data-still-matches="yes"' in elkina
    family = re.search(r'data-claim="family_name">(.*?)</tr>', elkina, re.S)
    assert family and "Елкина" in family.group(1) and "Ёлкина" in family.group(1)
    birth = re.search(r'data-claim="birthdate">(.*?)</tr>', elkina, re.S)
    assert birth and birth.group(1).count("**.**.****") == 2
    for value in ("1990", "11.1990", "1990-11-05", "05.11"):
        assert value not in elkina  # the birth date appears nowhere on the page
    assert 'data-account="tusur:elkina.av"' in elkina and 'data-account="tsu:alena.elkina"' in elkina
    assert elkina.count("/helpdesk/people/") == 2  # both parties' pages
    assert 'value="approve"' in elkina and 'value="reject"' in elkina


def test_approve_and_reject_from_the_row(app: Flask, proposals: dict[str, int]) -> None:
    browser, _ = staff(app, "tusur", "demo")
    queue = browser.get(QUEUE)
    approve = f"{QUEUE}/{proposals['elkina']}"
    assert browser.post(approve, data={"decision": "approve", "reason": "x"}).status_code == 400
    refused = post_form(browser, queue, approve, {"decision": "approve", "reason": " "})
    assert refused.status_code == 400 and "Please give a reason." in refused.get_data(as_text=True)
    assert post_form(browser, queue, approve, {"decision": "merge", "reason": "x"}).status_code == 400
    too_long = post_form(browser, queue, approve, {"decision": "approve", "reason": "x" * 501})
    assert too_long.status_code == 400  # the service's refusal, on the row
    assert "Not done: The reason is longer than 500 characters." in row_html(
        too_long.get_data(as_text=True), proposals["elkina"])
    assert not events(app, AuditEventType.LINK_APPROVED)

    done = post_form(browser, queue, approve, {"decision": "approve", "reason": "same passport"})
    assert done.status_code == 302 and "done=approve" in done.headers["Location"]
    page = browser.get(done.headers["Location"]).get_data(as_text=True)
    assert "The proposal is approved." in page and rows(page) == [proposals["galiev"]]
    assert "Review queue (1)" in page
    [approved] = events(app, AuditEventType.LINK_APPROVED)
    assert approved.actor.startswith("staff:") and approved.details["reason"] == "same passport"
    person = re.search(r'href="(/helpdesk/people/[^"]+)"', page.split('role="status"')[1])
    assert person
    timeline = browser.get(person.group(1)).get_data(as_text=True)
    assert 'data-account="tusur:elkina.av"' in timeline and 'data-account="tsu:alena.elkina"' in timeline
    assert 'data-event="link.approved"' in timeline and "same passport" in timeline

    gone = post_form(browser, queue, approve, {"decision": "reject", "reason": "again"})
    assert gone.status_code == 404 and "This proposal is not open" in gone.get_data(as_text=True)

    reject = f"{QUEUE}/{proposals['galiev']}"
    done = post_form(browser, queue, reject, {"decision": "reject", "reason": "different people"})
    page = browser.get(done.headers["Location"]).get_data(as_text=True)
    assert "The proposal is rejected." in page and rows(page) == []
    assert "No open proposals." in page and "Review queue (0)" in page
    [rejected] = events(app, AuditEventType.LINK_REJECTED)
    assert rejected.details["reason"] == "different people"


def test_a_scoped_helpdesk_sees_its_own_and_approves_only_what_is_all_its_own(
        app: Flask, proposals: dict[str, int]) -> None:
    browser, page = staff(app, "tsu", "demo")
    assert "Review queue (1)" in page.get_data(as_text=True)
    queue = browser.get(QUEUE)
    html = queue.get_data(as_text=True)
    assert rows(html) == [proposals["elkina"]]  # galiev's is tpu's and tusur's
    elkina = row_html(html, proposals["elkina"])
    assert f"Proposal {proposals['elkina']}: tusur<" in elkina  # another organization's account
    assert "elkina.av" not in elkina and "Елкина" not in elkina
    assert 'value="approve"' not in elkina and 'value="reject"' in elkina
    assert "it needs the consortium helpdesk" in elkina

    approve = post_form(browser, queue, f"{QUEUE}/{proposals['elkina']}",
                        {"decision": "approve", "reason": "forged"})
    assert approve.status_code == 403
    assert [e.details["reason"] for e in events(app, AuditEventType.ADMIN_FORBIDDEN)] == [
        f"approve proposal {proposals['elkina']}: accounts outside tsu"]
    outside = post_form(browser, queue, f"{QUEUE}/{proposals['galiev']}",
                        {"decision": "reject", "reason": "not mine"})
    assert outside.status_code == 404 and not events(app, AuditEventType.LINK_REJECTED)

    done = post_form(browser, queue, f"{QUEUE}/{proposals['elkina']}",
                     {"decision": "reject", "reason": "checked by phone"})
    assert done.status_code == 302
    [rejected] = events(app, AuditEventType.LINK_REJECTED)
    assert rejected.actor.startswith("staff:") and rejected.details["reason"] == "checked by phone"
    assert rows(browser.get(done.headers["Location"]).get_data(as_text=True)) == []


def test_a_value_changed_since_shows(app: Flask, proposals: dict[str, int]) -> None:
    with app.extensions["campus_id"].sessions() as db:
        account = db.get_one(LinkProposal, proposals["elkina"]).account_id
        db.execute(update(MatchFingerprint).where(MatchFingerprint.account_id == account)
                   .values(hash="0" * 64))
        db.commit()
    browser, _ = staff(app, "tusur", "demo")
    html = browser.get(QUEUE).get_data(as_text=True)
    assert 'data-still-matches="no"' in row_html(html, proposals["elkina"])
    assert 'data-still-matches="yes"' in row_html(html, proposals["galiev"])


def test_a_long_queue_comes_fifty_to_a_page(app: Flask, proposals: dict[str, int]) -> None:
    with app.extensions["campus_id"].sessions() as db:
        first = db.get_one(LinkProposal, proposals["elkina"])
        db.add_all(LinkProposal(rule="name_birthdate", reason="propose_rule",
                                account_id=first.account_id, identity_id=first.identity_id,
                                candidate_identity_id=first.candidate_identity_id)
                   for _ in range(118))
        db.commit()
    browser, _ = staff(app, "tusur", "demo")
    seen: list[int] = []
    path = QUEUE
    for expected in (50, 50, 20):
        html = browser.get(path).get_data(as_text=True)
        assert len(rows(html)) == expected and "Open proposals: 120." in html
        seen += rows(html)
        following = re.search(r'href="(/helpdesk/review\?after=\d+)">Next 50<', html)
        path = following.group(1) if following else ""
    assert not path and seen == sorted(seen) and len(set(seen)) == 120
    assert seen[0] == proposals["elkina"]
