"""This machine's raw JWT signing rate per algorithm on one core: the ceiling any token
endpoint figure should be read against."""

from __future__ import annotations

import time
import warnings

from joserfc import jwt
from joserfc.jwk import ECKey, OKPKey, RSAKey

CLAIMS = {"iss": "https://id.example.org", "sub": "x" * 43, "aud": "client", "iat": 1,
          "exp": 2, "jti": "j" * 22, "scope": "openid profile email campus"}


def _rate(sign: object, seconds: float) -> float:
    assert callable(sign)
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(20):
            sign()
        count += 20
    return count / elapsed


def signing_rates(seconds: float = 1.0) -> dict[str, float]:
    keys = {
        "ES256": ECKey.generate_key("P-256", private=True),
        "RS256": RSAKey.generate_key(2048, private=True),
        "EdDSA": OKPKey.generate_key("Ed25519", private=True),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joserfc flags "EdDSA" as deprecated by RFC 9864
        return {alg: _rate(lambda k=key, a=alg: jwt.encode({"alg": a}, CLAIMS, k, algorithms=[a]),
                           seconds)
                for alg, key in keys.items()}


if __name__ == "__main__":
    for alg, rate in signing_rates().items():
        print(f"{alg}: {rate:,.0f} signatures/s")
