"""A privilege belongs to the account that signed in, never to whatever is linked to it.

Each test replays one way the review found to carry a staff role from one account to
another, over HTTP with real slapd logins: signing in to /admin with a linked account of
another organization, a scoped helpdesk reaching into another organization, and a new
directory entry carrying someone's SNILS being linked onto their identity by rule.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from demo import people
from demo.slapd import SlapdServer
from idp.app import create_app
from idp.storage import audit
from idp.storage.audit import AuditEventType
from idp.storage.base import make_engine
from idp.storage.identities import LinkedAccount
from idp.storage.linking import LinkProposal
from idp.storage.migrate import upgrade
from tests.flows.conftest import RP1, make_settings
from tests.flows.test_helpdesk_api import (
    HELPDESK,
    audit_count,
    call,
    helpdesk_clients,
    log_in,
    token_of,
)
from tests.support.admin import admin_sign_in
from tests.support.ldap_groups import add_group
from tests.support.oidc_client import login, sign_in

ADMIN = "asmirnova"  # tpu; tsu's anna.smirnova has her SNILS (one person)
HELPDESK_TSU = ("helpdesk-tsu", "helpdesk-tsu-secret-0123456789")
# New tusur entries made by someone who can write into tusur's directory only.
INTRUDER = people.Person("intruder.as", "Иван", "Иванович", "Подставной", ("student", "member"),
                         snils=people.SHARED_SNILS, birth_date="2000-01-01")
ZHUKOV_AT_TUSUR = "zhukov.vo"  # same SNILS as tsu viktor.zhukov


def password(org: str, username: str) -> str:
    if username == INTRUDER.username:
        return INTRUDER.password
    return people.organization(org).person(username).password


@pytest.fixture(scope="module")
def tusur_with_intruder() -> Iterator[SlapdServer]:
    """tusur's directory with one more entry: another name, asmirnova's SNILS."""
    tusur = people.organization("tusur")
    server = dataclasses.replace(tusur, people=(*tusur.people, INTRUDER)).server().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def tsu_admin_group(directories: dict[str, SlapdServer]) -> str:
    """An admin group in tsu's directory with viktor.zhukov as its only member."""
    return add_group(directories["tsu"], "dc=tsu,dc=ru", "linking-guard-admins",
                     ["uid=viktor.zhukov,ou=people,dc=tsu,dc=ru"])


def provider(database_url: str, servers: dict[str, SlapdServer], **extra: Any) -> Iterator[Flask]:
    engine = make_engine(database_url)
    upgrade(engine)
    engine.dispose()
    clients = {**helpdesk_clients(), HELPDESK_TSU[0]: {
        "name": "Helpdesk TSU", "client_secret": HELPDESK_TSU[1],
        "grant_types": ["client_credentials"], "scopes": [], "roles": ["helpdesk:tsu"]}}
    linking = {"primary_precedence": ["tpu"], **extra.pop("linking", {})}
    app = create_app(make_settings(database_url, servers, clients=clients, linking=linking,
                                   roles={"consortium_admin": [f"tpu:{ADMIN}"]}, **extra))
    yield app
    app.extensions["campus_id"].engine.dispose()


@pytest.fixture
def app(database_url: str, directories: dict[str, SlapdServer]) -> Iterator[Flask]:
    """No linking rules: accounts are linked by the (unscoped) helpdesk in these tests."""
    yield from provider(database_url, directories)


@pytest.fixture
def ruled(database_url: str, directories: dict[str, SlapdServer],
          tusur_with_intruder: SlapdServer) -> Iterator[Flask]:
    """The demo's linking rules (a SNILS links), tusur's directory holding the intruder."""
    yield from provider(database_url, {**directories, "tusur": tusur_with_intruder},
                        linking={"rules": people.LINKING_RULES})


