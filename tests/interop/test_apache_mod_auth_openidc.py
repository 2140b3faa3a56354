"""Apache with mod_auth_openidc (Debian's packages) in front of a small CGI, configured with
the recipe of docs/relying-parties.md (the file ``docs/recipes/mod_auth_openidc.conf``, included
as it is) against the provider served over https with its own certificate, and a client made
as an operator makes it (``idp clients create ... --json``), its ID tokens signed with RS256
(the recipe's) or ES256.

Apache is started by this test with its own configuration on a free loopback port, never the
system service. A person logs in through it and the page shows what Apache received; the
access token is refreshed; RP-initiated logout goes through the provider and back; ending the
session at the provider reaches Apache by back-channel logout.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urljoin, urlsplit

import pytest
import requests

from demo.slapd import die_with_parent, free_port
from demo.stack import ProviderStack
from tests.support.oidc_client import is_login_form

pytestmark = pytest.mark.interop
ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "docs" / "recipes" / "mod_auth_openidc.conf"
DOC = ROOT / "docs" / "relying-parties.md"
MODULES = Path("/usr/lib/apache2/modules")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
RID = re.compile(r'name="rid" value="([^"]+)"')

# What this test adds around the recipe: a server of its own, and the protected page.
SERVER_CONF = """\
ServerRoot "{workdir}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile "{workdir}/apache2.pid"
DefaultRuntimeDir "{workdir}/run"
ErrorLog "{workdir}/error.log"
LogLevel warn auth_openidc:info
LoadModule mpm_prefork_module {modules}/mod_mpm_prefork.so
LoadModule authn_core_module {modules}/mod_authn_core.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule authz_user_module {modules}/mod_authz_user.so
LoadModule alias_module {modules}/mod_alias.so
LoadModule cgi_module {modules}/mod_cgi.so
LoadModule auth_openidc_module {modules}/mod_auth_openidc.so
{user}
StartServers 1
MinSpareServers 1
MaxSpareServers 3
DocumentRoot "{workdir}/htdocs"
<Directory "{workdir}">
    Require all granted
</Directory>
ScriptAlias /protected/whoami "{workdir}/cgi/whoami"

Define CAMPUS_ID_ISSUER {issuer}
Define CAMPUS_ID_CA_FILE {workdir}/provider-ca.pem
Define APP_URL http://127.0.0.1:{port}
Define OIDC_CLIENT_ID {client_id}
Define OIDC_CLIENT_SECRET {client_secret}
Define OIDC_PASSPHRASE {passphrase}
Include "{recipe}"
"""
# The protected application: what Apache passed on, as JSON.
WHOAMI = """\
#!/usr/bin/python3
import json, os
seen = {k: v for k, v in os.environ.items()
        if k in ("REMOTE_USER", "AUTH_TYPE") or k.startswith(("OIDC_", "HTTP_OIDC_"))}
