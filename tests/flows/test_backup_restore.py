"""A running provider (`idp serve` over real slapd directories) backed up while it serves, on
SQLite and PostgreSQL, restored into an empty database and started there: the person's session
and consent, the relying party's refresh token and the signing keys all come back, so the
relying party refreshes its tokens and validates new ones against the restored JWKS, same kid."""

from __future__ import annotations

import os
import secrets
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from demo.slapd import free_port
from demo.stack import ProviderStack
from tests.conftest import POSTGRES_ADMIN_URL
from tests.interop.test_logout import Browser
from tests.support.oidc_client import s256

CLIENT_ID, SECRET = "backup-rp", "backup-rp-secret-0123456789"
SERVICE_ID, SERVICE_SECRET = "backup-service", "backup-service-secret-0123456789"
REDIRECT_URI = "http://127.0.0.1:9/cb"  # never fetched
CLIENTS = {
    CLIENT_ID: {"name": "Backup RP", "redirect_uris": [REDIRECT_URI], "client_secret": SECRET,
                "grant_types": ["authorization_code", "refresh_token"],
                "access_token_format": "jwt"},
    SERVICE_ID: {"name": "Busy service", "client_secret": SERVICE_SECRET,
                 "grant_types": ["client_credentials"], "scopes": ["timetable.read"]},
}
ALGS = ["RS256", "ES256", "EdDSA"]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The provider's database and an empty one to restore into."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'source.sqlite3'}", f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    names = [f"campus_id_backup_{secrets.token_hex(4)}" for _ in range(2)]
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(POSTGRES_ADMIN_URL)
        source, target = (url.set(database=n).render_as_string(hide_password=False) for n in names)
        yield source, target
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE datname = :n"), {"n": name})
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def web() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def authorize_url(verifier: str, **extra: str) -> str:
    return "/authorize?" + urlencode({
        "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI,
        "scope": "openid profile offline_access", "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8), "code_challenge": s256(verifier),
        "code_challenge_method": "S256", **extra})


def redeem(provider: ProviderStack, callback: str, verifier: str) -> dict[str, Any]:
    code = parse_qs(urlsplit(callback).query)["code"][0]
    response = web().post(provider.issuer + "/token", auth=(CLIENT_ID, SECRET), timeout=30, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier})
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def validated(token: str, jwks: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The kid and claims of a JWT whose signature one of ``jwks``'s keys checks."""
    decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=ALGS)  # type: ignore[arg-type]
    return str(decoded.header["kid"]), dict(decoded.claims)


class Writes:
    """A service asking for tokens (each one a row written) until told to stop."""

    def __init__(self, provider: ProviderStack) -> None:
        self.provider, self.count, self.failures = provider, 0, list[str]()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        session = web()
        while not self.stop.is_set():
            response = session.post(self.provider.issuer + "/token", timeout=30,
                                    auth=(SERVICE_ID, SERVICE_SECRET),
                                    data={"grant_type": "client_credentials"})
            if response.status_code == 200:
                self.count += 1
            else:
                self.failures.append(f"{response.status_code} {response.text[:200]}")

    def __enter__(self) -> Writes:
        """Returns once the first token has been issued: the writes are under way."""
        self.thread.start()
        while self.count == 0 and not self.failures and self.thread.is_alive():
            self.stop.wait(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(60)


@pytest.mark.timeout(900)
def test_a_restored_provider_honours_the_refresh_token_session_consent_and_keys(
        databases: tuple[str, str], tmp_path: Path) -> None:
    source, target = databases
    provider = ProviderStack(tmp_path / "provider", port=free_port(), clients=CLIENTS, workers=1,
                             database_url=source)
    backup = tmp_path / "campus-id.backup"
    browser = Browser(provider)
    with provider:
        verifier = secrets.token_urlsafe(48)
        # A person logs in (their campus identity and account link are made), consents.
        first = redeem(provider, browser.log_in(authorize_url(verifier), "demo@tpu.ru", "demo"),
                       verifier)
        jwks_before = web().get(provider.issuer + "/jwks", timeout=10).json()
        first_kid, first_claims = validated(first["id_token"], jwks_before)
        with Writes(provider) as writes:
            made = provider.idp("backup", str(backup))
        assert writes.count > 0 and writes.failures == []
        assert "Backed up" in made and first_kid in made

    restored = subprocess.run([*provider.idp_command(), "restore", str(backup)], timeout=600,
                              capture_output=True, text=True, check=False,
                              env={**os.environ, "IDP__DATABASE__URL": target})
    assert restored.returncode == 0, restored.stderr
    assert "Restored the backup" in restored.stdout

    provider.database_url = target  # same address, same secret_key, the restored database
    with provider:
        jwks_after = web().get(provider.issuer + "/jwks", timeout=10).json()
        assert jwks_after == jwks_before

        # The relying party refreshes: its (JWT) access token is signed by a restored key.
        refreshed = web().post(provider.issuer + "/token", auth=(CLIENT_ID, SECRET), timeout=30,
                               data={"grant_type": "refresh_token",
                                     "refresh_token": first["refresh_token"]})
        assert refreshed.status_code == 200, refreshed.text
        access_kid, access_claims = validated(refreshed.json()["access_token"], jwks_after)
        assert access_kid in {key["kid"] for key in jwks_before["keys"]}
        assert access_claims["sub"] == first_claims["sub"]

        # The person's session and consent came back too: a silent authorization gives a
        # code at once, and the new ID token is signed by the same key as the first one.
        verifier = secrets.token_urlsafe(48)
        silent = browser.get(authorize_url(verifier, prompt="none"))
        assert silent.status_code == 302, silent.text[:300]
        second = redeem(provider, silent.headers["Location"], verifier)
        second_kid, second_claims = validated(second["id_token"], jwks_after)
        assert second_kid == first_kid
        assert second_claims["sub"] == first_claims["sub"]
        assert second_claims["iss"] == provider.issuer and second_claims["aud"] == CLIENT_ID
