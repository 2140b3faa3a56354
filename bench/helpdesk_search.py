"""The helpdesk's search on a city's worth of people: a generated PostgreSQL data set of
200,000 campus identities (Russian family, given and patronymic names in their male and female
forms; 5 % with accounts in two or three organizations; e-mail addresses, campus cards, SNILS
fingerprints of the ``snils`` link rule, a few hundred open proposals, some people gone from
their directory or locked) in a throwaway database, loaded with COPY; then search p50/p99 for
each kind of query the console's box takes, as the console runs it (``idp.linking.console``:
the search and each result's line), and the person page's time.

    .venv/bin/python -m bench.helpdesk_search [--identities N] [--queries N] [--explain]

``BENCH_POSTGRES_URL``: an admin URL for the throwaway database. ``--explain`` prints the
query plan (EXPLAIN ANALYZE) of one query of each kind slower than the 50 ms target at p99.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import secrets
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from demo.throwaway_db import throwaway_database
from idp.linking import console, helpdesk
from idp.linking.fingerprints import Fingerprinter
from idp.linking.helpdesk import HelpdeskScope, SnilsSearch
from idp.linking.normalize import snils_check_number
from idp.linking.transliterate import romanize
from idp.provisioning.card_numbers import damm_digit, grouped
from idp.settings import Settings
from idp.settings.load import parse_settings
from idp.storage.base import make_engine, make_session_factory
from idp.storage.identities import Identity
from idp.storage.migrate import upgrade
from idp.storage.search import terms_of

POSTGRES_ADMIN = os.environ.get("BENCH_POSTGRES_URL",
                                "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IDENTITIES = 200_000
QUERIES = 200  # of each kind
TARGET_MS = 50.0
ORGS = {"tsu": "tsu.ru", "tpu": "tpu.ru", "tusur": "tusur.ru"}
SECRET = "h" * 40

# Common Russian family names in the male form; the female form is derived.
FAMILY = (
    "Иванов Смирнов Кузнецов Попов Васильев Петров Соколов Михайлов Новиков Фёдоров Морозов "
    "Волков Алексеев Лебедев Семёнов Егоров Павлов Козлов Степанов Николаев Орлов Андреев "
    "Макаров Никитин Захаров Зайцев Соловьёв Борисов Яковлев Григорьев Романов Воробьёв Сергеев "
    "Кузьмин Фролов Александров Дмитриев Королёв Гусев Киселёв Ильин Максимов Поляков Сорокин "
    "Виноградов Ковалёв Белов Медведев Антонов Тарасов Жуков Баранов Филиппов Комаров Давыдов "
    "Беляев Герасимов Богданов Осипов Сидоров Матвеев Титов Марков Миронов Крылов Куликов "
    "Карпов Власов Мельников Денисов Гаврилов Тихонов Казаков Афанасьев Данилов Савельев Тимофеев "
    "Фомин Чернов Абрамов Мартынов Ефимов Федотов Щербаков Назаров Калинин Исаев Чернышёв Быков "
    "Маслов Родионов Коновалов Лазарев Воронин Климов Филатов Пономарёв Голубев Кудрявцев "
    "Прохоров Наумов Потапов Журавлёв Овчинников Трофимов Леонов Соболев Ермаков Колесников "
    "Гончаров Емельянов Никифоров Грачёв Котов Гришин Ефремов Архипов Громов Кириллов Малышев "
    "Панов Моисеев Румянцев Акимов Кондратьев Бирюков Горбунов Анисимов Ерёмин Тихомиров "
    "Галкин Лукьянов Михеев Скворцов Юдин Белоусов Нестеров Симонов Прокофьев Харитонов "
    "Князев Цветков Левин Митрофанов Воронов Аксёнов Софронов Мальцев Логинов Горшков Савин "
    "Краснов Майоров Демидов Елисеев Рыбаков Сафонов Плотников Дёмин Хохлов Фадеев Молчанов "
    "Игнатов Литвинов Ершов Ушаков Дементьев Рябов Мухин Калашников Леонтьев Лобанов Кузин "
    "Корнилов Евдокимов Бородин Платонов Некрасов Балашов Бобров Жданов Блинов Игнатьев Коротков "
    "Муравьёв Крюков Беляков Богомолов Дроздов Лавров Зуев Петухов Ларин Никулин Серов Терентьев "
    "Зотов Устинов Фокин Самойлов Константинов Сахаров Шишкин Самсонов Черкасов Чистяков Носов "
    "Спиридонов Карасёв Авдеев Воронцов Зверев Владимиров Селезнёв Нечаев Кудряшов Седов Фирсов "
    "Андрианов Панин Головин Терехов Ульянов Шестаков Агеев Никонов Селиванов Баженов Гордеев "
    "Кожевников Пахомов Зимин Костин Широков Филимонов Ларионов Овсянников Сазонов Суворов "
    "Нефёдов Корнилов Любимов Львов Горбачёв Копылов Лукин Токарев Кулешов Шилов Большаков "
    "Панкратов Родин Шаповалов Покровский Бочаров Никольский Маркин Горелов Агафонов Березин "
    "Ермолаев Зубков Куприянов Трифонов Масленников Круглов Третьяков Колосов Рожков Артамонов "
    "Шмелёв Лаптев Лапшин Федосеев Зиновьев Зорин Уткин Столяров Зубов Ткачёв Дорофеев "
    "Антипов Завьялов Свиридов Золотарёв Кулаков Мещеряков Макеев Дьяконов Гуляев Петровский "
    "Бондарев Поздняков Панфилов Кочетков Суханов Рыжов Старостин Калмыков Колесов Золотов "
    "Кравцов Субботин Шубин Щукин Лосев Винокуров Лапин Парфёнов Исаков Голованов Коровин "
    "Розанов Артёмов Козырев Русаков Алёшин Крючков Булгаков Кошелев Сычёв Синицын Ёлкин "
    "Худяков Хабибуллин Зарипов Шамсутдинов Ким Цой Пак Шевченко Бондаренко Коваленко "
    "Ткаченко Кравченко Олейник Мельник Савченко Руденко Лысенко Гордиенко Юсупов Ахмедов").split()
# Given names, male and female, with the patronymics the male ones give.
MALE = ("Александр Алексей Анатолий Андрей Антон Аркадий Артём Борис Вадим Валентин Валерий "
        "Василий Виктор Виталий Владимир Владислав Вячеслав Геннадий Георгий Глеб Григорий "
        "Даниил Денис Дмитрий Евгений Егор Иван Игорь Илья Кирилл Константин Лев Леонид Максим "
        "Марк Матвей Михаил Никита Николай Олег Павел Пётр Роман Руслан Семён Сергей Станислав "
        "Степан Тимофей Тимур Фёдор Юрий Ярослав").split()
FEMALE = ("Алёна Алина Алиса Алла Анастасия Ангелина Анна Антонина Валентина Валерия Вера "
          "Вероника Виктория Галина Дарья Диана Евгения Екатерина Елена Елизавета Жанна Зинаида "
          "Зоя Ирина Карина Кира Ксения Лариса Лидия Любовь Людмила Маргарита Марина Мария "
          "Надежда Наталья Нина Оксана Олеся Ольга Полина Светлана Софья Таисия Тамара Татьяна "
          "Ульяна Юлия Яна").split()
# Latin spellings as people type them (not ICAO): the search must fold them to one skeleton.
_COMMON_LATIN = str.maketrans({
    "ё": "yo", "й": "y", "х": "kh", "ц": "ts", "щ": "shch", "ы": "y", "ь": "", "ъ": "",
    "ю": "yu", "я": "ya", "ж": "zh", "ч": "ch", "ш": "sh", "э": "e"})


def patronymic(father: str, female: bool) -> str:
    stem = {"Пётр": "Петр", "Лев": "Льв", "Павел": "Павл"}.get(father, father)
    if stem.endswith(("й", "ь")):
        stem, suffix = stem[:-1], ("евна" if female else "евич")
    elif stem.endswith(("а", "я")):
        stem, suffix = stem[:-1], ("ична" if female else "ич")
    else:
        suffix = "овна" if female else "ович"
    return stem + suffix


def feminine(family: str) -> str:
    if family.endswith(("ов", "ев", "ёв", "ин", "ын")):
        return family + "а"
    if family.endswith("ский"):
        return family[:-2] + "ая"
    return family  # Ким, Шевченко, Олейник: one form


def latin(word: str) -> str:
    text = word.casefold().translate(_COMMON_LATIN)
    return romanize(text).capitalize()


def valid_snils(rng: random.Random) -> str:
    first = f"{rng.randrange(2_000_000, 999_999_999):09d}"
    return first + snils_check_number(first)


@dataclass
class Person:
    identity_id: int
    sub: str
    campus_id: str
    family: str
    given: str
    accounts: list[tuple[str, str]]  # (organization, username)
    card: str | None
    snils: str


def bench_settings(database_url: str) -> Settings:
    problems: list[str] = []
    directory = {"type": "ldap", "uris": ["ldaps://ldap.bench.test"], "base_dn": "dc=bench"}
    settings = parse_settings({
        "server": {"issuer": "https://id.bench.test", "dev_mode": True, "secret_key": SECRET},
        "database": {"url": database_url},
        "organizations": {org: {"name": org.upper(), "scope": scope, "directory": directory}
                          for org, scope in ORGS.items()},
        "linking": {"rules": {"snils": {"match": ["snils"], "action": "link"}}},
    }, problems)
    if problems:
        raise SystemExit("bench settings: " + "; ".join(problems))
    return settings


class _Copy:
    """Rows written to one table by COPY, as text."""

    def __init__(self, table: str, columns: tuple[str, ...]) -> None:
        self.table, self.columns, self.buffer = table, columns, io.StringIO()

    def add(self, *values: Any) -> None:
        self.buffer.write("\t".join(_copy_text(v) for v in values) + "\n")

    def load(self, cursor: Any) -> None:
        with cursor.copy(f"COPY {self.table} ({', '.join(self.columns)}) FROM STDIN") as copy:
            copy.write(self.buffer.getvalue())


def _copy_text(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def generate(engine: Engine, count: int, seed: int = 15) -> list[Person]:
    """The data set, loaded with COPY; the people it holds, for the queries."""
    rng = random.Random(seed)
    fingerprinter = Fingerprinter.from_secret(SECRET)
    identities = _Copy("identities", ("id", "sub", "campus_id", "created_at", "status",
                                      "locked_at", "locked_by", "lock_reason"))
    accounts = _Copy("linked_accounts", ("id", "identity_id", "organization", "external_id",
                                         "username", "attributes", "linked_at", "last_login_at",
                                         "staff_role", "directory_state"))
    terms = _Copy("account_search_terms", ("account_id", "term"))
    prints = _Copy("match_fingerprints", ("account_id", "rule", "hash", "updated_at"))
    cards = _Copy("campus_cards", ("identity_id", "number", "state", "issued_at"))
    proposals = _Copy("link_proposals", ("rule", "reason", "status", "account_id", "identity_id",
                                         "candidate_identity_id", "created_at"))
    now = "2026-12-01 10:00:00+00"
    people: list[Person] = []
    account_id = 0
    orgs = list(ORGS)
    for identity_id in range(1, count + 1):
        female = rng.random() < 0.52
        family = rng.choice(FAMILY)
        given = rng.choice(FEMALE if female else MALE)
        middle = patronymic(rng.choice(MALE), female)
        if female:
            family = feminine(family)
        sub = secrets.token_urlsafe(24)
        campus_id = f"{100_000_000 + identity_id}"
        locked = rng.random() < 0.005
        identities.add(identity_id, sub, campus_id, now, "active", now if locked else None,
                       "helpdesk" if locked else None, "bench" if locked else None)
        n_orgs = rng.choice((2, 2, 3)) if rng.random() < 0.05 else 1
        snils = valid_snils(rng)
        person = Person(identity_id, sub, campus_id, family, given, [], None, snils)
        for org in rng.sample(orgs, n_orgs):
            account_id += 1
            username = f"{latin(given)[0]}.{latin(family)}{identity_id}".lower()
            attributes = {"given_name": [given], "family_name": [family], "middle_name": [middle],
                          "email": [f"{username}@{ORGS[org]}"],
                          "affiliation": [rng.choice(("student", "student", "staff", "faculty")),
                                          "member"]}
            gone = rng.random() < 0.03
            accounts.add(account_id, identity_id, org, f"{org}-{account_id}", username,
                         json.dumps(attributes, ensure_ascii=False), now, now, False,
                         "gone" if gone else "active")
            for term in terms_of(username, attributes):
                terms.add(account_id, term)
            prints.add(account_id, "snils",
                       fingerprinter.digest("snils", [("snils", snils)]), now)
            person.accounts.append((org, username))
        if rng.random() < 0.3:
            body = f"{rng.randrange(10**10, 10**11)}"
            person.card = body + damm_digit(body)
            cards.add(identity_id, person.card, "active", now)
        people.append(person)
    for _ in range(count // 400):
        account = rng.randrange(1, account_id + 1)
        proposals.add("snils", "several_matches", "pending", account, rng.randrange(1, count + 1),
                      rng.randrange(1, count + 1), now)
    raw = engine.raw_connection()
    try:
        cursor: Any = raw.cursor()  # psycopg's: COPY
        with cursor:  # the trigram index built once, after the rows are in
            cursor.execute("DROP INDEX ix_account_search_terms_trgm")
            for copied in (identities, accounts, terms, prints, cards, proposals):
                copied.load(cursor)
            for table in ("identities", "linked_accounts", "account_search_terms",
                          "match_fingerprints", "campus_cards", "link_proposals"):
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                               f"(SELECT coalesce(max(id), 1) FROM {table}))")
            cursor.execute("CREATE INDEX ix_account_search_terms_trgm ON account_search_terms "
                           "USING gin (term gin_trgm_ops) WHERE term LIKE '~%'")
        raw.commit()
    finally:
        raw.close()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return people


def queries(people: list[Person], n: int, seed: int = 7) -> dict[str, list[str]]:
    rng = random.Random(seed)
    sample = [rng.choice(people) for _ in range(n)]

    def typo(word: str) -> str:
        at = rng.randrange(1, len(word) - 1)
        return word[:at] + word[at + 1:]

    with_card = [p for p in people if p.card]
    return {
        "Cyrillic name": [f"{p.family} {p.given}" for p in sample],
        "Cyrillic name, other order, ё": [f"{p.given.lower()} {p.family.lower().replace('е', 'ё')}"
                                          for p in sample],
        "Latin name": [f"{latin(p.given)} {latin(p.family)}" for p in sample],
        "Latin family name": [latin(p.family) for p in sample],
        "one typo": [f"{typo(p.family)} {p.given}" for p in sample],
        "username": [p.accounts[0][1] for p in sample],
        "username@scope": [f"{p.accounts[0][1]}@{ORGS[p.accounts[0][0]]}" for p in sample],
        "email": [f"{p.accounts[0][1]}@{ORGS[p.accounts[0][0]]}".upper() for p in sample],
        "campus id": [p.campus_id for p in sample],
        "card number": [grouped(rng.choice(with_card).card or "") for _ in range(n)],
        "SNILS": [f"{p.snils[:3]}-{p.snils[3:6]}-{p.snils[6:9]} {p.snils[9:]}" for p in sample],
        "sub": [p.sub for p in sample],
    }


def timed(run: Callable[[], Any]) -> float:
    start = time.perf_counter()
    run()
    return (time.perf_counter() - start) * 1000


def percentiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def measure(engine: Engine, settings: Settings, people: list[Person], n: int,
            explain: bool) -> list[tuple[str, float, float, float]]:
    sessions = make_session_factory(engine)
    everywhere = HelpdeskScope(None)
    rows = []
    with sessions() as db:
        for kind, qs in queries(people, n).items():
            found: list[int] = []
            times = []
            for q in qs:
                def run(q: str = q, found: list[int] = found) -> None:
                    found.append(len(console.search(db, q, settings=settings, scope=everywhere)))
                times.append(timed(run))
                db.rollback()
                db.expunge_all()
            p50, p99 = percentiles(times)
            rows.append((kind, p50, p99, statistics.mean(found)))
            print(f"  {kind}: p50 {p50:.1f} ms, p99 {p99:.1f} ms", flush=True)
            if explain and p99 > TARGET_MS:
                _explain(db, settings, qs[0])
        sample = random.Random(3).sample(people, n)
        times = []
        for person in sample:
            def page(person: Person = person) -> None:
                identity = db.get_one(Identity, person.identity_id)
                console.person(db, settings, identity, everywhere)
            times.append(timed(page))
            db.rollback()
            db.expunge_all()
        p50, p99 = percentiles(times)
        rows.append(("person page", p50, p99, 1.0))
    return rows


def _explain(db: Session, settings: Settings, q: str) -> None:
    dialect = db.get_bind().dialect.name
    for similar in (False, True):
        ids = helpdesk.matching_ids(q, settings.organizations, dialect,
                                    snils=SnilsSearch.of(settings), similar=similar)
        stmt = select(Identity.id).where(Identity.id.in_(ids)).order_by(Identity.id).limit(21)
        sql = str(stmt.compile(db.get_bind(), compile_kwargs={"literal_binds": True}))
        print(f"\nEXPLAIN ANALYZE ({'similar' if similar else 'exact'}) for {q!r}:")
        driver: Any = db.connection().connection.driver_connection  # no parameters: % is %
        for row in driver.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql.replace("%%", "%")):
            print("  " + str(row[0]), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--identities", type=int, default=IDENTITIES)
    parser.add_argument("--queries", type=int, default=QUERIES)
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    with throwaway_database(POSTGRES_ADMIN, "campus_id_bench_search") as url:
        engine = make_engine(url)
        try:
            upgrade(engine)
            start = time.perf_counter()
            people = generate(engine, args.identities)
            loaded = time.perf_counter() - start
            with engine.connect() as conn:
                n_accounts = conn.scalar(text("SELECT count(*) FROM linked_accounts"))
                n_terms = conn.scalar(text("SELECT count(*) FROM account_search_terms"))
            print(f"Helpdesk search, PostgreSQL: {args.identities:,} identities, "
                  f"{n_accounts:,} accounts, {n_terms:,} search terms, generated and loaded in "
                  f"{loaded:.1f} s; {args.queries} queries of each kind, as the console runs "
                  f"them (search and result lines, 20 at most)", flush=True)
            rows = measure(engine, bench_settings(url), people, args.queries, args.explain)
        finally:
            engine.dispose()
    print(f"\n{'query':<32}{'p50 ms':>9}{'p99 ms':>9}{'found':>8}")
    for kind, p50, p99, found in rows:
        mark = "" if p99 < TARGET_MS else "  over the 50 ms target"
        print(f"{kind:<32}{p50:>9.1f}{p99:>9.1f}{found:>8.1f}{mark}")


if __name__ == "__main__":
    main()
