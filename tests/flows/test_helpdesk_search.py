"""The helpdesk's one search box through the API, after real slapd logins of the demo's
people, on SQLite and PostgreSQL: a name in Cyrillic or Latin letters, in any order, ё or е,
one typo forgiven (PostgreSQL); a username with or without its scope, an e-mail address, the
campus id, the card number, the SNILS in any of its formats (never a wrong one), the sub; and a
scoped helpdesk never finds a person of another organization."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from demo import people
from demo.slapd import SlapdServer
from idp.app import create_app
from idp.provisioning.card_numbers import grouped, new_number
from idp.storage.cards import CampusCard
from idp.storage.identities import Identity
from tests.flows.conftest import make_settings
from tests.flows.test_helpdesk_api import HELPDESK, HELPDESK_TPU, call, helpdesk_clients, log_in, token_of

HELPDESK_TSU = ("helpdesk-tsu", "helpdesk-tsu-secret-0123456789")


@pytest.fixture
def database(migrated_database_url: str) -> str:
    return migrated_database_url


@pytest.fixture
def app(database: str, directories: dict[str, SlapdServer]) -> Iterator[Flask]:
    """The demo's linking rules: a SNILS read at login is kept as its rule's fingerprint."""
    clients = {**helpdesk_clients(),
               HELPDESK_TSU[0]: {"name": "Helpdesk TSU", "client_secret": HELPDESK_TSU[1],
                                 "grant_types": ["client_credentials"], "scopes": [],
                                 "roles": ["helpdesk:tsu"]}}
    app = create_app(make_settings(database, directories, clients=clients,
                                   linking={"rules": people.LINKING_RULES}))
    yield app
    app.extensions["campus_id"].engine.dispose()


@pytest.fixture
def api(app: Flask) -> FlaskClient:
    return app.test_client()


def found(api: FlaskClient, token: str, q: str) -> list[str]:
    response = call(api, "GET", "/identities", token, query_string={"q": q})
    assert response.status_code == 200, response.json
    return [item["sub"] for item in response.json["items"]]


def issue_card(app: Flask, sub: str) -> str:
    with app.extensions["campus_id"].sessions() as db:
        identity = db.scalars(select(Identity).where(Identity.sub == sub)).one()
        card = CampusCard(identity_id=identity.id, number=new_number())
        db.add(card)
        db.commit()
        return card.number


def campus_id(app: Flask, sub: str) -> str:
    with app.extensions["campus_id"].sessions() as db:
        return db.scalars(select(Identity.campus_id).where(Identity.sub == sub)).one()


def test_every_identifier_finds_the_person(app: Flask, api: FlaskClient, database: str) -> None:
    elkina = log_in(app, "tsu", "alena.elkina")["claims"]["sub"]  # Ёлкина Алёна Викторовна
    petrova = log_in(app, "tpu", "mpetrova")["claims"]["sub"]  # Петрова Мария, with a SNILS
    log_in(app, "tpu", "epopova")  # Попова Елена: someone else
    token = token_of(api, HELPDESK)

    for q in ("Elkina", "elkina alena", "Yolkina Alyona", "ЁЛКИНА", "алена елкина",
              "Ёлкина Алёна Викторовна", "Alena Viktorovna"):
        assert found(api, token, q) == [elkina], q
    assert found(api, token, "Petrova Mariya") == [petrova]
    assert found(api, token, "Ivanova") == []
    typo = found(api, token, "Ёлкна")  # one letter left out
    if database.startswith("postgresql"):
        assert typo == [elkina]
        assert found(api, token, "Elkna Alena") == [elkina]
    else:  # SQLite: no similar spellings, only prefixes and skeletons
        assert typo == []

    for q in ("alena.elkina", "alena.elkina@tsu.ru", "Alena.Elkina@TSU.RU"):
        assert found(api, token, q) == [elkina], q
    assert found(api, token, "alena.elkina@tpu.ru") == []  # no such account at tpu
    assert found(api, token, elkina) == [elkina]
    assert found(api, token, campus_id(app, elkina)) == [elkina]

    card = issue_card(app, petrova)
    for q in (card, grouped(card), "-".join(grouped(card).split())):
        assert found(api, token, q) == [petrova], q
    wrong_card = card[:-1] + str((int(card[-1]) + 1) % 10)
    assert found(api, token, wrong_card) == []

    snils = people.organization("tpu").person("mpetrova").snils
    for q in (snils, f"{snils[:3]}-{snils[3:6]}-{snils[6:9]} {snils[9:]}",
              f"{snils[:3]} {snils[3:6]} {snils[6:9]} {snils[9:]}", people.dashed_snils(snils)):
        assert found(api, token, q) == [petrova], q
    wrong = snils[:-1] + str((int(snils[-1]) + 1) % 10)  # the check number fails
    response = call(api, "GET", "/identities", token, query_string={"q": wrong})
    assert response.status_code == 200 and response.json["items"] == []
    assert wrong not in response.get_data(as_text=True)


def test_a_scoped_helpdesk_finds_only_its_organizations_people(app: Flask, api: FlaskClient) -> None:
    elkina = log_in(app, "tsu", "alena.elkina")["claims"]["sub"]
    petrova = log_in(app, "tpu", "mpetrova")["claims"]["sub"]
    snils = people.organization("tpu").person("mpetrova").snils
    tsu, tpu = token_of(api, HELPDESK_TSU), token_of(api, HELPDESK_TPU)

    assert found(api, tsu, "Elkina") == [elkina]
    for q in ("Petrova", "Петрова Мария", "mpetrova", "mpetrova@tpu.ru", petrova, snils,
              campus_id(app, petrova)):
        assert found(api, tsu, q) == [], q
        assert found(api, tpu, q) == [petrova], q
    assert found(api, tpu, "Elkina") == [] and found(api, tpu, "alena.elkina@tsu.ru") == []

