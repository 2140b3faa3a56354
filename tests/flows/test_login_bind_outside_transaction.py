"""No network call inside a database transaction: the directory bind of a login runs while no
database connection is held (on SQLite an open transaction is the write lock, which every
other login would wait for, as long as the directory takes to answer)."""

from __future__ import annotations

from flask import Flask

from idp import context
from idp.directory.base import AuthResult, PasswordDirectory
from tests.flows.conftest import RP1
from tests.support.oidc_client import csrf_of, follow, login


class WatchingDirectory:
    """The real directory; notes, at each bind, the connections checked out of the pool."""

    def __init__(self, app: Flask, inner: PasswordDirectory) -> None:
        self.app = app
        self.inner = inner
        self.organization = inner.organization
        self.held: list[int] = []

    def authenticate(self, username: str, password: str) -> AuthResult:
        engine = context.services_of(self.app).engine
        self.held.append(engine.pool.checkedout())  # type: ignore[attr-defined]
        return self.inner.authenticate(username, password)


def test_the_directory_is_asked_while_no_database_connection_is_held(app: Flask) -> None:
    directories = context.services_of(app).directories
    watching = WatchingDirectory(app, directories["tpu"])
    directories["tpu"] = watching
    browser = app.test_client()
    # A login for an authorization request, a wrong password, and a plain login.
    response = browser.get("/authorize", query_string=RP1.params())
    assert login(browser, follow(browser, response), "demo", "demo", "tpu").status_code == 302
    form = {"csrf_token": csrf_of(browser.get("/login")), "organization": "tpu",
            "username": "asmirnova", "password": "wrong"}
    assert browser.post("/login", data=form).status_code == 401
    form["password"] = "a-wrong-one-again"
    assert browser.post("/login", data=form).status_code == 401
    assert watching.held == [0, 0, 0]