def link(app: Flask, sub: str, account: str) -> None:
    api = app.test_client()
    done = call(api, "POST", f"/identities/{sub}/accounts", token_of(api, HELPDESK),
                json={"account": account, "reason": "one person, ticket 1"})
    assert done.status_code == 200, done.json


def proposals(app: Flask) -> list[LinkProposal]:
    """The SNILS rule's proposals (the name and birth date rule only ever proposes)."""
    with app.extensions["campus_id"].sessions() as db:
        return list(db.scalars(select(LinkProposal).where(LinkProposal.rule == "snils")
                               .order_by(LinkProposal.id)))


# --- Staff roles in the admin UI ---------------------------------------------------------

def test_a_linked_account_of_another_organization_has_none_of_the_admins_roles(app: Flask) -> None:
    admin_sub = log_in(app, "tpu", ADMIN)["claims"]["sub"]
    log_in(app, "tsu", "anna.smirnova")
    link(app, admin_sub, "tsu:anna.smirnova")  # one person, one identity

    linked = app.test_client()
    page = admin_sign_in(linked, "anna.smirnova", password("tsu", "anna.smirnova"), "tsu")
    assert page.status_code == 403  # tsu:anna.smirnova holds no role of her own
    assert "consortium_admin" not in page.get_data(as_text=True)
    assert linked.get("/admin/clients?org=tpu").status_code == 403

    admin = app.test_client()
    page = admin_sign_in(admin, ADMIN, password("tpu", ADMIN), "tpu")
    assert page.status_code == 200 and "consortium_admin" in page.get_data(as_text=True)
    with app.extensions["campus_id"].sessions() as db:
        [signed_in] = [e for e in audit.events(db, AuditEventType.ADMIN_SIGNED_IN)
                       if e.details.get("account") == f"tpu:{ADMIN}"]
        assert signed_in.details["roles"] == ["consortium_admin"]


def test_the_role_follows_the_account_of_the_session_not_the_admin_cookie(app: Flask) -> None:
    """Signed in to /admin as the admin, then the same browser logs in to Campus ID with the
    linked account of the other organization: /admin now shows that account's roles (none)."""
    admin_sub = log_in(app, "tpu", ADMIN)["claims"]["sub"]
    log_in(app, "tsu", "anna.smirnova")
    link(app, admin_sub, "tsu:anna.smirnova")
    browser = app.test_client()
    assert admin_sign_in(browser, ADMIN, password("tpu", ADMIN), "tpu").status_code == 200
    assert browser.get("/admin/clients?org=tpu").status_code == 200

    page = browser.get("/login")
    response = login(browser, page, "anna.smirnova", password("tsu", "anna.smirnova"), "tsu")
    assert response.status_code == 302
    assert browser.get("/admin/clients?org=tpu").status_code == 403
    assert browser.get("/admin/clients").status_code == 403


# --- The helpdesk scoped to one organization --------------------------------------------

def test_a_scoped_helpdesk_changes_only_what_is_its_organizations_alone(app: Flask) -> None:
    admin_sub = log_in(app, "tpu", ADMIN)["claims"]["sub"]
    log_in(app, "tsu", "anna.smirnova")
    link(app, admin_sub, "tsu:anna.smirnova")
    student_sub = log_in(app, "tsu", "maxim.novikov")["claims"]["sub"]
    api = app.test_client()
    token = token_of(api, HELPDESK_TSU)
    before = audit_count(app)

    # Moving anna.smirnova onto the student would merge the admin's identity into his.
    moved = call(api, "POST", f"/identities/{student_sub}/accounts", token,
                 json={"account": "tsu:anna.smirnova", "reason": "ticket"})
    assert moved.status_code == 403, moved.json
    assert "another organization" in moved.json["message"]
    # Nor the other way round, nor unlinking the other organization's account.
    merged = call(api, "POST", f"/identities/{admin_sub}/accounts", token,
                  json={"account": "tsu:maxim.novikov", "reason": "ticket"})
    assert merged.status_code == 403
    unlinked = call(api, "DELETE", f"/identities/{admin_sub}/accounts/tpu:{ADMIN}", token,
                    json={"reason": "ticket"})
    assert unlinked.status_code == 403
    assert audit_count(app) == before  # nothing changed
    assert log_in(app, "tsu", "maxim.novikov", consent=None)["claims"]["sub"] == student_sub
    assert log_in(app, "tsu", "anna.smirnova", consent=None)["claims"]["sub"] == admin_sub

    # Its own organization's account alone it may unlink.
    own = call(api, "DELETE", f"/identities/{admin_sub}/accounts/tsu:anna.smirnova", token,
               json={"reason": "ticket"})
    assert own.status_code == 200, own.json


