"""Keyed fingerprints of match values: what is stored instead of a SNILS or a birth date.

A fingerprint is HMAC-SHA256 over the rule name and the rule's normalised values, under a key
derived (HKDF-SHA256) from the server secret with a label of its own. Equal values under one
rule give equal fingerprints, so accounts can be matched; a copy of the database alone gives
no way to test a guessed SNILS against them. Changing the server secret changes every
fingerprint: they are recomputed as people log in again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from idp.linking import normalize
from idp.linking.normalize import Invalid, Normalizer, Valid
from idp.settings import LinkingRule, MatchClaim

FINGERPRINT_INFO = b"campus-id/linking-fingerprint/v1"

NORMALIZERS: dict[MatchClaim, Normalizer] = {
    MatchClaim.SNILS: normalize.snils,
    MatchClaim.BIRTHDATE: normalize.birthdate,
    MatchClaim.FAMILY_NAME: normalize.name,
    MatchClaim.GIVEN_NAME: normalize.name,
    MatchClaim.MIDDLE_NAME: normalize.name,
}


def fingerprint_key(secret_key: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=FINGERPRINT_INFO)
    return hkdf.derive(secret_key.encode("utf-8"))


@dataclass(frozen=True)
class Fingerprinter:
    key: bytes  # from fingerprint_key(); never the server secret itself

    @classmethod
    def from_secret(cls, secret_key: str) -> Fingerprinter:
        return cls(fingerprint_key(secret_key))

    def digest(self, rule: str, values: Sequence[tuple[str, str]]) -> str:
        """Hex HMAC of the rule name and its (claim, normalised value) pairs, encoded as JSON
        so that no two different inputs share a message."""
        message = json.dumps([rule, [list(v) for v in values]], ensure_ascii=False,
                             separators=(",", ":")).encode("utf-8")
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Fingerprint:
    rule: str
    digest: str


@dataclass(frozen=True)
class InvalidValue:
    """The account has a value for the rule that cannot be normalised: it matches nothing."""

    rule: str
    claim: str
    reason: str


@dataclass(frozen=True)
class NoValue:
    """The account lacks a claim the rule needs: the rule says nothing about it."""

    rule: str


Evaluation = Fingerprint | InvalidValue | NoValue


def evaluate(rule: LinkingRule, attributes: Mapping[str, Sequence[str]],
             fingerprinter: Fingerprinter) -> Evaluation:
    """One rule against one account's claims (the first value of each claim)."""
    values: list[tuple[str, str]] = []
    for claim in rule.match:
        raw = attributes.get(claim.value) or ()
        if not raw or not raw[0].strip():
            return NoValue(rule.name)
        result = NORMALIZERS[claim](raw[0])
        if isinstance(result, Invalid):
            return InvalidValue(rule.name, claim.value, result.reason)
        assert isinstance(result, Valid)
        values.append((claim.value, result.value))
    return Fingerprint(rule.name, fingerprinter.digest(rule.name, values))
