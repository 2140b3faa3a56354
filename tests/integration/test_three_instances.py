"""Three `idp serve` instances behind nginx, as docs/deployment.md runs them: Debian's nginx with
deploy/nginx/campus-id.conf (round robin, TLS, forwarded headers; this test only uncomments its
``X-Upstream`` header to see which instance answered each step), one PostgreSQL database, one
Redis, production mode.

What one instance does, the others see: a login started on one finishes on another, refresh
tokens rotate and logout ends the session across them, failed logins count together, a client
changed through one instance (or by the CLI) and a rotated signing key reach all. Then one
instance is killed with SIGKILL in the middle of a load of GETs and logins: nginx sends what
could not reach it elsewhere, and only POSTs in flight on it fail.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from click.testing import CliRunner

from demo import people
from demo.cluster import Cluster
from demo.throwaway_db import throwaway_database
from idp.cli import main as idp_main
from idp.storage.snapshot_cache import DEFAULT_TTL_S
from tests.support.oidc_client import CSRF, RID, is_login_form, s256
from tests.support.throttle import REDIS_URL, redis_prefix

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slapd]

REDIRECT_URI = "https://127.0.0.1:9/cb"  # never fetched: the code is read from the redirect
AFTER_LOGOUT = "https://127.0.0.1:9/bye"
WEB = ("web", "web-secret-0123456789abcdef0123")
ADMIN = ("automation", "automation-secret-0123456789abcdef")
CLIENTS = {
    WEB[0]: {"name": "Web app", "redirect_uris": [REDIRECT_URI], "client_secret": WEB[1],
             "trusted": True, "grant_types": ["authorization_code", "refresh_token"],
             "scopes": ["openid", "profile", "email", "offline_access"],
             "post_logout_redirect_uris": [AFTER_LOGOUT]},
    ADMIN[0]: {"name": "Automation", "client_secret": ADMIN[1], "roles": ["consortium_admin"],
               "grant_types": ["client_credentials"], "scopes": []},
}
INSTANCES = 3


@pytest.fixture(scope="module")
def cluster(postgres_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The three instances on a database of this module's own (``postgres_server`` names the
    run's; a schema reset by another module's test must not pull it away under them)."""
    with throwaway_database(postgres_server, "campus_id_cluster") as url, redis_prefix() as prefix:
        extra = {"server": {"threads": 4},
                 "throttle": {"redis_url": REDIS_URL, "key_prefix": prefix},
                 "keys": {"reload_check_s": 1}}
        with Cluster(tmp_path_factory.mktemp("three"), database_url=url, instances=INSTANCES,
                     workers=1, clients=CLIENTS, extra_config=extra,
                     show_upstream=True) as running:
            yield running


@dataclass
class Browser:
    """A person's browser: one cookie jar, and which instance answered each request."""

    cluster: Cluster
    http: requests.Session = field(init=False)
    served_by: list[tuple[str, str]] = field(default_factory=list)  # (step, instance)
    step: str = ""  # the step of the request under way, or the last one

    def __post_init__(self) -> None:
        self.http = self.cluster.session()

    def request(self, step: str, method: str, path: str, **kwargs: object) -> requests.Response:
        self.step = step
        response = self.http.request(method, self.cluster.public + path, allow_redirects=False,
                                     timeout=30, **kwargs)  # type: ignore[arg-type]
        self.served_by.append((step, response.headers.get("X-Upstream", "")))
        return response


def authorize_params(verifier: str, scope: str = "openid profile email") -> dict[str, str]:
    return {"response_type": "code", "client_id": WEB[0], "redirect_uri": REDIRECT_URI,
            "scope": scope, "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8),
            "code_challenge": s256(verifier), "code_challenge_method": "S256"}


def code_from(response: requests.Response, state: str) -> str:
    assert response.status_code == 302, response.text[:300]
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query.get("state") == [state], query
    return query["code"][0]


