"""Identity search reads indexes, never every account: the query plan on SQLite and
PostgreSQL uses the search term index; terms follow an account's changes and are filled by the
migration for accounts that existed before it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from idp.directory.base import DirectoryAccount
from idp.identity.login import upsert_account
from idp.linking import helpdesk
from idp.linking.helpdesk import HelpdeskScope
from idp.settings import DirectorySettings, DirectoryType, OrganizationSettings
from idp.storage.base import make_engine, make_session_factory
from idp.storage.migrate import upgrade
from idp.storage.search import AccountSearchTerm, NameSkeleton, terms_of

ORGS = {org: OrganizationSettings(org, org, org, f"{org}.ru",
                                  DirectorySettings(DirectoryType.LDAP, ("ldaps://x",), "dc=x"))
        for org in ("tpu", "tsu")}
EVERYWHERE = HelpdeskScope(None)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    found = make_engine(database_url)
    upgrade(found)
    yield found
    found.dispose()


def person(db: Session, org: str, username: str, given: str, family: str) -> str:
    account = upsert_account(db, DirectoryAccount(org, f"{org}-{username}", username, {
        "given_name": (given,), "family_name": (family,), "email": (f"{username}@{org}.ru",)}))
    return account.identity.sub


def find(db: Session, q: str) -> list[str]:
    return [i.sub for i in helpdesk.search(db, q, organizations=ORGS, scope=EVERYWHERE, limit=20)[0]]


def plan(db: Session, q: str) -> str:
    stmt = helpdesk.matching_ids(q, ORGS, db.get_bind().dialect.name)
    sql = str(stmt.compile(db.get_bind(), compile_kwargs={"literal_binds": True}))
    if db.get_bind().dialect.name == "sqlite":
        return "\n".join(str(row[-1]) for row in db.execute(text("EXPLAIN QUERY PLAN " + sql)))
    db.execute(text("SET LOCAL enable_seqscan = off"))  # only an index read can avoid a scan now
    return "\n".join(str(row[0]) for row in db.execute(text("EXPLAIN " + sql)))


def test_a_name_search_reads_the_term_index(engine: Engine) -> None:
    with make_session_factory(engine)() as db:
        for i in range(30):
            person(db, "tpu", f"user{i}", "Иван", f"Иванов{i}")
        person(db, "tsu", "anna.smirnova", "Анна", "Смирнова")
        db.commit()
        for q in ("смирнова анна", "smir", "anna.smirnova@tsu.ru"):
            shown = plan(db, q)
            assert "ix_account_search_terms_term" in shown, shown
            assert "SCAN account_search_terms" not in shown and "SCAN linked_accounts" not in shown
            assert "Seq Scan on account_search_terms" not in shown, shown
            assert "Seq Scan on linked_accounts" not in shown, shown


def test_terms_follow_the_account(engine: Engine) -> None:
    with make_session_factory(engine)() as db:
        sub = person(db, "tpu", "asmirnova", "Анна", "Смирнова")
        db.commit()
        assert find(db, "смирнова") == [sub]
        person(db, "tpu", "asmirnova", "Анна", "Петрова")  # married: the directory says so
        db.commit()
        assert find(db, "петрова анна") == [sub] and find(db, "смирнова") == []
        assert find(db, "петр_ва") == [] and find(db, "петр%") == []  # no wildcards


def test_the_migration_fills_terms_of_existing_accounts(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine, "0013")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO identities (sub, campus_id, created_at, status) "
                          "VALUES ('s1', '100000009', CURRENT_TIMESTAMP, 'active')"))
        conn.execute(text(
            "INSERT INTO linked_accounts (identity_id, organization, external_id, username, "
            "attributes, linked_at) SELECT id, 'tsu', 'x1', 'Petrov', "
            "'{\"family_name\": [\"Пётр\"], \"email\": [\"petrov@tsu.ru\"]}', CURRENT_TIMESTAMP "
            "FROM identities"))
    upgrade(engine)
    with make_session_factory(engine)() as db:
        stored = sorted(db.scalars(select(AccountSearchTerm.term)))
        assert stored == sorted(terms_of("Petrov", {"family_name": ["Пётр"],
                                                    "email": ["petrov@tsu.ru"]}))
        assert stored == sorted(["petrov", "petrov@tsu.ru", "tsu.ru", "петр", "~petr"])
        assert find(db, "пётр") == ["s1"]
    engine.dispose()


def test_a_typo_is_forgiven_in_the_words_that_match_nothing(engine: Engine) -> None:
    """The other words of the name still match as typed: `Ивнова Мария` finds Иванова Мария,
    not Иванова Марина too (`мария` and `марина` are of similar spelling)."""
    with make_session_factory(engine)() as db:
        maria = person(db, "tpu", "mivanova", "Мария", "Иванова")
        marina = person(db, "tpu", "mivanova2", "Марина", "Иванова")
        smirnova = person(db, "tsu", "asmirnova", "Анна", "Смирнова")
        person(db, "tsu", "osmirnvalov", "Олег", "Смирнвалов")
        db.commit()
        postgresql = db.get_bind().dialect.name == "postgresql"
        assert find(db, "Ивнова Мария") == ([maria] if postgresql else [])
        assert find(db, "Ivnova Marina") == ([marina] if postgresql else [])
        assert find(db, "мария иванова") == [maria]
        # Each word begins some name (смирнва: Смирнвалов), none an account's every word:
        # the typo may be in any of them.
        assert find(db, "Смирнва Анна") == ([smirnova] if postgresql else [])


def test_a_page_after_the_last_exact_match_is_empty(engine: Engine) -> None:
    """Paging to the end of what matched exactly never turns into a search forgiving typos
    (Смирнов is one letter from смирнова)."""
    with make_session_factory(engine)() as db:
        first = person(db, "tpu", "asmirnova", "Анна", "Смирнова")
        second = person(db, "tsu", "asmirnova", "Анна", "Смирнова")
        person(db, "tsu", "osmirnov", "Олег", "Смирнов")
        db.commit()
        page, cursor = helpdesk.search(db, "смирнова", organizations=ORGS, scope=EVERYWHERE,
                                       limit=1)
        assert [i.sub for i in page] == [first] and cursor is not None
        page, cursor = helpdesk.search(db, "смирнова", organizations=ORGS, scope=EVERYWHERE,
                                       limit=1, after=cursor)
        assert [i.sub for i in page] == [second] and cursor is None
        last = page[0].id
        assert helpdesk.search(db, "смирнова", organizations=ORGS, scope=EVERYWHERE, limit=1,
                               after=last) == ([], None)


def test_name_skeletons_hold_every_skeleton_term_once(database_url: str) -> None:
    """PostgreSQL: migration 0023 fills the typo vocabulary from the accounts that exist, and
    its trigger adds the skeletons of every account written after it; SQLite leaves it empty."""
    engine = make_engine(database_url)
    upgrade(engine, "0022")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO identities (sub, campus_id, created_at, status) "
                          "VALUES ('s1', '100000009', CURRENT_TIMESTAMP, 'active')"))
        conn.execute(text(
            "INSERT INTO linked_accounts (identity_id, organization, external_id, username, "
            "attributes, linked_at) SELECT id, 'tsu', 'x1', 'Petrov', "
            "'{\"family_name\": [\"Пётр\"]}', CURRENT_TIMESTAMP FROM identities"))
        conn.execute(text("INSERT INTO account_search_terms (account_id, term) "
                          "SELECT id, '~petr' FROM linked_accounts"))
    upgrade(engine)
    with make_session_factory(engine)() as db:
        person(db, "tpu", "apetrova", "Анна", "Петрова")
        person(db, "tsu", "anna.p", "Анна", "Петрова")
        db.commit()
        stored = list(db.scalars(select(NameSkeleton.term).order_by(NameSkeleton.term)))
    engine.dispose()
    postgresql = database_url.startswith("postgresql")
    assert stored == (["~ana", "~petr", "~petrova"] if postgresql else [])
