"""Keyed fingerprints: equal normalised values give equal fingerprints under one rule and one
server secret, and nothing in a fingerprint gives the value away."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from idp.linking.fingerprints import (
    Fingerprint,
    Fingerprinter,
    InvalidValue,
    NoValue,
    evaluate,
    fingerprint_key,
)
from idp.oidc.keys import seal, unseal
from idp.settings import LinkAction, LinkingRule, MatchClaim

SECRET = "unit-test-secret-0123456789abcdef0123"
SNILS_RULE = LinkingRule("snils", (MatchClaim.SNILS,), LinkAction.LINK)
NAME_RULE = LinkingRule("name_birthdate", (MatchClaim.FAMILY_NAME, MatchClaim.GIVEN_NAME,
                                           MatchClaim.BIRTHDATE), LinkAction.PROPOSE)
HASHER = Fingerprinter.from_secret(SECRET)


def test_one_snils_in_two_formats_has_one_fingerprint() -> None:
    dashed = evaluate(SNILS_RULE, {"snils": ("112-233-445 95",)}, HASHER)
    plain = evaluate(SNILS_RULE, {"snils": ("11223344595",)}, HASHER)
    assert isinstance(dashed, Fingerprint) and dashed == plain
    assert len(dashed.digest) == 64 and "11223344595" not in dashed.digest


def test_names_and_dates_as_different_directories_write_them_match() -> None:
    tsu = evaluate(NAME_RULE, {"family_name": ("Ёлкина",), "given_name": ("Алёна",),
                               "birthdate": ("05.11.1990",)}, HASHER)
    tusur = evaluate(NAME_RULE, {"family_name": ("ЕЛКИНА ",), "given_name": ("Алена",),
                                 "birthdate": ("19901105000000Z",)}, HASHER)
    assert isinstance(tsu, Fingerprint) and tsu == tusur


def test_the_rule_name_and_the_secret_are_part_of_the_fingerprint() -> None:
    values = [("snils", "11223344595")]
    assert HASHER.digest("snils", values) != HASHER.digest("snils_v2", values)
    other = Fingerprinter.from_secret("another-secret-0123456789abcdef0123")
    assert HASHER.digest("snils", values) != other.digest("snils", values)
    # Claim boundaries cannot be shifted: ("ab", "c") and ("a", "bc") differ.
    assert HASHER.digest("r", [("x", "ab"), ("y", "c")]) != HASHER.digest("r", [("x", "a"), ("y", "bc")])


def test_the_fingerprint_key_is_not_the_key_wrapping_signing_keys() -> None:
    sealed = seal(SECRET, "kid", b"private")
    assert unseal(SECRET, "kid", sealed) == b"private"
    with pytest.raises(InvalidTag):  # a derivation of its own (another HKDF info label)
        AESGCM(fingerprint_key(SECRET)).decrypt(sealed[:12], sealed[12:], b"kid")


def test_missing_claims_say_nothing_and_invalid_values_are_named() -> None:
    assert evaluate(SNILS_RULE, {}, HASHER) == NoValue("snils")
    assert evaluate(SNILS_RULE, {"snils": ("  ",)}, HASHER) == NoValue("snils")
    assert evaluate(SNILS_RULE, {"snils": ("112-233-445 96",)}, HASHER) == InvalidValue(
        "snils", "snils", "snils: the check number does not match")
    partial = {"family_name": ("Ёлкина",), "given_name": ("Алёна",)}
    assert evaluate(NAME_RULE, partial, HASHER) == NoValue("name_birthdate")
