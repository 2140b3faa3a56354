"""org_admin from a directory group (admin_group_dn) on a real slapd: members of the group
get the role of their organization at sign-in, others do not; the membership check escapes
what it is given and a missing group has no members."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from demo import people
from demo.slapd import SlapdServer
from idp.app import create_app
from idp.directory.ldap import LdapDirectory
from idp.settings import Settings
from tests.flows.conftest import make_settings
from tests.support.admin import admin_sign_in
from tests.support.ldap_groups import add_group

GROUP = "cn=campus-admins,ou=groups,dc=tsu,dc=ru"
MEMBER = "olga.kozlova"
NOT_MEMBER = "maxim.novikov"


@pytest.fixture(scope="module")
def tsu_group(directories: dict[str, SlapdServer]) -> str:
    """The group in tsu's directory (added once; the people's entries are untouched)."""
    return add_group(directories["tsu"], "dc=tsu,dc=ru", "campus-admins",
                     [f"uid={MEMBER},ou=people,dc=tsu,dc=ru"])


@pytest.fixture
def group_settings(migrated_database_url: str, directories: dict[str, SlapdServer],
                   tsu_group: str) -> Settings:
    tsu = people.organization("tsu").config([directories["tsu"].uri], timeout_s=2)
    tsu["directory"]["admin_group_dn"] = tsu_group
    return make_settings(migrated_database_url, directories, organizations={"tsu": tsu})


@pytest.fixture
def group_app(group_settings: Settings) -> Iterator[Flask]:
    app = create_app(group_settings)
    yield app
    app.extensions["campus_id"].engine.dispose()


def password(username: str) -> str:
    return people.organization("tsu").person(username).password


def test_group_member_is_org_admin_of_that_organization(group_app: Flask) -> None:
    browser = group_app.test_client()
    page = admin_sign_in(browser, MEMBER, password(MEMBER), "tsu")
    assert page.status_code == 200
    assert "org_admin:tsu" in page.get_data(as_text=True)
    assert browser.get("/admin/clients?org=tsu").status_code == 200
    assert browser.get("/admin/clients?org=tpu").status_code == 403


def test_someone_outside_the_group_has_no_role(group_app: Flask) -> None:
    browser = group_app.test_client()
    page = admin_sign_in(browser, NOT_MEMBER, password(NOT_MEMBER), "tsu")
    assert page.status_code == 403


def test_membership_check_on_the_directory(group_settings: Settings) -> None:
    directory = LdapDirectory("tsu", group_settings.organizations["tsu"].directory)
    assert directory.is_member(MEMBER, GROUP)
    assert not directory.is_member(NOT_MEMBER, GROUP)
    assert not directory.is_member("*", GROUP)  # a wildcard is a character, not a pattern
    assert not directory.is_member(f"{MEMBER})(uid=*", GROUP)
    assert not directory.is_member(MEMBER, "cn=nobody,ou=groups,dc=tsu,dc=ru")
    assert not directory.is_member("", GROUP)


def test_the_group_is_asked_while_no_database_connection_is_held(group_app: Flask) -> None:
    """No network call inside a database transaction: the membership check at sign-in comes
    after the sign-in's reads are over."""
    from idp import context

    directories = context.services_of(group_app).directories
    inner = directories["tsu"]
    held: list[int] = []

    class Watching:
        organization = "tsu"

        def authenticate(self, username: str, password: str) -> object:
            return inner.authenticate(username, password)  # type: ignore[attr-defined]

        def is_member(self, username: str, group_dn: str) -> bool:
            held.append(context.services_of(group_app).engine.pool.checkedout())  # type: ignore[attr-defined]
            return bool(inner.is_member(username, group_dn))  # type: ignore[attr-defined]

    directories["tsu"] = Watching()  # type: ignore[assignment]
    page = admin_sign_in(group_app.test_client(), MEMBER, password(MEMBER), "tsu")
    assert page.status_code == 200
    assert held and set(held) == {0}