print("Content-Type: application/json")
print("Cache-Control: no-store")
print()
print(json.dumps(seen, sort_keys=True))
"""


@dataclass
class Apache:
    url: str
    client_id: str
    workdir: Path

    def log(self) -> str:
        path = self.workdir / "error.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def client_command(app_url: str, alg: str = "RS256") -> list[str]:
    """The ``idp clients create`` line of docs/relying-parties.md, for this site (with
    ``--id-token-alg`` when not the default RS256)."""
    signing = [] if alg == "RS256" else ["--id-token-alg", alg]
    return ["clients", "create", *signing, "--name", "Apache mod_auth_openidc",
            "--redirect-uri", f"{app_url}/protected/redirect_uri",
            "--post-logout-redirect-uri", f"{app_url}/logged-out.html",
            "--backchannel-logout-uri", f"{app_url}/protected/redirect_uri?logout=backchannel",
            "--grant-type", "authorization_code", "--grant-type", "refresh_token",
            "--refresh-token-policy", "always", "--pkce", "required", "--json"]


@pytest.fixture(scope="module", params=["RS256", "ES256"])
def apache(provider: ProviderStack, request: pytest.FixtureRequest) -> Iterator[Apache]:
    """Apache for a client whose ID tokens are signed with RS256 (the recipe) or ES256."""
    binary = shutil.which("apache2") or "/usr/sbin/apache2"
    if not Path(binary).exists() or not (MODULES / "mod_auth_openidc.so").exists():
        pytest.fail("apache2 and libapache2-mod-auth-openidc are needed: "
                    "scripts/install-system.sh installs them (run `make test`)")
    assert provider.ca_file is not None
    port = free_port()
    app_url = f"http://127.0.0.1:{port}"
    created = json.loads(provider.idp(*client_command(app_url, request.param)))
    shown = json.loads(provider.idp("clients", "show", created["client_id"], "--json"))
    assert shown["id_token_signed_response_alg"] == request.param
    # Apache's children drop root for www-data: what they read must be readable to all.
    workdir = Path(tempfile.mkdtemp(prefix="campus-id-apache-"))
    try:
        workdir.chmod(0o755)
        for sub in ("htdocs", "cgi", "run"):
            (workdir / sub).mkdir(mode=0o755)
        (workdir / "htdocs" / "logged-out.html").write_text("<p>Logged out.</p>\n")
        whoami = workdir / "cgi" / "whoami"
        whoami.write_text(WHOAMI, encoding="utf-8")
        whoami.chmod(0o755)
        shutil.copyfile(provider.ca_file, workdir / "provider-ca.pem")
        (workdir / "provider-ca.pem").chmod(0o644)
        conf = workdir / "apache2.conf"
        conf.write_text(SERVER_CONF.format(
            workdir=workdir, port=port, modules=MODULES, issuer=provider.issuer,
            user="User www-data\nGroup www-data" if os.geteuid() == 0 else "",
            client_id=created["client_id"], client_secret=created["client_secret"],
            passphrase=secrets.token_urlsafe(24), recipe=RECIPE), encoding="utf-8")
        # No proxy settings of this machine: the module's HTTP client would follow them.
        env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "LANG": "C"}
        process = subprocess.Popen([binary, "-d", str(workdir), "-f", str(conf), "-DFOREGROUND"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True, preexec_fn=die_with_parent)
        found = Apache(app_url, created["client_id"], workdir)
        try:
            _wait_for(found, process)
            yield found
        finally:
            process.send_signal(signal.SIGTERM)  # apache2 stops its children itself
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_for(apache: Apache, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"apache2 exited at start:\n{apache.log()}")
        try:
            with requests.Session() as web:
                web.trust_env = False
                if web.get(f"{apache.url}/logged-out.html", timeout=2).ok:
                    return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"apache2 did not answer:\n{apache.log()}")


class Browser:
    """One person's browser, following redirects between Apache and the provider by hand."""

    def __init__(self, provider: ProviderStack) -> None:
        self.provider = provider
        self.web = requests.Session()
        self.web.trust_env = False

    def get(self, url: str) -> requests.Response:
        return self.web.get(url, allow_redirects=False, timeout=20,
                            verify=str(self.provider.ca_file))

    def post(self, url: str, data: dict[str, str]) -> requests.Response:
        return self.web.post(url, data=data, allow_redirects=False, timeout=20,
                             verify=str(self.provider.ca_file))

    def follow(self, response: requests.Response) -> requests.Response:
        """The response after the redirect ``response`` asks for."""
        assert response.status_code in (302, 303), (response.status_code, response.text[:300])
        return self.get(urljoin(response.url, response.headers["Location"]))

    def log_in(self, app_page: str, username: str, password: str) -> requests.Response:
        """From a protected page through the provider's login form (and consent) back to it."""
        to_provider = self.get(app_page)
        assert to_provider.status_code == 302, to_provider.text[:300]
        authorize = to_provider.headers["Location"]
        assert authorize.startswith(f"{self.provider.issuer}/authorize?")
        query = parse_qs(urlsplit(authorize).query)
        assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]
        page = self.follow(to_provider)  # the login form, at the authorization request itself
        assert is_login_form(page), page.text[:300]
        response = self.post(urljoin(page.url, "/login"), {
            "csrf_token": _match(CSRF, page.text), "rid": _match(RID, page.text),
            "username": username, "password": password})
        assert response.status_code == 302, response.text[:300]
        app_redirect = f"{app_page.rsplit('/protected/', 1)[0]}/protected/redirect_uri?"
        # Straight back to the app with the code, unless the consent page comes first.
        consent = response if response.headers["Location"].startswith(app_redirect) else (
            self.follow(response))
        if consent.status_code == 200:
            consent = self.post(consent.url, {"csrf_token": _match(CSRF, consent.text),
                                              "consent": "allow"})
        callback = consent.headers["Location"]
        assert callback.startswith(app_redirect)
        back = self.follow(self.follow(consent))
        assert back.url == app_page, back.url
        return back

    def page(self, url: str) -> dict[str, Any]:
        response = self.get(url)
        assert response.status_code == 200, (response.status_code, response.headers)
        seen: dict[str, Any] = response.json()
        return seen