def test_a_scoped_helpdesk_reads_other_organizations_accounts_redacted(app: Flask) -> None:
    admin_sub = log_in(app, "tpu", ADMIN)["claims"]["sub"]
    log_in(app, "tsu", "anna.smirnova")
    link(app, admin_sub, "tsu:anna.smirnova")
    api = app.test_client()
    token = token_of(api, HELPDESK_TSU)

    shown = call(api, "GET", f"/identities/{admin_sub}", token)
    assert shown.status_code == 200
    assert {"organization": "tpu", "redacted": True} in shown.json["accounts"]
    assert [a["account"] for a in shown.json["accounts"] if "account" in a] == ["tsu:anna.smirnova"]
    assert shown.json["primary_account"] == "tpu"  # primary_precedence: tpu, shown as such
    found = call(api, "GET", "/identities?q=anna.smirnova", token).json["items"]
    assert [i["accounts"] for i in found] == [["tpu", "tsu:anna.smirnova"]]
    trail = call(api, "GET", f"/audit?sub={admin_sub}", token)
    assert trail.status_code == 200 and trail.json["items"]
    assert {e["organization"] for e in trail.json["items"]} == {"tsu"}
    for body in (shown, trail, call(api, "GET", "/identities?q=anna.smirnova", token)):
        assert ADMIN not in body.get_data(as_text=True)

    # The consortium helpdesk sees everything.
    full = call(api, "GET", f"/identities/{admin_sub}", token_of(api, HELPDESK)).json
    assert [a["account"] for a in full["accounts"]] == [f"tpu:{ADMIN}", "tsu:anna.smirnova"]


# --- Linking by rule ---------------------------------------------------------------------

def test_a_new_entry_with_an_admins_snils_gets_a_proposal_not_her_identity(ruled: Flask) -> None:
    admin_sub = log_in(ruled, "tpu", ADMIN)["claims"]["sub"]
    result = sign_in(ruled.test_client(), RP1, INTRUDER.username, INTRUDER.password,
                     organization="tusur")
    with ruled.extensions["campus_id"].sessions() as db:
        intruder = db.scalars(select(LinkedAccount).filter_by(username=INTRUDER.username)).one()
        assert intruder.identity.sub != admin_sub
    assert "code" in result
    [proposal] = proposals(ruled)
    assert proposal.reason == "staff_role" and proposal.status == "pending"
    browser = ruled.test_client()
    page = admin_sign_in(browser, INTRUDER.username, INTRUDER.password, "tusur")
    assert page.status_code == 403


@pytest.mark.parametrize("role", ["org_admin", "helpdesk", "org_helpdesk"])
def test_an_account_with_a_staff_role_is_not_moved_by_rule(
        migrated_database_url: str, directories: dict[str, SlapdServer], role: str) -> None:
    """tsu:anna.smirnova holds a staff role (admin or helpdesk); her first login after
    tpu:asmirnova (no role here) would move her account onto asmirnova's identity: a proposal
    instead."""
    app = create_app(make_settings(migrated_database_url, directories,
                                   linking={"rules": people.LINKING_RULES},
                                   roles={role: ["tsu:anna.smirnova"]}))
    try:
        tpu_sub = log_in(app, "tpu", ADMIN)["claims"]["sub"]
        assert log_in(app, "tsu", "anna.smirnova")["claims"]["sub"] != tpu_sub
        assert [p.reason for p in proposals(app)] == ["staff_role"]
    finally:
        app.extensions["campus_id"].engine.dispose()


