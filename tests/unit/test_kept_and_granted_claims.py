"""What an account keeps of its directory entry (every mapped attribute a policy may name,
never a linking identifier), and grants' entitlement URIs joining the directory's in the
``entitlements`` claim."""

from __future__ import annotations

from idp.identity.claims import LINKING_IDENTIFIERS, claims_for, kept_attributes
from tests.unit.test_claims import ORGS, identity


def test_mapped_attributes_are_kept_but_never_snils_or_birthdate() -> None:
    kept = kept_attributes({
        "given_name": ("Иван",), "programme": ("JM-AI-2026",), "faculty_code": ("ИШИТР",),
        "snils": ("112-233-445 95",), "birthdate": ("1994-09-30",), "email": (),
    })
    assert kept == {"given_name": ["Иван"], "programme": ["JM-AI-2026"],
                    "faculty_code": ["ИШИТР"]}
    assert LINKING_IDENTIFIERS == {"snils", "birthdate"}


def test_granted_entitlements_join_the_directorys_own() -> None:
    person = identity()
    person.accounts[0].attributes = {**person.accounts[0].attributes,
                                     "entitlement": ["https://id.tpu.ru/entitlement/lab"]}
    claims = claims_for(person, ["openid", "campus"], ORGS, (),
                        ["urn:mace:dir:entitlement:common-lib-terms",
                         "https://id.tpu.ru/entitlement/lab", "not a uri"])
    assert claims["entitlements"] == ["https://id.tpu.ru/entitlement/lab",
                                      "urn:mace:dir:entitlement:common-lib-terms"]
    assert "entitlements" not in claims_for(person, ["openid", "profile"], ORGS, (),
                                            ["urn:mace:dir:entitlement:common-lib-terms"])
