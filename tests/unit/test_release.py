"""Attribute release as a pure function: the consortium's default, organizations narrowing it
for their own people only, ``sub`` always and ``email_verified`` with ``email``."""

from __future__ import annotations

from datetime import UTC, datetime

from idp.identity.claim_names import RELEASABLE_CLAIMS, claim_problems, parse_claim_list
from idp.identity.claims import claims_for
from idp.identity.release import allowed_claims, release
from idp.settings import DirectorySettings, DirectoryType, OrganizationSettings
from idp.storage.identities import Identity, LinkedAccount

CLAIMS = {"sub": "s-1", "name": "Анна Смирнова", "email": "a@tpu.ru", "email_verified": True,
          "campus_id": "123456782", "affiliations": ["staff@tpu.ru"]}


def test_no_policy_releases_every_claim_of_the_granted_scopes() -> None:
    assert release(CLAIMS, allowed_claims({}, ["tpu"])) == CLAIMS


def test_the_consortium_default_narrows_and_sub_always_goes() -> None:
    allowed = allowed_claims({"": frozenset({"name"})}, ["tpu"])
    assert release(CLAIMS, allowed) == {"sub": "s-1", "name": "Анна Смирнова"}


def test_an_empty_policy_releases_only_the_subject() -> None:
    assert release(CLAIMS, allowed_claims({"": frozenset()}, [])) == {"sub": "s-1"}


def test_email_verified_goes_with_email() -> None:
    released = release(CLAIMS, frozenset({"email"}))
    assert released == {"sub": "s-1", "email": "a@tpu.ru", "email_verified": True}


def test_an_organization_narrows_for_its_own_people_only() -> None:
    policies = {"": frozenset({"name", "email", "campus_id"}), "tsu": frozenset({"name"})}
    assert allowed_claims(policies, ["tpu"]) == {"name", "email", "campus_id"}
    assert allowed_claims(policies, ["tsu"]) == {"name"}


def test_an_organization_cannot_widen_the_consortium_default() -> None:
    policies = {"": frozenset({"name"}), "tpu": frozenset({"name", "email"})}
    assert allowed_claims(policies, ["tpu"]) == {"name"}


def test_an_organization_narrowing_without_a_default_limits_its_people() -> None:
    assert allowed_claims({"tpu": frozenset({"email"})}, ["tpu"]) == {"email"}
    assert allowed_claims({"tpu": frozenset({"email"})}, ["tsu"]) is None


def test_a_person_of_two_organizations_is_narrowed_by_both() -> None:
    policies = {"tpu": frozenset({"name", "email"}), "tusur": frozenset({"name", "campus_id"})}
    assert allowed_claims(policies, ["tpu", "tusur"]) == {"name"}


def test_claim_names_are_checked() -> None:
    assert claim_problems(["name", "entitlements", "affiliations"]) == []
    problems = claim_problems(["sub", "email_verified", "password", "Email"])
    assert len(problems) == 4
    assert "'sub' is always released" in problems[0]
    assert "'email_verified' is released together with 'email'" in problems[1]
    assert "'password' is not a claim" in problems[2]


def test_claim_lists_are_read_from_commas() -> None:
    assert parse_claim_list(" name, email,,name ,campus_id") == ["name", "email", "campus_id"]
    assert parse_claim_list("") == []


def test_entitlements_are_the_union_over_accounts_under_the_campus_scope() -> None:
    directory = DirectorySettings(DirectoryType.LDAP, ("ldaps://x",), "dc=x")
    orgs = {org: OrganizationSettings(org, org, org, f"{org}.ru", directory) for org in ("tpu", "tsu")}
    person = Identity(id=1, sub="s-1", campus_id="123456782")
    person.accounts = [
        LinkedAccount(id=n, organization=org, external_id=f"u-{n}", username="anna",
                      linked_at=datetime(2026, 1, n, tzinfo=UTC),
                      attributes={"entitlement": values})
        for n, (org, values) in enumerate(
            [("tpu", ["urn:mace:dir:entitlement:common-lib-terms"]),
             ("tsu", ["urn:mace:dir:entitlement:common-lib-terms", "https://lib.tsu.ru/ent/ebsco"])],
            start=1)
    ]
    assert claims_for(person, ["openid", "campus"], orgs)["entitlements"] == [
        "https://lib.tsu.ru/ent/ebsco", "urn:mace:dir:entitlement:common-lib-terms"]
    assert "entitlements" not in claims_for(person, ["openid", "profile"], orgs)
    assert "entitlements" in RELEASABLE_CLAIMS


def test_entitlements_that_are_not_uris_are_dropped() -> None:
    person = Identity(id=1, sub="s-1", campus_id="123456782")
    person.accounts = [LinkedAccount(
        id=1, organization="tpu", external_id="u-1", username="anna",
        linked_at=datetime(2026, 1, 1, tzinfo=UTC),
        attributes={"entitlement": ["library", "urn:mace:dir:entitlement:common-lib-terms",
                                    "https://x.example/has space", " urn:x:trimmed "]})]
    directory = DirectorySettings(DirectoryType.LDAP, ("ldaps://x",), "dc=x")
    orgs = {"tpu": OrganizationSettings("tpu", "TPU", "ТПУ", "tpu.ru", directory)}
    assert claims_for(person, ["campus"], orgs)["entitlements"] == [
        "urn:mace:dir:entitlement:common-lib-terms", "urn:x:trimmed"]
