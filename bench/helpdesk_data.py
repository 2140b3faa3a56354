"""The helpdesk search bench's data set: 200,000 campus identities in PostgreSQL (Russian
family, given and patronymic names in their male and female forms; 5 % with accounts in two or
three organizations; e-mail addresses, campus cards, SNILS fingerprints of the ``snils`` link
rule, a few hundred open proposals, some people gone from their directory or locked).

The people come from a seed alone (:func:`person`: the same person for an identity id on
every run, made without the others), their rows go in by COPY with the tables' secondary
indexes and foreign keys dropped for the load and made again after it (one sort per index
instead of millions of inserts into it). With ``keep``, the loaded database is kept as a template named by the
generator's version, the number of identities and the schema's revision, and the next run
copies it instead of loading again.
"""

from __future__ import annotations

import base64
import io
import json
import random
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from demo.throwaway_db import throwaway_database
from idp.linking.fingerprints import Fingerprinter
from idp.linking.normalize import snils_check_number
from idp.linking.transliterate import romanize
from idp.provisioning.card_numbers import damm_digit
from idp.storage.base import make_engine
from idp.storage.migrate import head_revision, upgrade
from idp.storage.search import terms_of

VERSION = 3  # of what person() and rows() make: a kept data set of another version is never used
KEPT = "campus_id_bench_search_kept"  # kept data sets' names begin so
ORGS = {"tsu": "tsu.ru", "tpu": "tpu.ru", "tusur": "tusur.ru"}
SECRET = "h" * 40
NOW = "2026-12-01 10:00:00+00"
TABLES = ("identities", "linked_accounts", "account_search_terms", "match_fingerprints",
          "campus_cards", "link_proposals")

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
AFFILIATIONS = ("student", "student", "staff", "faculty")
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


@lru_cache(maxsize=4096)  # a few hundred names, each spelled once
def latin(word: str) -> str:
    text = word.casefold().translate(_COMMON_LATIN)
    return romanize(text).capitalize()


def valid_snils(rng: random.Random) -> str:
    first = f"{rng.randrange(2_000_000, 999_999_999):09d}"
    return first + snils_check_number(first)


@dataclass(frozen=True)
class Account:
    organization: str
    username: str
    affiliation: str
    gone: bool  # no longer in its directory


@dataclass
class Person:
    identity_id: int
    sub: str
    campus_id: str
    family: str
    given: str
    middle: str
    snils: str
    locked: bool
    accounts: list[Account] = field(default_factory=list)
    card: str | None = None


def person(identity_id: int, seed: int = 15) -> Person:
    """One person of the data set, the same every run: each is made from a random stream of
    its own, so that a bench picks its queries' people without making all the others."""
    rng = random.Random(seed * 1_000_000_000 + identity_id)
    female = rng.random() < 0.52
    family = rng.choice(FAMILY)
    given = rng.choice(FEMALE if female else MALE)
    middle = patronymic(rng.choice(MALE), female)
    found = Person(identity_id, base64.urlsafe_b64encode(rng.randbytes(24)).decode(),
                   f"{100_000_000 + identity_id}", feminine(family) if female else family,
                   given, middle, valid_snils(rng), rng.random() < 0.005)
    orgs = rng.sample(list(ORGS), rng.choice((2, 2, 3))) if rng.random() < 0.05 else [
        rng.choice(list(ORGS))]
    username = f"{latin(given)[0]}.{latin(found.family)}{identity_id}".lower()
    found.accounts = [Account(org, username, rng.choice(AFFILIATIONS), rng.random() < 0.03)
                      for org in orgs]
    if rng.random() < 0.3:
        body = f"{rng.randrange(10**10, 10**11)}"
        found.card = body + damm_digit(body)
    return found


def people(count: int, seed: int = 15) -> Iterator[Person]:
    """The data set's people, by identity id."""
    return (person(identity_id, seed) for identity_id in range(1, count + 1))


class _Copy:
    """Rows for one table's COPY, as its text format."""

    def __init__(self, table: str, columns: tuple[str, ...]) -> None:
        self.table, self.columns, self.buffer = table, columns, io.StringIO()

    def add(self, *values: Any) -> None:
        self.buffer.write("\t".join(_copy_text(v) for v in values) + "\n")

    def add_pairs(self, first: int, seconds: list[str]) -> None:
        """Rows (``first``, each of ``seconds``): the bulk of the data set, written at once."""
        self.buffer.write("".join(f"{first}\t{_copy_text(v)}\n" for v in seconds))

    def load(self, cursor: Any) -> None:
        with cursor.copy(f"COPY {self.table} ({', '.join(self.columns)}) FROM STDIN") as copy:
            copy.write(self.buffer.getvalue())


