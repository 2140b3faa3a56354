"""Concurrent first logins of accounts that a rule links: every thread ends on one identity per
person, none is created twice and no link is lost (real slapd, SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from demo import people
from demo.slapd import SlapdServer
from idp.directory.base import AuthResult
from idp.directory.ldap import LdapDirectory
from idp.identity.login import login_with_password
from idp.identity.throttle import build_throttle
from idp.linking.rules import Linker
from idp.settings import ThrottleSettings
from idp.storage.base import make_engine, make_session_factory
from idp.storage.identities import Identity, LinkedAccount
from idp.storage.linking import LinkProposal
from idp.storage.migrate import upgrade
from tests.flows.conftest import make_settings

pytestmark = pytest.mark.slapd
# Each person's accounts, some logging in twice at once.
LOGINS = [("tpu", "pgrigorieva"), ("tpu", "pgrigorieva"), ("tusur", "grigorieva.pa"),
          ("tusur", "grigorieva.pa"), ("tpu", "vzhukov"), ("tsu", "viktor.zhukov"),
          ("tusur", "zhukov.vo")]


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, SlapdServer]]:
    started = {org: people.organization(org).server().start() for org in ("tpu", "tsu", "tusur")}
    yield started
    for server in started.values():
        server.close()


class AtTheBarrier:
    """The real directory, then a wait for every other login: the database work of all the
    logins starts together."""

    def __init__(self, directory: LdapDirectory, barrier: threading.Barrier) -> None:
        self.directory = directory
        self.organization = directory.organization
        self.barrier = barrier

    def authenticate(self, username: str, password: str) -> AuthResult:
        result = self.directory.authenticate(username, password)
        self.barrier.wait()
        return result


def test_concurrent_first_logins_link_without_duplicates(
        database_url: str, servers: dict[str, SlapdServer]) -> None:
    settings = make_settings(database_url, servers, linking={"rules": people.LINKING_RULES})
    engine = make_engine(database_url)
    upgrade(engine)
    sessions: sessionmaker[Session] = make_session_factory(engine)
    linker = Linker.from_settings(settings)
    barrier = threading.Barrier(len(LOGINS))
    directories = {org: AtTheBarrier(LdapDirectory(org, o.directory), barrier)
                   for org, o in settings.organizations.items()}
    subs: dict[tuple[str, str], set[str]] = {}
    errors: list[BaseException] = []

    def login(org: str, username: str) -> None:
        password = people.organization(org).person(username).password
        try:
            with sessions() as db:
                outcome = login_with_password(
                    db, directories[org], username, password, ip=None, linker=linker,
                    throttle=build_throttle(ThrottleSettings(enabled=False)))
                db.commit()
                assert outcome.identity is not None
                subs.setdefault((org, username), set()).add(outcome.identity.sub)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=login, args=pair) for pair in LOGINS]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors

    with sessions() as db:
        # Every login saw the sub its account has now: nobody was handed a sub that vanished.
        final = {(a.organization, a.username): a.identity.sub
                 for a in db.scalars(select(LinkedAccount))}
        assert {key: {sub} for key, sub in final.items()} == subs
        assert final[("tpu", "pgrigorieva")] == final[("tusur", "grigorieva.pa")]
        assert final[("tpu", "vzhukov")] == final[("tsu", "viktor.zhukov")] == final[("tusur", "zhukov.vo")]
        assert db.scalar(select(func.count()).select_from(Identity)) == 2
        assert db.scalar(select(func.count()).select_from(LinkedAccount)) == 5
        assert db.scalar(select(func.count()).select_from(LinkProposal)) == 0
    engine.dispose()
