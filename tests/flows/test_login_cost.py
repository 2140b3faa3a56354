"""What a whole browser login costs the database, request by request: a budget, so that a
change that adds a query or a commit to the commonest path is noticed (bench.profile login
measures the same path over PostgreSQL with CPU time)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from flask import Flask
from sqlalchemy import event

from idp.storage import driver
from tests.flows.conftest import PORTAL
from tests.support.oidc_client import sign_in


def test_a_returning_persons_login_runs_a_fixed_set_of_statements(app: Flask) -> None:
    """authorize → login (answered with the code) → token at a trusted client, for an account
    that logged in before: nothing on the first visit; at login the account read and its last
    login written in one statement, the audit event and the session (which the INSERT returns:
    it is not read back), then the nonce, the session's client and the code; at the token
    endpoint the code's claiming, the access token and the refresh token (this client gets
    one). On PostgreSQL the session's client and the code are one statement, so are the two
    tokens, and the code is claimed by the statement that finds it; statements sent past
    SQLAlchemy (idp.storage.driver, the fast lanes' and the login's own) count alike. Two
    commits: the login's session and audit event are committed with its code. PostgreSQL adds nothing (its
    BEGIN is implicit), SQLite its BEGIN IMMEDIATE, left out here."""
    services = app.extensions["campus_id"]
    # The client and its release policy are read once per 2 s; a slow machine must not see a
    # lookup more because of that.
    services.clients.ttl_s = services.release_policies.ttl_s = 3600.0
    first = app.test_client()
    assert PORTAL.token(first, sign_in(first, PORTAL, "demo", "demo", organization="tpu")["code"]
                        ).status_code == 200
    statements: Counter[str] = Counter()
    commits: Counter[str] = Counter()
    seen: list[str] = []
    # The request under way, from the outermost WSGI layer: a fast lane answers before Flask
    # makes a request context (idp.web.lanes).
    current = ["-"]
    served = app.wsgi_app

    def wsgi_app(environ: dict[str, Any], start_response: Any) -> Any:
        current[0] = f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}"
        try:
            return served(environ, start_response)
        finally:
            current[0] = "-"

    def statement(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if not sql.startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE, which PostgreSQL leaves implicit
            statements[current[0]] += 1
            seen.append(f"{current[0]}: {sql[:60]}")

    def commit(*_: Any) -> None:
        commits[current[0]] += 1

    def past_sqlalchemy(kind: str, sql: str) -> None:  # idp.storage.driver's statements (PostgreSQL)
        if kind == "statement":
            statements[current[0]] += 1
            seen.append(f"{current[0]}: {sql[:60]} (through the driver)")
        else:
            commits[current[0]] += 1

    engine = services.engine
    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    driver.OBSERVERS.append(past_sqlalchemy)
    app.wsgi_app = wsgi_app  # type: ignore[method-assign]
    try:
        browser = app.test_client()
        result = sign_in(browser, PORTAL, "demo", "demo", organization="tpu")
        assert PORTAL.token(browser, result["code"]).status_code == 200
    finally:
        app.wsgi_app = served  # type: ignore[method-assign]
        driver.OBSERVERS.remove(past_sqlalchemy)
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)
    # On PostgreSQL the session's client goes in with the code, and the refresh token with the
    # access token, each pair as one statement (a data-modifying WITH); so does the code's
    # claim with its reading (idp.storage.code_rows).
    paired = 1 if engine.dialect.name == "postgresql" else 0
    assert statements == {"POST /login": 3 + 3 - paired,
                          "POST /token": 4 - 2 * paired}, "\n".join(seen[-9:])
    assert commits == {"POST /login": 1, "POST /token": 1}
