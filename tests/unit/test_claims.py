"""Claims by scope: only what each granted scope releases, scoped affiliations, and the
campus identifiers."""

from __future__ import annotations

from datetime import UTC, datetime

from idp.identity.claims import claims_for
from idp.settings import DirectorySettings, DirectoryType, OrganizationSettings
from idp.storage.identities import Identity, LinkedAccount, luhn_digit, new_campus_id

ORGS = {
    "tpu": OrganizationSettings("tpu", "TPU", "ТПУ", "tpu.ru",
                                DirectorySettings(DirectoryType.LDAP, ("ldaps://x",), "dc=x")),
}


def identity() -> Identity:
    person = Identity(id=1, sub="opaque-sub", campus_id="123456782")
    person.accounts = [LinkedAccount(
        id=1, organization="tpu", external_id="u-1", username="ivanov",
        linked_at=datetime(2026, 1, 1, tzinfo=UTC),
        attributes={"given_name": ["Иван"], "family_name": ["Иванов"],
                    "middle_name": ["Петрович"], "email": ["ivanov@tpu.ru"],
                    "affiliation": ["student", "member"]},
    )]
    return person


def test_openid_alone_releases_only_the_subject() -> None:
    assert claims_for(identity(), ["openid"], ORGS) == {"sub": "opaque-sub"}


def test_profile_email_and_campus_scopes() -> None:
    claims = claims_for(identity(), ["openid", "profile", "email", "campus"], ORGS)
    assert claims == {
        "sub": "opaque-sub",
        "name": "Иван Петрович Иванов",
        "given_name": "Иван",
        "family_name": "Иванов",
        "middle_name": "Петрович",
        "preferred_username": "ivanov@tpu.ru",
        "locale": "ru-RU",
        "email": "ivanov@tpu.ru",
        "email_verified": True,
        "campus_id": "123456782",
        "affiliations": ["member@tpu.ru", "student@tpu.ru"],
        "organizations": ["tpu"],
    }


def test_missing_attributes_are_left_out_not_empty() -> None:
    person = identity()
    person.accounts[0].attributes = {"given_name": ["Иван"]}
    claims = claims_for(person, ["openid", "email", "profile"], ORGS)
    assert "email" not in claims and "email_verified" not in claims and "family_name" not in claims


def test_campus_id_has_a_valid_check_digit() -> None:
    for _ in range(200):
        number = new_campus_id()
        assert len(number) == 9 and number.isdigit()
        assert luhn_digit(number[:-1]) == number[-1]
    assert luhn_digit("7992739871") == "3"  # the textbook Luhn example
