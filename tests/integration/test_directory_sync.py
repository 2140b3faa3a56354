"""The directory sync over real slapd directories (the demo's tpu and Active-Directory-like
tusur), on SQLite and PostgreSQL: accounts before any login, linked by rule; refreshed
attributes; disabled and gone accounts losing grants, sessions and refresh tokens; and the
safety brake holding when the directory lists nobody, dies part of the way, or would take
too many at once."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import ldap
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bench import directory_data
from demo import people
from demo.slapd import SlapdServer
from idp.app import create_app
from idp.directory.base import DirectoryEntry, DirectoryListing, ListableDirectory
from idp.directory.ldap import LdapDirectory
from idp.provisioning.sync import SyncResult, sync_due, sync_organization
from idp.settings import Settings
from idp.settings.load import parse_settings
from idp.storage.audit import AuditEvent
from idp.storage.base import make_engine, make_session_factory, utcnow
from idp.storage.identities import DISABLED, GONE, IN_DIRECTORY, LinkedAccount
from idp.storage.provisioning import AccessGrant, DirectorySyncState
from idp.storage.sessions import LoginSession
from tests.flows.conftest import RP1, client_table
from tests.support.oidc_client import sign_in
from tests.support.tokens import refresh

DISABLED_FILTER = "(employeeType=disabled)"  # tpu keeps affiliations in eduPersonAffiliation


@pytest.fixture
def servers() -> Iterator[dict[str, SlapdServer]]:
    """tpu and tusur, each test its own (tests change their entries)."""
    started = {org_id: people.organization(org_id).server().start() for org_id in ("tpu", "tusur")}
    try:
        yield started
    finally:
        for server in started.values():
            server.close()


@pytest.fixture
def sessions(migrated_database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(migrated_database_url)
    yield make_session_factory(engine)
    engine.dispose()


def make_settings(database_url: str, servers: dict[str, SlapdServer], **tpu: Any) -> Settings:
    """Both organizations, the demo's SNILS link rule, and a library for students that ends
    at once (no grace) when they stop being one; ``tpu`` changes tpu's directory keys."""
    organizations = {org_id: people.organization(org_id).config([server.uri], timeout_s=2)
                     for org_id, server in servers.items()}
    organizations["tpu"]["directory"].update({"disabled_filter": DISABLED_FILTER, **tpu})
    data: dict[str, Any] = {
        "server": {"issuer": "https://id.campus.test", "dev_mode": True,
                   "secret_key": "sync-tests-secret-key-0123456789abcdef"},
        "database": {"url": database_url},
        "organizations": organizations,
        "clients": client_table(),
        "linking": {"rules": {"snils": people.LINKING_RULES["snils"]}},
        "access": {
            "resources": {"library": {"name": "Library", "name_ru": "Библиотека", "kind": "library"}},
            "policies": {"students": {"resources": ["library"], "affiliations": ["student"],
                                      "grace_days": 0}},
        },
    }
    problems: list[str] = []
    settings = parse_settings(data, problems)
    assert not problems, problems
    return settings


@pytest.fixture
def directories() -> Iterator[Callable[[Settings, str], LdapDirectory]]:
    made: list[LdapDirectory] = []

    def make(settings: Settings, org_id: str) -> LdapDirectory:
        made.append(LdapDirectory(org_id, settings.organizations[org_id].directory))
        return made[-1]

    yield make
    for directory in made:
        directory.close()


def account(db: Session, org: str, username: str) -> LinkedAccount:
    return db.scalars(select(LinkedAccount).where(LinkedAccount.organization == org,
                                                  LinkedAccount.username == username)).one()


def library(db: Session, acc: LinkedAccount) -> str | None:
    grant = db.scalars(select(AccessGrant).where(AccessGrant.identity_id == acc.identity_id,
                                                 AccessGrant.resource == "library")).one_or_none()
    return grant.state if grant else None


