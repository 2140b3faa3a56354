"""How the provider fits a pass into a QR code (docs/connectors.md, "The sports and culture
pass"): a short name is kept whole, a long one is cut until the pass fits version 15 at level M,
and an issuer and entitlement that cannot fit even without a name give no pass rather than one
no phone can show."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import segno
from campus_pass import Revocations, Verdict, verify
from campus_pass.caches import parse_keys
from joserfc.jwk import ECKey

from idp.oidc.keys import KeyRing
from idp.passes.issue import _fitting
from idp.passes.wire import MAX_TEXT

KEY = ECKey.generate_key("P-256", parameters={"kid": "es256-ring", "alg": "ES256"}, private=True)
RING = KeyRing(signing={"ES256": KEY}, published=(KEY,))
KEYS = parse_keys(json.dumps({"keys": [KEY.as_dict(private=False)]}).encode())
NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
LONG_ISSUER = "https://identity.consortium-of-siberian-universities.example.ru"


def fitted(name: str, entitlement: str, issuer: str = LONG_ISSUER) -> str | None:
    return _fitting(issuer, "176490142", name, entitlement, NOW, NOW + timedelta(minutes=5), RING)


def checked(text: str, issuer: str = LONG_ISSUER) -> str:
    listing = Revocations(issuer=issuer, issued_at=0, ttl=60, entries=())
    result = verify(text, KEYS, listing, now=NOW.timestamp())
    assert result.verdict is Verdict.VALID
    assert segno.make_qr(text, error="m", boost_error=False).version <= 15
    return result.name


def test_a_usual_name_is_kept_whole() -> None:
    text = fitted("Григорьева Полина Андреевна", "https://id.example.edu/entitlement/gym")
    assert text is not None and checked(text) == "Григорьева Полина Андреевна"


def test_a_name_that_would_not_fit_is_cut_until_the_pass_fits() -> None:
    entitlement = "urn:mace:" + "x" * 150
    text = fitted("Ж" * 40, entitlement)
    assert text is not None and len(text) <= MAX_TEXT
    name = checked(text)
    assert 0 < len(name) < 40 and set(name) == {"Ж"}


def test_nothing_fits_an_entitlement_of_hundreds_of_characters() -> None:
    assert fitted("Иванова Анна", "urn:mace:" + "x" * 400) is None