def _match(pattern: re.Pattern[str], text: str) -> str:
    found = pattern.search(text)
    assert found, f"no {pattern.pattern} on the page"
    return found.group(1)


def test_the_recipe_in_the_doc_is_the_file_the_test_includes() -> None:
    doc = DOC.read_text(encoding="utf-8")
    assert RECIPE.read_text(encoding="utf-8").strip() in doc
    command = shlex.join(client_command("https://app.university.example"))
    assert " ".join(doc.replace("\\\n", " ").split()).count(command) == 1


def test_login_refresh_and_rp_initiated_logout_through_apache(
        provider: ProviderStack, apache: Apache) -> None:
    browser = Browser(provider)
    whoami = f"{apache.url}/protected/whoami"
    landed = browser.log_in(whoami, "demo@tusur.ru", "demo")
    seen = landed.json()
    assert seen["AUTH_TYPE"] == "openid-connect"
    assert seen["REMOTE_USER"] and seen["REMOTE_USER"] == seen["OIDC_CLAIM_sub"]
    assert seen["OIDC_CLAIM_iss"] == provider.issuer
    assert seen["OIDC_CLAIM_aud"] == apache.client_id
    assert seen["OIDC_CLAIM_preferred_username"] == "demo@tusur.ru"  # from the ID token/UserInfo
    assert seen["OIDC_CLAIM_email"]

    # The access token, refreshed with the refresh token (rotated by the provider).
    first = seen["OIDC_access_token"]
    refreshed = browser.get(f"{apache.url}/protected/redirect_uri?refresh={quote(whoami, safe='')}"
                            f"&access_token={quote(first, safe='')}")
    assert refreshed.status_code == 302 and refreshed.headers["Location"] == whoami, apache.log()
    again = browser.page(whoami)
    assert again["OIDC_access_token"] != first
    assert again["REMOTE_USER"] == seen["REMOTE_USER"]

    # RP-initiated logout: through the provider's end-session endpoint and back.
    logged_out = f"{apache.url}/logged-out.html"
    out = browser.get(f"{apache.url}/protected/redirect_uri?logout={quote(logged_out, safe='')}")
    assert out.status_code == 302, apache.log()
    end_session = out.headers["Location"]
    assert end_session.startswith(f"{provider.issuer}/logout?")
    assert parse_qs(urlsplit(end_session).query)["post_logout_redirect_uri"] == [logged_out]
    back = browser.follow(out)
    assert back.status_code == 302 and back.headers["Location"].startswith(logged_out), back.text[:300]
    assert "Logged out." in browser.follow(back).text
    # Apache's session is gone, and so is the provider's: the login form again.
    to_provider = browser.get(whoami)
    assert to_provider.status_code == 302
    form = browser.follow(to_provider)
    assert is_login_form(form)


def test_ending_the_session_at_the_provider_logs_out_of_apache(
        provider: ProviderStack, apache: Apache) -> None:
    browser = Browser(provider)
    whoami = f"{apache.url}/protected/whoami"
    browser.log_in(whoami, "demo@tusur.ru", "demo")
    assert browser.page(whoami)["OIDC_CLAIM_preferred_username"] == "demo@tusur.ru"

    # Logged out at the provider itself (its home page's button): a confirmation form.
    confirm = browser.get(f"{provider.issuer}/logout")
    assert confirm.status_code == 200
    done = browser.post(f"{provider.issuer}/logout", {"csrf_token": _match(CSRF, confirm.text)})
    assert done.status_code == 302

    # The logout token is posted to Apache after the provider's commit, off the request.
    deadline = time.monotonic() + 10
    response = browser.get(whoami)
    while response.status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.1)
        response = browser.get(whoami)
    assert response.status_code == 302, f"Apache still serves the page:\n{apache.log()}"
    assert response.headers["Location"].startswith(f"{provider.issuer}/authorize?")