def audit_types(db: Session) -> list[str]:
    return [e.type for e in db.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def change(server: SlapdServer, username: str, attribute: str, value: str | None) -> None:
    conn = server.admin_connection()
    try:
        values = [value.encode()] if value is not None else []
        conn.modify_s(f"uid={username},ou=people,dc=tpu,dc=ru", [(ldap.MOD_REPLACE, attribute, values)])
    finally:
        conn.unbind_s()


def delete(server: SlapdServer, username: str) -> None:
    conn = server.admin_connection()
    try:
        conn.delete_s(f"uid={username},ou=people,dc=tpu,dc=ru")
    finally:
        conn.unbind_s()


def counts(result: SyncResult) -> tuple[int, int, int, int, int, int]:
    return (result.seen, result.new, result.changed, result.disabled, result.gone,
            result.grants_ended)


def test_the_first_sync_creates_accounts_before_any_login_and_links_a_joint_student(
        sessions: sessionmaker[Session], servers: dict[str, SlapdServer], database_url: str,
        directories: Callable[[Settings, str], LdapDirectory]) -> None:
    settings = make_settings(database_url, servers)
    tpu = sync_organization(sessions, settings, directories(settings, "tpu"))
    tusur = sync_organization(sessions, settings, directories(settings, "tusur"))
    assert counts(tpu) == (len(people.TPU.people), len(people.TPU.people), 0, 0, 0, 0)
    assert counts(tusur) == (len(people.TUSUR.people), len(people.TUSUR.people), 0, 0, 0, 0)
    assert tpu.stopped is None and tusur.stopped is None
    with sessions() as db:
        at_tpu, at_tusur = account(db, "tpu", "pgrigorieva"), account(db, "tusur", "grigorieva.pa")
        assert at_tpu.identity_id == at_tusur.identity_id
        assert at_tpu.last_login_at is None and at_tpu.directory_seen_at is not None
        assert account(db, "tusur", "zhukov.vo").identity_id == account(db, "tpu", "vzhukov").identity_id
        # An invalid SNILS links nothing (reported); the disabled AD account is kept, disabled.
        assert account(db, "tusur", "galiev.tr").identity_id != account(db, "tpu", "tgaliev").identity_id
        baranov = account(db, "tusur", "baranov.ip")
        assert baranov.directory_state == DISABLED and library(db, baranov) is None
        assert library(db, account(db, "tpu", "dvasiliev")) == "active"
        assert library(db, account(db, "tpu", "epopova")) is None  # staff
        linked = db.scalars(select(AuditEvent).where(AuditEvent.type == "account.linked")).all()
        assert sorted(e.details["account"] for e in linked) == ["tusur:grigorieva.pa", "tusur:zhukov.vo"]
        assert "link.invalid_value" in audit_types(db)
        synced = db.scalars(select(AuditEvent).where(AuditEvent.type == "directory.synced")).all()
        assert [e.details["new"] for e in synced] == [len(people.TPU.people), len(people.TUSUR.people)]


def test_the_person_who_logs_in_after_the_sync_is_the_identity_it_made(
        sessions: sessionmaker[Session], servers: dict[str, SlapdServer], database_url: str,
        directories: Callable[[Settings, str], LdapDirectory]) -> None:
    settings = make_settings(database_url, servers)
    sync_organization(sessions, settings, directories(settings, "tpu"))
    sync_organization(sessions, settings, directories(settings, "tusur"))
    with sessions() as db:
        made = account(db, "tpu", "pgrigorieva").identity.sub
    app = create_app(settings)
    try:
        browser = app.test_client()
        person = people.TUSUR.person("grigorieva.pa")
        code = sign_in(browser, RP1, person.username, person.password, organization="tusur")["code"]
        tokens = RP1.token(browser, code).json
        info = browser.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert info.json["sub"] == made
    finally:
        app.extensions["campus_id"].deliveries.wait_idle(10)
        app.extensions["campus_id"].engine.dispose()


def test_a_changed_attribute_is_refreshed_and_nothing_else_is_written(
        sessions: sessionmaker[Session], servers: dict[str, SlapdServer], database_url: str,
        directories: Callable[[Settings, str], LdapDirectory]) -> None:
    settings = make_settings(database_url, servers)
    directory = directories(settings, "tpu")
    sync_organization(sessions, settings, directory)
    change(servers["tpu"], "mpetrova", "mail", "maria.petrova@tpu.ru")
    second = sync_organization(sessions, settings, directory)  # incremental from the mark
    assert (second.new, second.changed, second.disabled, second.gone) == (0, 1, 0, 0)
    with sessions() as db:
        assert account(db, "tpu", "mpetrova").attributes["email"] == ["maria.petrova@tpu.ru"]
    third = sync_organization(sessions, settings, directory, full=True)
    assert counts(third) == (len(people.TPU.people), 0, 0, 0, 0, 0)


def test_a_disabled_account_loses_its_grants_sessions_and_refresh_tokens(
        sessions: sessionmaker[Session], servers: dict[str, SlapdServer], database_url: str,
        directories: Callable[[Settings, str], LdapDirectory]) -> None:
    settings = make_settings(database_url, servers)
    directory = directories(settings, "tpu")
    sync_organization(sessions, settings, directory)
    app = create_app(settings)
    try:
        browser = app.test_client()
        person = people.TPU.person("dvasiliev")
        code = sign_in(browser, RP1, person.username, person.password, organization="tpu",
                       scope="openid offline_access")["code"]
        token = RP1.token(browser, code).json["refresh_token"]
        change(servers["tpu"], "dvasiliev", "employeeType", "disabled")
        result = sync_organization(sessions, settings, directory)
        assert (result.disabled, result.grants_ended, result.stopped) == (1, 1, None)
        answer = refresh(browser, (RP1.client_id, RP1.secret), token)
        assert answer.status_code == 400 and answer.json["error"] == "invalid_grant"
        with sessions() as db:
            gone = account(db, "tpu", "dvasiliev")
            assert gone.directory_state == DISABLED
            assert library(db, gone) == "ended"
            assert all(s.ended_at is not None for s in db.scalars(select(LoginSession)))
            assert {"account.disabled", "access.ended", "session.logout"} <= set(audit_types(db))
        # Enabled again: the account is active and the library comes back.
        change(servers["tpu"], "dvasiliev", "employeeType", None)
        back = sync_organization(sessions, settings, directory)
        assert (back.changed, back.disabled, back.stopped) == (1, 0, None)
        with sessions() as db:
            again = account(db, "tpu", "dvasiliev")
            assert again.directory_state == IN_DIRECTORY and library(db, again) == "active"
            assert "account.reactivated" in audit_types(db)
    finally:
        app.extensions["campus_id"].deliveries.wait_idle(10)
        app.extensions["campus_id"].engine.dispose()


def test_a_deleted_entry_is_found_gone_only_by_a_full_sync(
        sessions: sessionmaker[Session], servers: dict[str, SlapdServer], database_url: str,
        directories: Callable[[Settings, str], LdapDirectory]) -> None:
    settings = make_settings(database_url, servers)
    directory = directories(settings, "tpu")
    sync_organization(sessions, settings, directory)
    delete(servers["tpu"], "asokolov")
    incremental = sync_organization(sessions, settings, directory)
    assert incremental.gone == 0
    full = sync_organization(sessions, settings, directory, full=True)
    assert (full.seen, full.gone, full.grants_ended, full.stopped) == (
        len(people.TPU.people) - 1, 1, 1, None)
    with sessions() as db:
        left = account(db, "tpu", "asokolov")
        assert left.directory_state == GONE and library(db, left) == "ended"
        assert "account.gone" in audit_types(db)


def test_a_directory_that_lists_nobody_ends_nothing_until_accepted(
        sessions: sessionmaker[Session], servers: dict[str, SlapdServer], database_url: str,
        directories: Callable[[Settings, str], LdapDirectory]) -> None:
    settings = make_settings(database_url, servers)
    sync_organization(sessions, settings, directories(settings, "tpu"))
    with sessions() as db:
        mark = db.get_one(DirectorySyncState, "tpu").mark
    empty = make_settings(database_url, servers,
                          user_filter="(&(objectClass=inetOrgPerson)(uid={username})(title=nobody))")
    held = sync_organization(sessions, empty, directories(empty, "tpu"), full=True)
    assert held.seen == 0 and held.stopped is not None and "no accounts" in held.stopped
    assert held.grants_ended == 0
    with sessions() as db:
        states = set(db.scalars(select(LinkedAccount.directory_state)
                                .where(LinkedAccount.organization == "tpu")))
        assert states == {IN_DIRECTORY}
        assert set(db.scalars(select(AccessGrant.state))) == {"active"}
        assert db.get_one(DirectorySyncState, "tpu").mark == mark
        assert "directory.sync_stopped" in audit_types(db)
    accepted = sync_organization(sessions, empty, directories(empty, "tpu"), full=True,
                                 accept_removals=True)
    assert accepted.stopped is None and accepted.gone == len(people.TPU.people)


class DiesAfterFirstPage:
    """A directory whose server is stopped once the listing's first page was handed out."""

    def __init__(self, inner: LdapDirectory, server: SlapdServer, page: int) -> None:
        self.organization = inner.organization
        self.inner, self.server, self.page = inner, server, page

    def listing(self, since: str | None = None) -> DirectoryListing:
        listing = self.inner.listing(since)
        inner = listing.entries

        def entries() -> Iterator[DirectoryEntry]:
            for n, entry in enumerate(inner):
                if n == self.page:
                    self.server.stop()
                yield entry

        return dataclasses.replace(listing, entries=entries())


def test_a_sync_whose_directory_dies_midway_ends_nothing(
        sessions: sessionmaker[Session], servers: dict[str, SlapdServer], database_url: str,
        directories: Callable[[Settings, str], LdapDirectory]) -> None:
    settings = make_settings(database_url, servers, sync_page_size=2)
    sync_organization(sessions, settings, directories(settings, "tpu"))
    with sessions() as db:
        mark = db.get_one(DirectorySyncState, "tpu").mark
    change(servers["tpu"], "demo", "employeeType", "disabled")
    dying = DiesAfterFirstPage(directories(settings, "tpu"), servers["tpu"], page=2)
    assert isinstance(dying, ListableDirectory)
    result = sync_organization(sessions, settings, dying, full=True, accept_removals=True)
    assert result.stopped is not None and "failed" in result.stopped
    assert result.seen < len(people.TPU.people) and result.grants_ended == 0
    with sessions() as db:
        states = set(db.scalars(select(LinkedAccount.directory_state)
                                .where(LinkedAccount.organization == "tpu")))
        assert states == {IN_DIRECTORY}
        assert set(db.scalars(select(AccessGrant.state))) == {"active"}
        assert db.get_one(DirectorySyncState, "tpu").mark == mark
        stopped = db.scalars(select(AuditEvent).where(
            AuditEvent.type == "directory.sync_stopped")).one()
        assert stopped.organization == "tpu" and stopped.details["reason"] == result.stopped


def test_more_removals_than_the_limit_wait_for_acceptance(
        sessions: sessionmaker[Session], servers: dict[str, SlapdServer], database_url: str,
        directories: Callable[[Settings, str], LdapDirectory]) -> None:
    settings = make_settings(database_url, servers, max_removal_floor=1)
    directory = directories(settings, "tpu")
    sync_organization(sessions, settings, directory)
    for username in ("dvasiliev", "asokolov"):
        change(servers["tpu"], username, "employeeType", "disabled")
    held = sync_organization(sessions, settings, directory)
    assert held.stopped is not None and "would end access for 2 of" in held.stopped
    assert (held.disabled, held.grants_ended) == (2, 0)  # found, not ended
    with sessions() as db:
        assert account(db, "tpu", "dvasiliev").directory_state == IN_DIRECTORY
        assert library(db, account(db, "tpu", "asokolov")) == "active"
    accepted = sync_organization(sessions, settings, directory, accept_removals=True)
    assert (accepted.disabled, accepted.grants_ended, accepted.stopped) == (2, 2, None)
    with sessions() as db:
        assert account(db, "tpu", "asokolov").directory_state == DISABLED


def test_scheduled_syncs_run_when_their_interval_has_passed(
        sessions: sessionmaker[Session], servers: dict[str, SlapdServer], database_url: str,
        directories: Callable[[Settings, str], LdapDirectory]) -> None:
    settings = make_settings(database_url, servers, sync_interval_s=600)
    found = {org: directories(settings, org) for org in ("tpu", "tusur")}
    now = utcnow()
    [first] = sync_due(sessions, settings, found, now)  # tusur has no interval: never scheduled
    assert (first.organization, first.new) == ("tpu", len(people.TPU.people))
    assert sync_due(sessions, settings, found, now + timedelta(seconds=300)) == []
    [later] = sync_due(sessions, settings, found, now + timedelta(seconds=601))
    assert later.new == 0 and later.stopped is None
    with sessions() as db:
        state = db.get_one(DirectorySyncState, "tpu")
        assert state.last_full_at == now and state.last_sync_at == now + timedelta(seconds=601)


def test_the_worker_runs_the_scheduled_sync_between_batches(
        sessions: sessionmaker[Session], servers: dict[str, SlapdServer], database_url: str) -> None:
    from idp.cli.worker import periodic_tasks

    without = make_settings(database_url, servers)
    assert "directory sync" not in [t.name for t in periodic_tasks(sessions, without)]
    settings = make_settings(database_url, servers, sync_interval_s=3600)
    [task] = [t for t in periodic_tasks(sessions, settings) if t.name == "directory sync"]
    task.run()
    task.run()  # not due again for an hour: nothing read, nothing written
    with sessions() as db:
        assert len(db.scalars(select(LinkedAccount).where(
            LinkedAccount.organization == "tpu")).all()) == len(people.TPU.people)
        synced = db.scalars(select(AuditEvent).where(AuditEvent.type == "directory.synced")).all()
        assert [e.organization for e in synced] == ["tpu"]


def test_an_incremental_sync_reads_only_what_changed(
        sessions: sessionmaker[Session], database_url: str) -> None:
    """A generated directory whose entries changed hours ago, as a real one's did."""
    with directory_data.running_directory(120) as generated:
        problems: list[str] = []
        settings = parse_settings({
            "server": {"issuer": "https://id.campus.test", "dev_mode": True, "secret_key": "s" * 40},
            "database": {"url": database_url},
            "organizations": {directory_data.ORGANIZATION: {
                **generated.config(), "directory": {**generated.config()["directory"],
                                                    "sync_page_size": 50}}},
        }, problems)
        assert not problems, problems
        directory = LdapDirectory(directory_data.ORGANIZATION,
                                  settings.organizations[directory_data.ORGANIZATION].directory)
        try:
            first = sync_organization(sessions, settings, directory)
            assert (first.seen, first.new, first.disabled) == (120, 120, 0)  # created disabled
            quiet = sync_organization(sessions, settings, directory)
            assert quiet.seen <= 1 and (quiet.new, quiet.changed) == (0, 0)
            changed = generated.modify(3)
            after = sync_organization(sessions, settings, directory)
            assert after.seen <= 4 and (after.new, after.changed) == (0, 3)
            with sessions() as db:
                disabled = db.scalars(select(LinkedAccount.username).where(
                    LinkedAccount.directory_state == DISABLED)).all()
                assert sorted(disabled) == [directory_data.username(i) for i in range(120)
                                            if directory_data.disabled(i)]
                names = {a.username: a.attributes["display_name"][0]
                         for a in db.scalars(select(LinkedAccount))}
                assert all(names[u].endswith(")") for u in changed)  # "(HH:MM:SS)" added
        finally:
            directory.close()


def test_a_login_that_creates_an_account_while_its_page_is_written_costs_the_page_a_retry(
        sessions: sessionmaker[Session], servers: dict[str, SlapdServer], database_url: str,
        directories: Callable[[Settings, str], LdapDirectory],
        monkeypatch: pytest.MonkeyPatch) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("on SQLite a page's transaction holds the write lock: a login waits for it")
    from idp.identity.login import upsert_account
    from idp.provisioning import sync_accounts

    settings = make_settings(database_url, servers)
    real = sync_accounts.create_accounts
    raced: list[str] = []

    def login_comes_first(db: Session, run: Any, linker: Any, entries: Any, evaluations: Any) -> Any:
        if not raced and entries:  # the page read the account as missing; a login creates it
            with sessions() as other:
                raced.append(upsert_account(other, entries[0].account).identity.sub)
                other.commit()
        return real(db, run, linker, entries, evaluations)

    monkeypatch.setattr(sync_accounts, "create_accounts", login_comes_first)
    result = sync_organization(sessions, settings, directories(settings, "tpu"))
    assert result.stopped is None
    assert (result.seen, result.new) == (len(people.TPU.people), len(people.TPU.people) - 1)
    with sessions() as db:
        accounts = db.scalars(select(LinkedAccount).where(LinkedAccount.organization == "tpu")).all()
        assert len(accounts) == len(people.TPU.people)
        assert raced[0] in {a.identity.sub for a in accounts}  # the login's identity is kept


def test_an_account_disabled_while_its_person_keeps_another_ends_only_its_own_sessions(
        sessions: sessionmaker[Session], servers: dict[str, SlapdServer], database_url: str,
        directories: Callable[[Settings, str], LdapDirectory]) -> None:
    settings = make_settings(database_url, servers)
    for org in ("tpu", "tusur"):
        sync_organization(sessions, settings, directories(settings, org))
    app = create_app(settings)
    try:
        tokens = {}
        for org, username in (("tpu", "pgrigorieva"), ("tusur", "grigorieva.pa")):
            browser = app.test_client()
            person = people.organization(org).person(username)
            code = sign_in(browser, RP1, person.username, person.password, organization=org,
                           scope="openid offline_access")["code"]
            tokens[org] = (browser, RP1.token(browser, code).json["refresh_token"])
        change(servers["tpu"], "pgrigorieva", "employeeType", "disabled")
        result = sync_organization(sessions, settings, directories(settings, "tpu"))
        assert (result.disabled, result.grants_ended) == (1, 0)  # still a student at tusur
        creds = (RP1.client_id, RP1.secret)
        assert refresh(tokens["tpu"][0], creds, tokens["tpu"][1]).status_code == 400
        assert refresh(tokens["tusur"][0], creds, tokens["tusur"][1]).status_code == 200
        with sessions() as db:
            live = db.scalars(select(LoginSession).where(LoginSession.ended_at.is_(None))).all()
            assert [s.account.username for s in live] == ["grigorieva.pa"]
            assert library(db, account(db, "tusur", "grigorieva.pa")) == "active"
    finally:
        app.extensions["campus_id"].deliveries.wait_idle(10)
        app.extensions["campus_id"].engine.dispose()
