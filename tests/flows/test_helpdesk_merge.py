"""Merge, split and undo in the helpdesk console over Flask's test client, with real slapd
logins: the side-by-side preview of a merge and the merge itself (the page's person keeps the
sub, the other's resolves to it), a split of two accounts onto one new identity with one
audit event each, the undo of an unlink, of a split and of a merge from the timeline (and why
an event cannot be undone once accounts moved since), a link by rule undone, and a
helpdesk:tsu member who gets 404 for a tpu-only person and 403 (audited) for a merge or an
undo that involves a tpu account."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from demo import people
from demo.slapd import SlapdServer
from idp.app import create_app
from idp.storage.audit import AuditEventType
from idp.storage.base import make_engine
from idp.storage.migrate import upgrade
from tests.flows.conftest import make_settings
from tests.flows.test_account import events
from tests.flows.test_helpdesk_console import ROLES, logs_in, staff, sub_in
from tests.support.admin import post_form


@pytest.fixture
def app(database_url: str, directories: dict[str, SlapdServer]) -> Iterator[Flask]:
    engine = make_engine(database_url)
    upgrade(engine)
    engine.dispose()
    app = create_app(make_settings(database_url, directories, roles=ROLES, linking={
        "rules": people.LINKING_RULES}))
    yield app
    app.extensions["campus_id"].deliveries.wait_idle(10)
    app.extensions["campus_id"].engine.dispose()


def find(browser: FlaskClient, q: str) -> str:
    return sub_in(browser.get(f"/helpdesk/?q={q}").get_data(as_text=True))


def accounts_on(browser: FlaskClient, sub: str) -> set[str]:
    page = browser.get(f"/helpdesk/people/{sub}").get_data(as_text=True)
    return set(re.findall(r'<tr data-account="([^"]+)"', page))


def undo_links(browser: FlaskClient, sub: str) -> dict[str, str]:
    """Each undoable event's id, with the link's address."""
    page = browser.get(f"/helpdesk/people/{sub}").get_data(as_text=True)
    return {m.group(2): m.group(1).replace("&amp;", "&")
            for m in re.finditer(r'<a href="([^"]+)" data-undo="(\d+)"', page)}


def merge(browser: FlaskClient, sub: str, other: str, reason: str) -> str:
    path = f"/helpdesk/people/{sub}/merge/{other}"
    done = post_form(browser, browser.get(path), path, {"reason": reason})
    assert done.status_code == 302 and "done=merge" in done.headers["Location"]
    return str(done.headers["Location"])


def test_merge_with_a_side_by_side_preview_then_undo_it(app: Flask) -> None:
    logs_in(app, "tpu", "epopova")
    logs_in(app, "tsu", "olga.kozlova")
    browser, _ = staff(app, "tusur", "demo")
    popova, kozlova = find(browser, "epopova"), find(browser, "olga.kozlova")

    found = browser.get(f"/helpdesk/people/{popova}/merge?q=kozlova").get_data(as_text=True)
    assert f'data-sub="{kozlova}"' in found and f'data-sub="{popova}"' not in found
    assert f"/helpdesk/people/{popova}/merge/{kozlova}" in found

    path = f"/helpdesk/people/{popova}/merge/{kozlova}"
    preview = browser.get(path)
    text = preview.get_data(as_text=True)
    assert "Stays (keeps its sub)" in text and "Joins it (its sub becomes an alias)" in text
    assert 'data-account="tpu:epopova"' in text and 'data-account="tsu:olga.kozlova"' in text
    assert f"sub {popova} and campus ID" in text and f"{kozlova} becomes an alias" in text
    assert "Accounts: tpu:epopova, tsu:olga.kozlova." in text
    assert "Primary account: tpu:epopova." in text and "Applications told of the merge:" in text
    assert "Connectors told of the access that changes: none." in text  # no access here
    assert f"/helpdesk/people/{kozlova}/merge/{popova}" in text  # the other way round
    refused = post_form(browser, preview, path, {"reason": " "})
    assert refused.status_code == 400 and "Please give a reason." in refused.get_data(as_text=True)
    assert not events(app, AuditEventType.IDENTITY_MERGED)

    page = browser.get(merge(browser, popova, kozlova, "one person, two ids")).get_data(as_text=True)
    assert "The two campus identities are merged." in page
    assert accounts_on(browser, popova) == {"tpu:epopova", "tsu:olga.kozlova"}
    assert accounts_on(browser, kozlova) == {"tpu:epopova", "tsu:olga.kozlova"}  # an alias now
    [merged] = events(app, AuditEventType.IDENTITY_MERGED)
    assert merged.actor.startswith("staff:") and merged.details["reason"] == "one person, two ids"
    assert merged.details["absorbed_sub"] == kozlova
    assert merged.details["before"] == {popova: ["tpu:epopova"], kozlova: ["tsu:olga.kozlova"]}
    assert merged.details["after"] == {popova: ["tpu:epopova", "tsu:olga.kozlova"]}

    undo = undo_links(browser, popova)[str(merged.id)]
    preview = browser.get(undo)
    assert (f"tsu:olga.kozlova move off {popova} together to a new campus identity"
            in preview.get_data(as_text=True))
    done = post_form(browser, preview, undo, {"reason": "merged the wrong person"})
    assert done.status_code == 302 and "done=undo" in done.headers["Location"]
    page = browser.get(done.headers["Location"]).get_data(as_text=True)
    assert "The change is undone." in page and f"undoes event {merged.id}" in page
    assert "This change cannot be undone: it has been undone." in page
    assert accounts_on(browser, popova) == {"tpu:epopova"}
    [unlinked] = events(app, AuditEventType.ACCOUNT_UNLINKED)
    assert unlinked.details["account"] == "tsu:olga.kozlova"
    assert unlinked.details["evidence"]["undoes"] == merged.id
    assert unlinked.details["reason"] == "merged the wrong person"
    assert accounts_on(browser, unlinked.details["new_sub"]) == {"tsu:olga.kozlova"}
    assert post_form(browser, preview, undo, {"reason": "again"}).status_code == 200  # refused
    assert len(events(app, AuditEventType.ACCOUNT_UNLINKED)) == 1


def test_split_two_accounts_then_undo_the_split(app: Flask) -> None:
    for org, username in (("tpu", "nfedorov"), ("tsu", "pavel.nikitin"), ("tusur", "frolov.ka")):
        logs_in(app, org, username)
    browser, _ = staff(app, "tusur", "demo")
    fedorov, nikitin, frolov = (find(browser, q) for q in ("nfedorov", "pavel.nikitin",
                                                            "frolov.ka"))
    merge(browser, fedorov, nikitin, "one person")
    merge(browser, fedorov, frolov, "one person")
    assert len(accounts_on(browser, fedorov)) == 3

    picker = browser.get(f"/helpdesk/people/{fedorov}/split").get_data(as_text=True)
    assert picker.count('type="checkbox"') == 3
    everything = browser.get(f"/helpdesk/people/{fedorov}/split?account=tpu:nfedorov"
                             "&account=tsu:pavel.nikitin&account=tusur:frolov.ka")
    assert everything.status_code == 400
    assert "At least one account must stay" in everything.get_data(as_text=True)

    path = f"/helpdesk/people/{fedorov}/split?account=tsu:pavel.nikitin&account=tusur:frolov.ka"
    preview = browser.get(path)
    text = preview.get_data(as_text=True)
    assert "tsu:pavel.nikitin, tusur:frolov.ka move to one new campus identity" in text
    assert "Stay here: tpu:nfedorov." in text
    done = post_form(browser, preview, f"/helpdesk/people/{fedorov}/split",
                     {"reason": "three people", "account": ["tsu:pavel.nikitin",
                                                            "tusur:frolov.ka"]})
    assert done.status_code == 302 and "done=split" in done.headers["Location"]
    assert ("The accounts are split off to a new campus identity."
            in browser.get(done.headers["Location"]).get_data(as_text=True))
    assert accounts_on(browser, fedorov) == {"tpu:nfedorov"}
    first, second = events(app, AuditEventType.ACCOUNT_UNLINKED)
    assert first.details["new_sub"] == second.details["new_sub"]
    assert first.details["evidence"]["split"] == ["tsu:pavel.nikitin", "tusur:frolov.ka"]
    made = second.details["new_sub"]
    assert accounts_on(browser, made) == {"tsu:pavel.nikitin", "tusur:frolov.ka"}

    links = undo_links(browser, fedorov)
    assert str(first.id) not in links and str(second.id) in links
    page = browser.get(f"/helpdesk/people/{fedorov}").get_data(as_text=True)
    assert f'data-undo-why="{first.id}"' in page and "accounts have moved since." in page
    refused = browser.get(f"/helpdesk/people/{fedorov}/undo/{first.id}").get_data(as_text=True)
    assert "This change cannot be undone: accounts have moved since." in refused

    undo = links[str(second.id)]
    preview = browser.get(undo)
    assert (f"tsu:pavel.nikitin, tusur:frolov.ka come back to this campus identity ({fedorov})"
            in preview.get_data(as_text=True))
    done = post_form(browser, preview, undo, {"reason": "one person after all"})
    assert done.status_code == 302
    assert f"/helpdesk/people/{fedorov}?" in done.headers["Location"]
    assert len(accounts_on(browser, fedorov)) == 3
    back = events(app, AuditEventType.IDENTITY_MERGED)[-1]
    assert back.details["absorbed_sub"] == made
    assert back.details["evidence"]["undoes"] == second.id


def test_a_link_by_rule_is_undone_by_splitting_the_account_off(app: Flask) -> None:
    logs_in(app, "tpu", "asmirnova")
    logs_in(app, "tsu", "anna.smirnova")  # the same SNILS: linked at its first login
    browser, _ = staff(app, "tusur", "demo")
    smirnova = find(browser, "asmirnova")
    assert accounts_on(browser, smirnova) == {"tpu:asmirnova", "tsu:anna.smirnova"}
    [linked] = events(app, AuditEventType.ACCOUNT_LINKED)
    assert linked.details["after"] == {smirnova: ["tpu:asmirnova", "tsu:anna.smirnova"]}
    undo = undo_links(browser, smirnova)[str(linked.id)]
    done = post_form(browser, browser.get(undo), undo, {"reason": "not the same person"})
    assert done.status_code == 302
    assert accounts_on(browser, smirnova) == {"tpu:asmirnova"}


def test_a_scoped_helpdesk_cannot_merge_or_undo_another_organizations_accounts(
        app: Flask) -> None:
    for org, username in (("tpu", "dvasiliev"), ("tsu", "roman.belov"),
                          ("tsu", "maxim.novikov")):
        logs_in(app, org, username)
    everyone, _ = staff(app, "tusur", "demo")
    vasiliev, belov, novikov = (find(everyone, q) for q in ("dvasiliev", "roman.belov",
                                                             "maxim.novikov"))
    scoped, _ = staff(app, "tsu", "demo")
    assert scoped.get(f"/helpdesk/people/{belov}/merge/{vasiliev}").status_code == 404
    assert scoped.get(f"/helpdesk/people/{vasiliev}/merge").status_code == 404
    found = scoped.get(f"/helpdesk/people/{belov}/merge?q=dvasiliev").get_data(as_text=True)
    assert f'data-sub="{vasiliev}"' not in found
    assert scoped.get(f"/helpdesk/people/{belov}/merge/{novikov}").status_code == 200

    merge(everyone, vasiliev, belov, "one person")  # now tpu and tsu
    forbidden = len(events(app, AuditEventType.ADMIN_FORBIDDEN))
    assert scoped.get(f"/helpdesk/people/{vasiliev}").status_code == 200
    assert scoped.get(f"/helpdesk/people/{vasiliev}/merge").status_code == 403
    assert scoped.get(f"/helpdesk/people/{novikov}/merge/{vasiliev}").status_code == 403
    page = scoped.get(f"/helpdesk/people/{vasiliev}").get_data(as_text=True)
    [merged] = events(app, AuditEventType.IDENTITY_MERGED)
    assert f'data-undo-why="{merged.id}"' in page and "consortium helpdesk can undo it" in page
    undo = f"/helpdesk/people/{vasiliev}/undo/{merged.id}"
    assert scoped.get(undo).status_code == 403
    assert len(events(app, AuditEventType.ADMIN_FORBIDDEN)) == forbidden + 3
    assert len(events(app, AuditEventType.ACCOUNT_UNLINKED)) == 0
    assert scoped.get(f"/helpdesk/people/{novikov}/undo/{merged.id}").status_code == 404
