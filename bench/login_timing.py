"""Does a login's timing tell which usernames exist? Prints the median (and 90th percentile)
time of a login with an unknown username next to one with a known username and a wrong
password, against a real slapd, for a fast password hash ({SSHA}) and a slow one ({ARGON2}):

* at the directory (``LdapDirectory.authenticate``), without and with the decoy bind;
* through the login form (POST /login to the Flask app on SQLite, throttle off).

    .venv/bin/python -m bench.login_timing [--rounds 300]

Prints figures; asserts nothing (timing is this machine's). Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any
from unittest import mock

from demo.slapd import SlapdServer, ssha
from idp.app import create_app
from idp.directory import ldap_operations
from idp.directory.ldap import LdapDirectory
from idp.settings import DirectorySettings, DirectoryType
from idp.settings.load import parse_settings
from idp.storage.base import make_engine
from idp.storage.migrate import upgrade

SUFFIX = "dc=bench,dc=test"
BASE_DN = f"ou=people,{SUFFIX}"
PEOPLE = 20
WARM_UP = 40
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@contextmanager
def without_decoy() -> Iterator[None]:
    """The directory as it was before: an unknown username answered at once (no decoy bind,
    which ``idp.directory.ldap_login`` makes through ``ldap_operations.decoy_bind``)."""
    with mock.patch.object(ldap_operations, "decoy_bind", lambda *_args: None):
        yield


def password_hash(scheme: str, password: str) -> str:
    if scheme == "{SSHA}":
        return ssha(password)
    result = subprocess.run(["slappasswd", "-o", "module-load=argon2", "-h", scheme, "-s", password],
                            capture_output=True, text=True, check=True)
    return result.stdout.strip()


def entries(scheme: str) -> list[tuple[str, dict[str, Any]]]:
    people: list[tuple[str, dict[str, Any]]] = [
        (BASE_DN, {"objectClass": ["top", "organizationalUnit"], "ou": "people"})]
    for i in range(PEOPLE):
        uid = f"student{i:02d}"
        people.append((f"uid={uid},{BASE_DN}", {
            "objectClass": ["top", "person", "organizationalPerson", "inetOrgPerson"],
            "uid": uid, "cn": uid, "sn": uid, "userPassword": password_hash(scheme, f"right-{i}"),
        }))
    return people


@contextmanager
def directory_server(scheme: str) -> Iterator[SlapdServer]:
    modules = ["argon2"] if scheme == "{ARGON2}" else []
    with SlapdServer(SUFFIX, entries(scheme), modules=modules) as server:
        yield server


def directory_settings(server: SlapdServer) -> DirectorySettings:
    return DirectorySettings(type=DirectoryType.LDAP, uris=(server.uri,), base_dn=BASE_DN,
                             bind_dn=server.service_dn, bind_password=server.service_password,
                             allow_insecure=True)


def measure(unknown: Callable[[int], object], wrong: Callable[[int], object],
            rounds: int) -> tuple[list[float], list[float]]:
    """Both kinds interleaved in a random order each round, after a warm-up of each."""
    for i in range(WARM_UP):
        unknown(-i - 1)
        wrong(-i - 1)
    times: dict[str, list[float]] = {"unknown": [], "wrong": []}
    kinds = [("unknown", unknown), ("wrong", wrong)]
    for i in range(rounds):
        random.shuffle(kinds)
        for name, attempt in kinds:
            started = time.perf_counter()
            attempt(i)
            times[name].append(time.perf_counter() - started)
    return times["unknown"], times["wrong"]


def at_directory(directory: LdapDirectory, rounds: int) -> tuple[list[float], list[float]]:
    return measure(lambda i: directory.authenticate(f"nobody{i}", f"guess-{i}"),
                   lambda i: directory.authenticate(f"student{i % PEOPLE:02d}", f"guess-{i}"),
                   rounds)


def through_form(server: SlapdServer, rounds: int) -> tuple[list[float], list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/idp.sqlite3"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        problems: list[str] = []
        d = directory_settings(server)
        settings = parse_settings({
            "server": {"issuer": "http://127.0.0.1:8080", "dev_mode": True,
                       "secret_key": "bench-secret-key-0123456789abcdef0123"},
            "database": {"url": url},
            "throttle": {"enabled": False},
            "organizations": {"bench": {"name": "Bench", "scope": "bench.test", "directory": {
                "uris": list(d.uris), "base_dn": d.base_dn, "bind_dn": d.bind_dn,
                "bind_password": d.bind_password, "allow_insecure": True}}},
        }, problems)
        assert not problems, problems
        app = create_app(settings)
        browser = app.test_client()
        found = CSRF.search(browser.get("/login").get_data(as_text=True))
        assert found is not None
        token = found.group(1)

        def post(username: str, password: str) -> None:
            response = browser.post("/login", data={"csrf_token": token, "organization": "bench",
                                                    "username": username, "password": password})
            assert response.status_code == 401, response.status_code

        try:
            return measure(lambda i: post(f"nobody{i}", f"guess-{i}"),
                           lambda i: post(f"student{i % PEOPLE:02d}", f"guess-{i}"), rounds)
        finally:
            app.extensions["campus_id"].engine.dispose()


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def p90_ms(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1] * 1000


def row(scheme: str, level: str, unknown: list[float], wrong: list[float]) -> str:
    mu, mw = median_ms(unknown), median_ms(wrong)
    return (f"{scheme:<9} {level:<34} {mu:8.3f} ({p90_ms(unknown):7.3f})  "
            f"{mw:8.3f} ({p90_ms(wrong):7.3f})  {mu - mw:+8.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=300)
    rounds = parser.parse_args().rounds
    print(f"login timing: median (90th percentile) in ms, {rounds} attempts of each kind")
    print(f"{'hash':<9} {'measured at':<34} {'unknown user':>20}  {'wrong password':>18}  "
          f"{'difference':>9}")
    for scheme in ("{SSHA}", "{ARGON2}"):
        with directory_server(scheme) as server:
            settings = directory_settings(server)
            for level, decoy in (("directory, no decoy bind (before)", False),
                                 ("directory, decoy bind + padding", True)):
                with nullcontext() if decoy else without_decoy():
                    print(row(scheme, level, *at_directory(LdapDirectory("bench", settings),
                                                           rounds)), flush=True)
            print(row(scheme, "login form (Flask app, SQLite)", *through_form(server, rounds)),
                  flush=True)


if __name__ == "__main__":
    main()
