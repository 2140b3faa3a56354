"""helpdesk:ORG from a directory group (helpdesk_group_dn) on a real slapd: a member of tsu's
group signing in with the tsu account gets helpdesk:tsu (tsu's people, not tpu's), and counts
as staff for automatic linking; someone outside the group has no role; the role belongs to the
account that signed in, never to another account linked to the same person; a directory that
does not answer grants nothing and is logged; the group is asked while no database connection
is held."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from demo import people
from demo.slapd import SlapdServer
from idp import context
from idp.app import create_app
from idp.errors import DirectoryUnavailable
from idp.settings import Settings
from idp.storage.base import make_engine
from idp.storage.identities import LinkedAccount
from idp.storage.migrate import upgrade
from tests.flows.conftest import make_settings
from tests.flows.test_helpdesk_api import log_in
from tests.support.admin import admin_sign_in
from tests.support.ldap_groups import add_group

MEMBERS = ("vera.stepanova", "anna.smirnova")  # anna.smirnova is also tpu asmirnova (one SNILS)
NOT_MEMBER = "roman.belov"


@pytest.fixture(scope="module")
def tsu_helpdesk_group(directories: dict[str, SlapdServer]) -> str:
    return add_group(directories["tsu"], "dc=tsu,dc=ru", "campus-helpdesk",
                     [f"uid={m},ou=people,dc=tsu,dc=ru" for m in MEMBERS])


@pytest.fixture
def settings(database_url: str, directories: dict[str, SlapdServer],
             tsu_helpdesk_group: str) -> Settings:
    engine = make_engine(database_url)
    upgrade(engine)
    engine.dispose()
    tsu = people.organization("tsu").config([directories["tsu"].uri], timeout_s=2)
    tsu["directory"]["helpdesk_group_dn"] = tsu_helpdesk_group
    return make_settings(database_url, directories, organizations={"tsu": tsu},
                         linking={"rules": people.LINKING_RULES})


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    app = create_app(settings)
    yield app
    app.extensions["campus_id"].deliveries.wait_idle(10)
    app.extensions["campus_id"].engine.dispose()


def password(org: str, username: str) -> str:
    return people.organization(org).person(username).password


def sign_in(app: Flask, org: str, username: str) -> tuple[FlaskClient, int, str]:
    browser = app.test_client()
    browser.get("/?lang=en")
    page = admin_sign_in(browser, username, password(org, username), org, start="/helpdesk/",
                         area="helpdesk")
    return browser, page.status_code, page.get_data(as_text=True)


def sub_of(app: Flask, org: str, username: str) -> str:
    with app.extensions["campus_id"].sessions() as db:
        account = db.scalars(select(LinkedAccount).filter_by(organization=org,
                                                             username=username)).one()
        return account.identity.sub


def test_a_group_member_is_helpdesk_of_that_organization(app: Flask) -> None:
    log_in(app, "tsu", "maxim.novikov")
    log_in(app, "tpu", "dvasiliev")
    browser, status, html = sign_in(app, "tsu", "vera.stepanova")
    assert status == 200 and "roles: helpdesk:tsu" in html
    assert browser.get(f"/helpdesk/people/{sub_of(app, 'tsu', 'maxim.novikov')}").status_code == 200
    assert browser.get(f"/helpdesk/people/{sub_of(app, 'tpu', 'dvasiliev')}").status_code == 404
    with app.extensions["campus_id"].sessions() as db:
        member = db.scalars(select(LinkedAccount).filter_by(username="vera.stepanova")).one()
        assert member.staff_role  # kept apart from automatic linking, as an admin's


def test_someone_outside_the_group_has_no_role(app: Flask) -> None:
    _browser, status, html = sign_in(app, "tsu", NOT_MEMBER)
    assert status == 403 and "You have no helpdesk role" in html


def test_the_role_belongs_to_the_account_that_signed_in(app: Flask) -> None:
    """tpu asmirnova and tsu anna.smirnova are one person (one SNILS, linked at login); only
    the tsu account is in tsu's group."""
    tpu_sub = log_in(app, "tpu", "asmirnova")["claims"]["sub"]
    assert log_in(app, "tsu", "anna.smirnova")["claims"]["sub"] == tpu_sub
    _browser, status, html = sign_in(app, "tpu", "asmirnova")
    assert status == 403 and re.search(r"Your roles: —", html)
    _browser, status, html = sign_in(app, "tsu", "anna.smirnova")
    assert status == 200 and "helpdesk:tsu" in html


def test_an_unreachable_directory_grants_nothing_and_is_logged(
        app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    directories = context.services_of(app).directories
    inner = directories["tsu"]
    asked: list[int] = []

    class Unreachable:
        organization = "tsu"

        def authenticate(self, username: str, password: str) -> object:
            return inner.authenticate(username, password)  # type: ignore[attr-defined]

        def is_member(self, username: str, group_dn: str) -> bool:
            asked.append(context.services_of(app).engine.pool.checkedout())  # type: ignore[attr-defined]
            raise DirectoryUnavailable("ldap://tsu: timed out")

    directories["tsu"] = Unreachable()  # type: ignore[assignment]
    with caplog.at_level(logging.WARNING, logger="idp.admin.roles"):
        _browser, status, _html = sign_in(app, "tsu", "vera.stepanova")
    assert status == 403
    assert "helpdesk group of tsu not checked: ldap://tsu: timed out" in caplog.text
    assert asked and set(asked) == {0}  # no database connection held while asking
