"""The verdict on one scanned pass, in a fixed order of checks: the text must be a pass
(else forged), from the expected issuer (else wrong issuer), signed by a key of the cached key
set (else forged), inside its validity window (else expired), not revoked by the cached list
(else revoked), and proving the facility's entitlement when one is asked (else not for this
facility). Only a pass that passes every check is valid."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum

from campus_pass import cose
from campus_pass.caches import KeySet, Revocations


class Verdict(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    REVOKED = "revoked"
    FORGED = "forged"
    WRONG_ISSUER = "wrong issuer"
    WRONG_FACILITY = "not for this facility"


# The command's exit status for each verdict (2 is a usage or cache error, 3 a failed refresh).
EXIT_CODES = {Verdict.VALID: 0, Verdict.EXPIRED: 10, Verdict.REVOKED: 11, Verdict.FORGED: 12,
              Verdict.WRONG_ISSUER: 13, Verdict.WRONG_FACILITY: 14}


@dataclass(frozen=True)
class Result:
    verdict: Verdict
    reason: str
    campus_id: str = ""
    name: str = ""
    entitlements: tuple[str, ...] = field(default=())
    expires_at: int = 0
    pass_id: str = ""

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]


def verify(text: str, keys: KeySet, revocations: Revocations, *, issuer: str = "",
           facility: str = "", now: float | None = None, leeway_s: int = 30) -> Result:
    """The verdict on ``text``. ``issuer`` defaults to the revocation list's; ``facility`` is
    the entitlement this turnstile admits (empty: any pass of the issuer)."""
    now = time.time() if now is None else now
    expected = issuer or revocations.issuer
    try:
        signed = cose.decode(text.strip())
    except cose.Malformed as problem:
        return Result(Verdict.FORGED, f"not a pass: {problem}")
    claims = signed.claims
    if claims.get(cose.ISS) != expected:
        return Result(Verdict.WRONG_ISSUER, f"issued by {claims.get(cose.ISS)!r}, not {expected!r}")
    found = keys.keys.get(signed.kid)
    if found is None or not cose.signature_holds(signed, *found):
        return Result(Verdict.FORGED, "the signature does not hold with the issuer's keys")
    try:
        result = _claims(claims)
    except (KeyError, TypeError, ValueError) as problem:
        return Result(Verdict.FORGED, f"signed, but its claims are malformed: {problem}")
    iat = int(claims[cose.IAT])
    if now > result.expires_at + leeway_s:
        return _with(result, Verdict.EXPIRED, "its time is over: ask for a fresh pass")
    if iat > now + leeway_s:
        return _with(result, Verdict.EXPIRED, "issued in the future: check this device's clock")
    if revocations.revokes(result.campus_id, result.entitlements, iat):
        return _with(result, Verdict.REVOKED, "revoked: the access it proves has ended")
    if facility and facility not in result.entitlements:
        return _with(result, Verdict.WRONG_FACILITY, f"does not prove {facility}")
    return result


def _claims(claims: dict[object, object]) -> Result:
    campus_id, name = claims[cose.SUB], claims.get(cose.NAME, "")
    entitlements, exp, iat = claims[cose.ENTITLEMENTS], claims[cose.EXP], claims[cose.IAT]
    cti = claims.get(cose.CTI, b"")
    if not isinstance(campus_id, str) or not isinstance(name, str) or not isinstance(cti, bytes):
        raise TypeError("sub, name or cti of the wrong type")
    if not isinstance(entitlements, list | tuple) or not all(isinstance(e, str) for e in entitlements):
        raise TypeError("entitlements is not a list of strings")
    if not isinstance(exp, int) or not isinstance(iat, int) or isinstance(exp, bool):
        raise TypeError("exp or iat is not an integer")
    return Result(Verdict.VALID, "valid", campus_id=campus_id, name=name,
                  entitlements=tuple(entitlements), expires_at=exp, pass_id=cti.hex())


def _with(result: Result, verdict: Verdict, reason: str) -> Result:
    return Result(verdict, reason, result.campus_id, result.name, result.entitlements,
                  result.expires_at, result.pass_id)
