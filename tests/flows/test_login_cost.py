"""What a whole browser login costs the database, request by request: a budget, so that a
change that adds a query or a commit to the commonest path is noticed (bench.profile login
measures the same path over PostgreSQL with CPU time)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from flask import Flask, has_request_context, request
from sqlalchemy import event

from tests.flows.conftest import PORTAL
from tests.support.oidc_client import sign_in


def test_a_returning_persons_login_runs_a_fixed_set_of_statements(app: Flask) -> None:
    """authorize → login → authorize → token at a trusted client, for an account that logged
    in before: nothing on the first visit, the account, its refresh, the audit event and the
    session at login, the session, nonce, session's client and code at the second visit, the
    code, access token, refresh token (this client gets one) and the code's claiming at the
    token endpoint (on PostgreSQL the session's client and the code are one statement, so are
    the two tokens, and the code is claimed by the statement that finds it); three commits.
    PostgreSQL adds nothing (its BEGIN is implicit), SQLite its BEGIN IMMEDIATE, left out
    here."""
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

    def where() -> str:
        return f"{request.method} {request.path}" if has_request_context() else "-"

    def statement(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if not sql.startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE, which PostgreSQL leaves implicit
            statements[where()] += 1
            seen.append(f"{where()}: {sql[:60]}")

    def commit(*_: Any) -> None:
        commits[where()] += 1

    engine = services.engine
    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    try:
        browser = app.test_client()
        result = sign_in(browser, PORTAL, "demo", "demo", organization="tpu")
        assert PORTAL.token(browser, result["code"]).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)
    # On PostgreSQL the session's client goes in with the code, and the refresh token with the
    # access token, each pair as one statement (a data-modifying WITH); so does the code's
    # claim with its reading (idp.storage.code_rows).
    paired = 1 if engine.dialect.name == "postgresql" else 0
    assert statements == {"POST /login": 4, "GET /authorize": 4 - paired,
                          "POST /token": 4 - 2 * paired}, "\n".join(seen[-6:])
    assert commits == {"POST /login": 1, "GET /authorize": 1, "POST /token": 1}