def _copy_text(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text:
        return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
    return text


def rows(found: Iterable[Person], seed: int = 15) -> list[_Copy]:
    """Every table's rows for ``found``, in the order they load (foreign keys satisfied)."""
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
    account_id = count = 0
    for p in found:
        count += 1
        identities.add(p.identity_id, p.sub, p.campus_id, NOW, "active",
                       NOW if p.locked else None, "helpdesk" if p.locked else None,
                       "bench" if p.locked else None)
        snils_print = fingerprinter.digest("snils", [("snils", p.snils)])
        for a in p.accounts:
            account_id += 1
            attributes = {"given_name": [p.given], "family_name": [p.family],
                          "middle_name": [p.middle],
                          "email": [f"{a.username}@{ORGS[a.organization]}"],
                          "affiliation": [a.affiliation, "member"]}
            accounts.add(account_id, p.identity_id, a.organization, f"{a.organization}-{account_id}",
                         a.username, json.dumps(attributes, ensure_ascii=False), NOW, NOW, False,
                         "gone" if a.gone else "active")
            terms.add_pairs(account_id, terms_of(a.username, attributes))
            prints.add(account_id, "snils", snils_print, NOW)
        if p.card:
            cards.add(p.identity_id, p.card, "active", NOW)
    for _ in range(count // 400):
        proposals.add("snils", "several_matches", "pending", rng.randrange(1, account_id + 1),
                      rng.randrange(1, count + 1), rng.randrange(1, count + 1), NOW)
    return [identities, accounts, terms, prints, cards, proposals]


def load(engine: Engine, count: int) -> None:
    """The first ``count`` people's rows into the (migrated, empty) database, then its
    statistics."""
    copies = rows(people(count))
    raw = engine.raw_connection()
    try:
        cursor: Any = raw.cursor()  # psycopg's: COPY
        with cursor:
            cursor.execute("SET maintenance_work_mem = '256MB'")
            made_again = _drop_for_load(cursor)
            for copied in copies:
                copied.load(cursor)
            for statement in made_again:
                cursor.execute(statement)
            for table in TABLES:
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                               f"(SELECT coalesce(max(id), 1) FROM {table}))")
        raw.commit()
    finally:
        raw.close()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def _drop_for_load(cursor: Any) -> list[str]:
    """Drops the loaded tables' foreign keys and indexes other than primary keys; returns the
    statements that make them again, indexes first."""
    tables = list(TABLES)
    cursor.execute(
        "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) "
        "FROM pg_constraint c WHERE c.contype IN ('f', 'u') "
        "AND c.conrelid::regclass::text = ANY(%s) ORDER BY c.contype DESC", (tables,))
    constraints = list(cursor.fetchall())  # unique ones first: foreign keys may need them
    cursor.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid::regclass::text = ANY(%s) AND NOT i.indisprimary AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)", (tables,))
    indexes = list(cursor.fetchall())
    for table, name, _definition in reversed(constraints):
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        cursor.execute(f"DROP INDEX {name}")
    return ([definition for _name, definition in indexes]
            + [f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
               for table, name, definition in constraints])


def kept_name(count: int) -> str:
    """The kept data set of this generator, ``count`` identities and the schema's head."""
    return f"{KEPT}_v{VERSION}_{count}_{head_revision()}"


@contextmanager
def data_set(admin_url: str, count: int, *, keep: bool = False) -> Iterator[tuple[str, str]]:
    """A throwaway database holding the data set of ``count`` people, and how it was made (for
    the bench's first line). With ``keep``, it is copied from the kept data set, which is made
    first when there is none."""
    started = time.perf_counter()
    if not keep:
        with throwaway_database(admin_url, "campus_id_bench_search") as url:
            _generate(url, count)
            yield url, f"generated and loaded in {time.perf_counter() - started:.1f} s"
        return
    template = kept_name(count)
    how = f"copied from the kept data set {template}"
    if not _exists(admin_url, template):
        _keep(admin_url, template, count)
        how = f"generated, loaded and kept as {template}"
    with throwaway_database(admin_url, "campus_id_bench_search", template=template) as url:
        yield url, f"{how} in {time.perf_counter() - started:.1f} s"


def _generate(url: str, count: int) -> None:
    engine = make_engine(url)
    try:
        upgrade(engine)
        load(engine, count)
    finally:
        engine.dispose()


def _keep(admin_url: str, template: str, count: int) -> None:
    """Makes the kept data set: loaded under a name of its own and renamed when complete, so
    that an interrupted run never leaves a half-loaded data set under the kept name."""
    loading = f"{template}_loading"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{loading}"'))
            conn.execute(text(f'CREATE DATABASE "{loading}"'))
        try:
            _generate(make_url(admin_url).set(database=loading).render_as_string(
                hide_password=False), count)
        except BaseException:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{loading}"'))
            raise
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{loading}" RENAME TO "{template}"'))
    finally:
        admin.dispose()


def _exists(admin_url: str, name: str) -> bool:
    admin = create_engine(admin_url)
    try:
        with admin.connect() as conn:
            return bool(conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                    {"n": name}))
    finally:
        admin.dispose()


def drop_kept(admin_url: str) -> list[str]:
    """Drops every kept data set (of any version); their names."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            names = list(conn.scalars(text("SELECT datname FROM pg_database WHERE datname LIKE "
                                           ":p ESCAPE '!'"), {"p": KEPT.replace("_", "!_") + "!_%"}))
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        return names
    finally:
        admin.dispose()
