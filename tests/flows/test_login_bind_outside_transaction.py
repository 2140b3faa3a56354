"""No network call inside a database transaction: the directory bind of a login runs while no
database connection is held (on SQLite an open transaction is the write lock, which every
other login would wait for, as long as the directory takes to answer)."""

from __future__ import annotations

from flask import Flask

from idp import context
from idp.directory.base import AuthResult, PasswordDirectory
from tests.flows.conftest import RP1
from tests.support.oidc_client import csrf_of, login


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
    assert login(browser, response, "demo", "demo", "tpu").status_code == 302
    form = {"csrf_token": csrf_of(browser.get("/login")), "organization": "tpu",
            "username": "asmirnova", "password": "wrong"}
    assert browser.post("/login", data=form).status_code == 401
    form["password"] = "a-wrong-one-again"
    assert browser.post("/login", data=form).status_code == 401
    assert watching.held == [0, 0, 0]


def test_linking_on_my_campus_id_asks_both_directories_with_no_connection_held(app: Flask) -> None:
    """The link form binds twice (the session's account again, then the other account), after
    the page's own reads: those reads' transaction must be over before the first bind."""
    from tests.flows.test_account import GRIGORIEVA, link, open_account

    directories = context.services_of(app).directories
    watching = {org: WatchingDirectory(app, directories[org]) for org in ("tpu", "tusur")}
    browser = app.test_client()
    open_account(browser, "tpu", "pgrigorieva")
    directories.update(watching)
    response = link(browser, "tusur", "grigorieva.pa", current=GRIGORIEVA)
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    assert watching["tpu"].held == [0] and watching["tusur"].held == [0]
