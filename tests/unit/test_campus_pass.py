"""The offline verifier's verdicts (campus-pass, docs/connectors.md "The sports and culture
pass"), on passes the provider's own encoder signs: valid; tampered, cut short, signed by
another key under our key id, or by an unknown key (forged); from another issuer (wrong
issuer); expired or from the future; revoked by the cached list (for that entitlement or all of
the person's passes, and only passes issued before the revocation); not for this facility;
and the size: the largest pass the provider issues fits a version 15 QR code at level M."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import cbor2
import pytest
import segno
from campus_pass import KeySet, Revocations, Verdict, verify
from campus_pass.base45 import b45decode, b45encode
from campus_pass.caches import CacheError, Revoked, parse_keys, parse_revocations
from campus_pass.cli import main
from joserfc.jwk import ECKey, OKPKey

from idp.oidc.keys import JoseKey
from idp.passes.wire import MAX_TEXT, PassClaims, encode

ISSUER = "https://id.campus.test"
GYM = "https://id.campus.test/entitlement/gym"
NOW = 1_800_000_000
EC_KEY = ECKey.generate_key("P-256", parameters={"kid": "es256-ours", "alg": "ES256"}, private=True)
ED_KEY = OKPKey.generate_key("Ed25519", parameters={"kid": "eddsa-ours", "alg": "EdDSA"}, private=True)
STRANGER = ECKey.generate_key("P-256", parameters={"kid": "es256-ours", "alg": "ES256"}, private=True)


def keyset(*keys: JoseKey) -> KeySet:
    return parse_keys(json.dumps({"keys": [k.as_dict(private=False) for k in keys]}).encode())


KEYS = keyset(EC_KEY, ED_KEY)


def revocations(*entries: Revoked) -> Revocations:
    return Revocations(issuer=ISSUER, issued_at=NOW, ttl=60, entries=entries)


def a_pass(*, issuer: str = ISSUER, key: JoseKey = EC_KEY, alg: str = "ES256", iat: int = NOW,
           lifetime: int = 300, entitlements: Sequence[str] = (GYM,), name: str = "Полина Григорьева",
           campus_id: str = "176490142") -> str:
    claims = PassClaims(issuer=issuer, campus_id=campus_id, name=name,
                        entitlements=tuple(entitlements), issued_at=iat, expires_at=iat + lifetime,
                        pass_id=b"\x01" * 8)
    return encode(claims, alg, key)


def test_a_fresh_pass_is_valid_and_says_whose_it_is() -> None:
    for key, alg in ((EC_KEY, "ES256"), (ED_KEY, "EdDSA")):
        result = verify(a_pass(key=key, alg=alg), KEYS, revocations(), facility=GYM, now=NOW + 10)
        assert result.verdict is Verdict.VALID and result.exit_code == 0
        assert (result.campus_id, result.name, result.entitlements) == (
            "176490142", "Полина Григорьева", (GYM,))
        assert result.expires_at == NOW + 300 and result.pass_id == "01" * 8


def test_a_tampered_pass_is_forged() -> None:
    text = a_pass()
    protected, unprotected, payload, signature = cbor2.loads(b45decode(text[4:])).value
    claims = cbor2.loads(payload)
    claims[2] = "100000009"  # someone else's campus id, the signature left as it was
    sign1 = cbor2.CBORTag(18, [protected, dict(unprotected), cbor2.dumps(claims), signature])
    tampered = "CP1:" + b45encode(cbor2.dumps(sign1))
    result = verify(tampered, KEYS, revocations(), now=NOW)
    assert result.verdict is Verdict.FORGED and result.exit_code == 12
    flipped = text[:-6] + ("0" if text[-6] != "0" else "1") + text[-5:]
    assert verify(flipped, KEYS, revocations(), now=NOW).verdict is Verdict.FORGED


@pytest.mark.parametrize("text", ["", "CP1:", "HC1:NCFOXN%TS3DH", "CP1:abc", "CP1:" + "A" * 40,
                                  "https://example.org/not-a-pass"])
def test_text_that_is_no_pass_is_forged(text: str) -> None:
    assert verify(text, KEYS, revocations(), now=NOW).verdict is Verdict.FORGED


def test_a_pass_cut_short_is_forged() -> None:
    text = a_pass()
    assert verify(text[:-30], KEYS, revocations(), now=NOW).verdict is Verdict.FORGED


def test_another_key_under_our_key_id_or_an_unknown_key_is_forged() -> None:
    assert verify(a_pass(key=STRANGER), KEYS, revocations(), now=NOW).verdict is Verdict.FORGED
    unknown = ECKey.generate_key("P-256", parameters={"kid": "es256-theirs"}, private=True)
    assert verify(a_pass(key=unknown), KEYS, revocations(), now=NOW).verdict is Verdict.FORGED
    # an ES256 key id claimed for an EdDSA signature
    assert verify(a_pass(key=ED_KEY, alg="ES256"), keyset(ED_KEY), revocations(),
                  now=NOW).verdict is Verdict.FORGED


def test_a_pass_of_another_issuer_is_refused_as_such() -> None:
    theirs = ECKey.generate_key("P-256", parameters={"kid": "es256-other-idp"}, private=True)
    result = verify(a_pass(issuer="https://id.other.test", key=theirs), KEYS, revocations(), now=NOW)
    assert result.verdict is Verdict.WRONG_ISSUER and result.exit_code == 13
    assert "https://id.other.test" in result.reason
    # the expected issuer given on the command line wins over the cached list's
    ours = verify(a_pass(), KEYS, revocations(), issuer="https://id.other.test", now=NOW)
    assert ours.verdict is Verdict.WRONG_ISSUER


def test_expired_after_its_lifetime_and_the_leeway() -> None:
    text = a_pass()
    assert verify(text, KEYS, revocations(), now=NOW + 300 + 30).verdict is Verdict.VALID
    result = verify(text, KEYS, revocations(), now=NOW + 300 + 31)
    assert result.verdict is Verdict.EXPIRED and result.exit_code == 10
    assert result.campus_id == "176490142"  # the guard sees whose pass it was
    assert verify(text, KEYS, revocations(), now=NOW + 301, leeway_s=0).verdict is Verdict.EXPIRED


def test_issued_in_the_future_is_not_yet_valid() -> None:
    result = verify(a_pass(iat=NOW + 600), KEYS, revocations(), now=NOW)
    assert result.verdict is Verdict.EXPIRED and "clock" in result.reason


def test_revoked_for_its_entitlement_or_for_all_until_the_moment_of_revocation() -> None:
    text = a_pass()
    same = revocations(Revoked("176490142", before=NOW, entitlement=GYM))
    result = verify(text, KEYS, same, now=NOW + 5)
    assert result.verdict is Verdict.REVOKED and result.exit_code == 11
    everything = revocations(Revoked("176490142", before=NOW + 1))
    assert verify(text, KEYS, everything, now=NOW + 5).verdict is Verdict.REVOKED
    # another person, another entitlement, or a pass issued after access came back: valid
    for entry in (Revoked("100000009", before=NOW + 1), Revoked("176490142", NOW + 1, "urn:x:pool"),
                  Revoked("176490142", before=NOW - 1)):
        assert verify(text, KEYS, revocations(entry), now=NOW + 5).verdict is Verdict.VALID


def test_not_for_this_facility() -> None:
    result = verify(a_pass(), KEYS, revocations(), facility="urn:x:theatre", now=NOW)
    assert result.verdict is Verdict.WRONG_FACILITY and result.exit_code == 14
    assert verify(a_pass(), KEYS, revocations(), now=NOW).verdict is Verdict.VALID  # any facility


def test_the_largest_pass_fits_a_version_15_qr_code_at_level_m() -> None:
    """A long issuer, a 40-letter Cyrillic name (cut from a longer one by the provider) and a
    100-character entitlement: 600 alphanumeric characters at most, version <= 15 at M."""
    text = a_pass(issuer="https://identity.consortium-of-siberian-universities.example.ru",
                  name="Ж" * 40, entitlements=("urn:mace:" + "x" * 91,))
    assert len(text) <= MAX_TEXT
    code = segno.make_qr(text, error="m", boost_error=False)
    assert code.mode == "alphanumeric" and code.version <= 15
    assert verify(text, KEYS, revocations(), now=NOW,
                  issuer="https://identity.consortium-of-siberian-universities.example.ru",
                  ).verdict is Verdict.VALID


def test_base45_round_trip_and_bad_text() -> None:
    for data in (b"", b"\x00", b"ab", b"\xff\xff", bytes(range(256))):
        assert b45decode(b45encode(data)) == data
    assert b45encode(b"AB") == "BB8"  # RFC 9285 section 4.3's example
    for bad in ("a", "GGW", "FGW0", "::"):
        with pytest.raises(ValueError):
            b45decode(bad)


def test_cache_files_that_cannot_be_used() -> None:
    with pytest.raises(CacheError):
        parse_keys(b'{"keys": [{"kty": "RSA", "kid": "rs", "n": "AQAB", "e": "AQAB"}]}')
    with pytest.raises(CacheError):
        parse_keys(b"not json")
    with pytest.raises(CacheError):
        parse_revocations(b'{"issuer": "x", "revoked": []}')


def test_the_command_prints_the_verdict_and_exits_with_its_code(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path
    jwks, revoked = folder / "jwks.json", folder / "revoked.json"
    jwks.write_text(json.dumps({"keys": [EC_KEY.as_dict(private=False)]}), encoding="utf-8")
    revoked.write_text(json.dumps({"issuer": ISSUER, "issued_at": NOW, "ttl": 60, "revoked": []}),
                       encoding="utf-8")
    text = a_pass(iat=int(time.time()))
    assert main(["verify", text, "--jwks", str(jwks), "--revoked", str(revoked)]) == 0
    assert capsys.readouterr().out.startswith("VALID: Полина Григорьева (campus id 176490142)")
    assert main(["verify", text, "--cache", str(folder), "--facility", "urn:x:pool", "--json"]) == 14
    assert json.loads(capsys.readouterr().out)["verdict"] == "not for this facility"
    assert main(["verify", text, "--jwks", str(folder / "missing.json"), "--revoked",
                 str(revoked)]) == 2
    assert "cannot be read" in capsys.readouterr().err