def log_in(browser: Browser, org: str, username: str, password: str,
           scope: str = "openid profile email") -> dict[str, str]:
    """authorize (the login form) -> form post (answered with the code) -> tokens."""
    verifier = secrets.token_urlsafe(48)
    params = authorize_params(verifier, scope)
    page = browser.request("authorize", "GET", "/authorize", params=params)
    assert is_login_form(page), page.text[:300]
    csrf, rid = CSRF.search(page.text), RID.search(page.text)
    assert csrf and rid, page.text[:300]
    response = browser.request("login form", "POST", "/login", data={
        "csrf_token": csrf.group(1), "rid": rid.group(1), "organization": org,
        "username": username, "password": password})
    code = code_from(response, params["state"])
    response = browser.request("token", "POST", "/token", auth=WEB, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier})
    assert response.status_code == 200, response.text[:300]
    tokens: dict[str, str] = response.json()
    return tokens


def idp(cluster: Cluster, *args: str) -> str:
    """An `idp` command on the instances' configuration, as an operator on one host runs it
    (in this process: a new interpreter per command costs seconds on a busy machine)."""
    result = CliRunner().invoke(idp_main, ["--config", str(cluster.stack.config_path), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def instances_of(browser: Browser) -> set[str]:
    return {instance for _, instance in browser.served_by}


def a_login_started_on_one_instance_finishes_on_another_and_ends_on_a_third(
        cluster: Cluster) -> None:
    person = people.organization("tpu").person("mpetrova")
    browser = Browser(cluster)
    tokens = log_in(browser, "tpu", person.username, person.password,
                    scope="openid profile email offline_access")
    steps = dict(browser.served_by)
    # Round robin: the three steps of the one login were each served by another instance
    # (the form post answers the request that the first instance kept in the cookie).
    assert len({steps["authorize"], steps["login form"], steps["token"]}) == INSTANCES
    assert instances_of(browser) == {cluster.instance_address(i) for i in range(INSTANCES)}

    # Its single sign-on session works on every instance: no login page again.
    for _ in range(INSTANCES):
        params = authorize_params(secrets.token_urlsafe(48))
        code_from(browser.request("sso", "GET", "/authorize", params=params), params["state"])
    # The access token is good on every instance; the refresh token rotates on each in turn.
    for _ in range(INSTANCES):
        answer = browser.request("userinfo", "GET", "/userinfo",
                                 headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert answer.status_code == 200 and answer.json()["name"] == person.full_name, answer.text
    first_refresh = refresh = tokens["refresh_token"]
    for _ in range(INSTANCES):
        answer = browser.request("refresh", "POST", "/token", auth=WEB, data={
            "grant_type": "refresh_token", "refresh_token": refresh})
        assert answer.status_code == 200, answer.text
        refresh = answer.json()["refresh_token"]
    # A spent one, presented to whichever instance, ends the family everywhere.
    spent = browser.request("reuse", "POST", "/token", auth=WEB, data={
        "grant_type": "refresh_token", "refresh_token": first_refresh})
    assert spent.status_code == 400 and spent.json()["error"] == "invalid_grant"
    latest = browser.request("refresh", "POST", "/token", auth=WEB, data={
        "grant_type": "refresh_token", "refresh_token": refresh})
    assert latest.status_code == 400 and latest.json()["error"] == "invalid_grant"
    assert {i for step, i in browser.served_by if step in ("refresh", "reuse")} == \
        instances_of(browser)

    # Logout on one instance ends the session on all of them.
    logout = browser.request("logout", "GET", "/logout", params={
        "id_token_hint": tokens["id_token"], "post_logout_redirect_uri": AFTER_LOGOUT})
    assert logout.status_code == 302 and logout.headers["Location"].startswith(AFTER_LOGOUT)
    for _ in range(INSTANCES):
        again = browser.request("after logout", "GET", "/authorize",
                                params=authorize_params(secrets.token_urlsafe(48)))
        assert is_login_form(again)  # the form again
    assert {i for step, i in browser.served_by if step == "after logout"} == instances_of(browser)


def failed_logins_count_across_instances(cluster: Cluster) -> None:
    """Five free failures per account in all, not five on each instance (Redis counts)."""
    person = people.organization("tsu").person("roman.belov")
    browser = Browser(cluster)
    answers = []
    for attempt in range(6):
        page = browser.request("login page", "GET", "/login")
        csrf = CSRF.search(page.text)
        assert csrf, page.text[:300]
        answers.append(browser.request("wrong password", "POST", "/login", data={
            "csrf_token": csrf.group(1), "organization": "tsu", "username": person.username,
            "password": f"wrong-{attempt}"}))
    assert [a.status_code for a in answers] == [401] * 5 + [429]
    assert "Retry-After" in answers[-1].headers
    failed_on = {i for step, i in browser.served_by if step == "wrong password"}
    assert len(failed_on) == INSTANCES  # each instance saw two at most: alone, none would wait


def service_token(http: requests.Session, cluster: Cluster, client_id: str,
                  secret: str, scope: str = "") -> requests.Response:
    data = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
    return http.post(f"{cluster.public}/token", auth=(client_id, secret), timeout=30, data=data)


def a_client_changed_on_one_instance_is_seen_by_all(cluster: Cluster) -> None:
    created = json.loads(idp(
        cluster, "clients", "create", "--name", "Timetable sync", "--grant-type", "client_credentials",
        "--scope", "timetable.read", "--json").strip().splitlines()[-1])
    service, old_secret = created["client_id"], created["client_secret"]
    http = cluster.session()

    def on_each_instance(secret: str) -> dict[str, int]:
        """Status of the grant per instance, INSTANCES requests in a row (round robin)."""
        answers = [service_token(http, cluster, service, secret, "timetable.read")
                   for _ in range(INSTANCES)]
        by_instance = {a.headers["X-Upstream"]: a.status_code for a in answers}
        assert len(by_instance) == INSTANCES, by_instance
        return by_instance

    assert set(on_each_instance(old_secret).values()) == {200}  # each remembers it
    new_secret = json.loads(idp(cluster, "clients", "rotate-secret", service, "--overlap", "0",
                                        "--json").strip().splitlines()[-1])["client_secret"]
    # The new secret works at once everywhere (a secret that fails on a remembered copy
    # reads the client again), the old one is refused once the copies have aged out.
    assert set(on_each_instance(new_secret).values()) == {200}
    time.sleep(DEFAULT_TTL_S + 0.5)
    assert set(on_each_instance(old_secret).values()) == {401}

    # Disabled through the client management API, answered by one instance ...
    admin_token = service_token(http, cluster, *ADMIN)
    assert admin_token.status_code == 200, admin_token.text
    disabled = http.patch(f"{cluster.public}/api/v1/clients/{service}", json={"disabled": True},
                          headers={"Authorization": f"Bearer {admin_token.json()['access_token']}"},
                          timeout=30)
    assert disabled.status_code == 200, disabled.text
    # ... and refused by every one of them.
    time.sleep(DEFAULT_TTL_S + 0.5)
    assert set(on_each_instance(new_secret).values()) == {401}


def a_rotated_signing_key_is_published_by_every_instance(cluster: Cluster) -> None:
    http = cluster.session()
    before = {http.get(f"{cluster.public}/jwks", timeout=30).headers["X-Upstream"]
              for _ in range(INSTANCES)}
    assert len(before) == INSTANCES
    rotated = idp(cluster, "keys", "rotate", "--alg", "ES256")
    kid = rotated.split()[1]
    published: dict[str, bool] = {}
    deadline = time.monotonic() + 30  # [keys] reload_check_s is 1 s here
    while time.monotonic() < deadline and not (len(published) == INSTANCES
                                               and all(published.values())):
        answer = http.get(f"{cluster.public}/jwks", timeout=30)
        published[answer.headers["X-Upstream"]] = kid in {k["kid"] for k in answer.json()["keys"]}
        time.sleep(0.2)
    assert published == {cluster.instance_address(i): True for i in range(INSTANCES)}


def test_what_one_instance_does_the_others_see(cluster: Cluster) -> None:
    """One test rather than four: `make test`'s parallel workers would each start three
    instances for a test of their own."""
    a_login_started_on_one_instance_finishes_on_another_and_ends_on_a_third(cluster)
    failed_logins_count_across_instances(cluster)
    a_client_changed_on_one_instance_is_seen_by_all(cluster)
    a_rotated_signing_key_is_published_by_every_instance(cluster)


@dataclass
class Load:
    """Threads sending GETs (discovery, JWKS, UserInfo) and whole logins through nginx until
    stopped; every failed request is kept with its method, path and what went wrong."""

    cluster: Cluster
    access_token: str
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    done: list[tuple[float, str]] = field(default_factory=list)  # (when, what)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, getters: int, logins: int) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._gets, daemon=True) for _ in range(getters)]
        users = [("tpu", p) for p in people.organization("tpu").people][1:1 + logins]
        threads += [threading.Thread(target=self._logins, args=(org, p.username, p.password),
                                     daemon=True) for org, p in users]
        for thread in threads:
            thread.start()
        return threads

    def _gets(self) -> None:
        http = self.cluster.session()
        paths = ["/.well-known/openid-configuration", "/jwks", "/userinfo"]
        auth = {"Authorization": f"Bearer {self.access_token}"}
        for n in range(1_000_000):
            if self.stop.is_set():
                return
            path = paths[n % len(paths)]
            try:
                answer = http.get(self.cluster.public + path, headers=auth, timeout=30)
                ok, detail = answer.status_code == 200, f"{answer.status_code} {answer.text[:100]}"
            except requests.RequestException as exc:
                ok, detail = False, repr(exc)
            self._record(ok, "GET", path, detail)

    def _logins(self, org: str, username: str, password: str) -> None:
        while not self.stop.is_set():
            browser = Browser(self.cluster)
            try:
                log_in(browser, org, username, password)
                self._record(True, "", "login", "")
            except (AssertionError, requests.RequestException, KeyError) as exc:
                method = "POST" if browser.step in ("login form", "token") else "GET"
                self._record(False, method, browser.step, repr(exc)[:200])

    def wait_for_logins(self, after: float, count: int, at_most_s: float = 60.0) -> None:
        """Until ``count`` logins have finished since ``after`` (or ``at_most_s`` passed: on a
        busy machine a login takes seconds)."""
        deadline = time.monotonic() + at_most_s
        while time.monotonic() < deadline:
            with self.lock:
                if sum(1 for when, what in self.done if what == "login" and when > after) >= count:
                    return
            time.sleep(0.1)

    def _record(self, ok: bool, method: str, what: str, detail: str) -> None:
        with self.lock:
            if ok:
                self.done.append((time.monotonic(), what))
            else:
                self.failures.append((method, what, detail))


def test_killing_an_instance_mid_load_fails_only_posts_in_flight_on_it(cluster: Cluster) -> None:
    person = people.organization("tpu").person("dvasiliev")
    token = log_in(Browser(cluster), "tpu", person.username, person.password)["access_token"]
    load = Load(cluster, token)
    logins = 3
    threads = load.run(getters=3, logins=logins)
    try:
        load.wait_for_logins(after=0.0, count=logins)  # the load is under way
        cluster.kill(1)
        killed_at = time.monotonic()
        load.wait_for_logins(after=killed_at, count=2 * logins)
    finally:
        load.stop.set()
        for thread in threads:
            thread.join(60)
    after = [what for when, what in load.done if when > killed_at]
    assert "login" in after and "/jwks" in after, "the load stopped with the instance"
    assert [f for f in load.failures if f[0] != "POST"] == []  # nginx resent every GET
    # Each login thread has one request in flight at a time: at most that many POSTs were
    # written to the killed instance and lost with it.
    posts = [f for f in load.failures if f[0] == "POST"]
    assert len(posts) <= logins, posts
    assert all("502 Bad Gateway" in detail for _, _, detail in posts), posts
