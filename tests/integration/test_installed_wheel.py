"""The built wheel is complete (README, "Installing a release"): a wheel built from a copy of the
sources, installed into a new virtual environment outside the checkout, gives an `idp` command
that checks a configuration, migrates an empty SQLite file, serves, and lets a demo person log in
to a relying party, which gets an ID token. Nothing is imported from the checkout there."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

from demo import people
from demo.slapd import SlapdServer, free_port
from demo.toml_writer import dumps
from tests.support.oidc_client import RelyingParty, is_login_form

CHECKOUT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "idp", "connectors", "demo")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
RID = re.compile(r'name="rid" value="([^"]*)"')
CLIENT = RelyingParty("wheel-rp", "http://127.0.0.1:9/cb", secret="wheel-rp-secret-0123456789abcdef")
INSTALL_S = 600

pytestmark = pytest.mark.slapd


def build_wheel(tmp_path: Path) -> Path:
    """From a copy of what the wheel is made of, so that the checkout gets no build/ folder."""
    source = tmp_path / "source"
    for name in SOURCES:
        if (CHECKOUT / name).is_dir():
            shutil.copytree(CHECKOUT / name, source / name, ignore=shutil.ignore_patterns(
                "__pycache__", "*.egg-info", "node_modules"))
        else:
            source.mkdir(parents=True, exist_ok=True)
            shutil.copy2(CHECKOUT / name, source / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
                            "-w", str(tmp_path / "dist"), str(source)], capture_output=True,
                           text=True, timeout=INSTALL_S, check=False, cwd=tmp_path)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("campus_id-*.whl")
    return wheel


def clean_environment(env_dir: Path) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "IDP_CONFIG")
                   and not k.startswith("IDP__")}
    environment["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{environment.get('PATH', '')}"
    return environment


@pytest.fixture
def directory() -> Iterator[SlapdServer]:
    with people.organization("tpu").server() as server:
        yield server


def test_the_installed_wheel_migrates_serves_and_logs_a_person_in(
        tmp_path: Path, directory: SlapdServer) -> None:
    wheel = build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert "idp/migrations/env.py" in names and "idp/migrations/script.py.mako" in names
    assert "idp/web/templates/login.html" in names and "idp/directory/schema/eduperson.schema" in names

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    environment = clean_environment(env_dir)
    outside = tmp_path / "operator"
    outside.mkdir()

    def run(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=outside,
                              env=environment, timeout=timeout, check=False)

    installed = run(env_dir / "bin" / "pip", "install", "--quiet", wheel, timeout=INSTALL_S)
    assert installed.returncode == 0, installed.stderr[-3000:]
    where = run(env_dir / "bin" / "python", "-c", "import idp; print(idp.__file__)")
    assert Path(where.stdout.strip()).is_relative_to(env_dir), where.stdout + where.stderr

    port = free_port()
    config = outside / "idp.toml"
    config.write_text(dumps({
        "server": {"issuer": f"http://127.0.0.1:{port}", "dev_mode": True, "workers": 1,
                   "secret_key": "wheel-test-secret-key-0123456789abcdef"},
        "database": {"url": f"sqlite:///{outside / 'idp.sqlite3'}"},
        "organizations": {"tpu": people.organization("tpu").config([directory.uri])},
        "clients": {CLIENT.client_id: {"name": "Wheel RP", "redirect_uris": [CLIENT.redirect_uri],
                                       "client_secret": CLIENT.secret}},
    }), encoding="utf-8")
    idp = env_dir / "bin" / "idp"

    checked = run(idp, "--config", config, "check-config")
    assert checked.returncode == 0 and "1 organization(s)" in checked.stdout, checked.stdout + checked.stderr
    upgraded = run(idp, "--config", config, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr

    log_path = outside / "provider.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen([str(idp), "--config", str(config), "serve", "--host", "127.0.0.1",
                                   "--port", str(port)], cwd=outside, env=environment, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        issuer = f"http://127.0.0.1:{port}"
        web = requests.Session()
        web.trust_env = False
        discovery = wait_for_discovery(web, issuer, server, log_path)
        assert discovery["issuer"] == issuer
        person = people.organization("tpu").person("asmirnova")
        params = CLIENT.params()
        callback = sign_in(web, discovery["authorization_endpoint"], params, person.username,
                           person.password)
        assert callback.get("state") == params["state"], callback
        tokens = web.post(discovery["token_endpoint"], auth=(CLIENT.client_id, CLIENT.secret or ""),
                          timeout=10, data={
                              "grant_type": "authorization_code", "code": callback["code"],
                              "redirect_uri": CLIENT.redirect_uri, "code_verifier": CLIENT.verifier})
        assert tokens.status_code == 200, tokens.text[:500]
        claims = payload(tokens.json()["id_token"])
        assert claims["iss"] == issuer and claims["aud"] in (CLIENT.client_id, [CLIENT.client_id])
        assert claims["nonce"] == params["nonce"]
    finally:
        os.killpg(server.pid, 15)
        server.wait(30)


def wait_for_discovery(web: requests.Session, issuer: str, server: subprocess.Popen[bytes],
                       log_path: Path) -> dict[str, str]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"`idp serve` exited:\n{log_path.read_text(errors='replace')[-3000:]}")
        try:
            answer = web.get(f"{issuer}/.well-known/openid-configuration", timeout=2)
            if answer.status_code == 200:
                document: dict[str, str] = answer.json()
                return document
        except requests.RequestException:
            pass
        time.sleep(0.2)
    pytest.fail(f"no discovery document:\n{log_path.read_text(errors='replace')[-3000:]}")


def sign_in(web: requests.Session, authorize: str, params: dict[str, str], username: str,
            password: str) -> dict[str, str]:
    """authorize → the login form, filled like a person → (consent) → the callback's query."""
    login_page = web.get(authorize, params=params, allow_redirects=False, timeout=10)
    assert is_login_form(login_page), login_page.text[:500]
    rid = RID.search(login_page.text)
    response = web.post(urljoin(authorize, "/login"), allow_redirects=False, timeout=10, data={
        "csrf_token": csrf_of(login_page.text), "rid": rid.group(1) if rid else "",
        "organization": "tpu", "username": username, "password": password})
    assert response.status_code == 302, response.text[:500]
    response = web.get(urljoin(authorize, response.headers["Location"]), allow_redirects=False,
                       timeout=10)
    if response.status_code == 200:  # the consent screen
        response = web.post(authorize, params=params, allow_redirects=False, timeout=10,
                            data={"csrf_token": csrf_of(response.text), "consent": "allow"})
    assert response.status_code == 302, response.text[:500]
    location = response.headers["Location"]
    assert location.startswith(CLIENT.redirect_uri), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, html[:500]
    return found.group(1)


def payload(jwt: str) -> dict[str, object]:
    body = jwt.split(".")[1]
    claims: dict[str, object] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return claims