def test_a_directory_group_admin_seen_at_sign_in_is_kept_apart(
        database_url: str, directories: dict[str, SlapdServer], tsu_admin_group: str) -> None:
    tsu = people.organization("tsu").config([directories["tsu"].uri], timeout_s=2)
    tsu["directory"]["admin_group_dn"] = tsu_admin_group
    app = next(provider(database_url, directories, organizations={"tsu": tsu},
                        linking={"rules": people.LINKING_RULES}))
    try:
        browser = app.test_client()
        page = admin_sign_in(browser, "viktor.zhukov", password("tsu", "viktor.zhukov"), "tsu")
        assert page.status_code == 200 and "org_admin:tsu" in page.get_data(as_text=True)
        with app.extensions["campus_id"].sessions() as db:
            account = db.scalars(select(LinkedAccount).filter_by(username="viktor.zhukov")).one()
            assert account.staff_role
            admin_identity = account.identity_id
        # tusur's zhukov.vo carries the same SNILS: not linked onto the admin's identity.
        log_in(app, "tusur", ZHUKOV_AT_TUSUR)
        with app.extensions["campus_id"].sessions() as db:
            other = db.scalars(select(LinkedAccount).filter_by(username=ZHUKOV_AT_TUSUR)).one()
            assert other.identity_id != admin_identity
        assert [p.reason for p in proposals(app)] == ["staff_role"]
    finally:
        app.extensions["campus_id"].engine.dispose()


@pytest.mark.parametrize(("trust", "linked"), [({"tusur": ["tusur"]}, False),
                                                ({"tusur": ["tpu"]}, True),
                                                ({"tpu": ["tpu"]}, True)])
def test_trust_decides_which_directories_link_automatically(
        database_url: str, directories: dict[str, SlapdServer], trust: dict[str, list[str]],
        linked: bool) -> None:
    """tusur's grigorieva.pa shares tpu pgrigorieva's SNILS; the joining account's
    organization decides whether it trusts the identity's directories."""
    app = next(provider(database_url, directories,
                        linking={"rules": people.LINKING_RULES, "trust": trust}))
    try:
        tpu_sub = log_in(app, "tpu", "pgrigorieva")["claims"]["sub"]
        tusur_sub = log_in(app, "tusur", "grigorieva.pa")["claims"]["sub"]
        assert (tusur_sub == tpu_sub) is linked
        with app.extensions["campus_id"].sessions() as db:
            events = audit.events(db, AuditEventType.ACCOUNT_LINKED)
        if not linked:
            assert [p.reason for p in proposals(app)] == ["untrusted_directory"]
            assert events == []
            return
        [event] = events
        assert event.details["account_organization"] == "tusur"
        assert event.details["identity_organizations"] == ["tpu"]
        assert event.details["names"] == {"tusur:grigorieva.pa": "Григорьева Полина Андреевна",
                                          "tpu:pgrigorieva": "Григорьева Полина Андреевна"}
    finally:
        app.extensions["campus_id"].engine.dispose()


def test_trust_names_configured_organizations_only() -> None:
    from idp.settings.load import parse_settings
    problems: list[str] = []
    parse_settings({"server": {"issuer": "https://id.campus.test", "secret_key": "k" * 32},
                    "database": {"url": "sqlite://"},
                    "organizations": {"tpu": people.organization("tpu").config(["ldap://127.0.0.1:1"])},
                    "linking": {"trust": {"tpu": ["msu"], "spbu": ["tpu"]}}}, problems)
    assert "linking.trust.tpu: 'msu' is not a configured organization" in problems
    assert "linking.trust.spbu: is not a configured organization" in problems
