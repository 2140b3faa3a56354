"""Pooled PostgreSQL connections: one that the server dropped while it sat idle is replaced
before use, so a database restart during a quiet spell costs no request."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from idp.storage import base

pytestmark = pytest.mark.postgres


def test_a_connection_dropped_while_idle_is_replaced(
        postgres_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "PING_AFTER_IDLE_S", 0.0)
    engine = base.make_engine(postgres_server)
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            first = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with admin.connect() as conn:  # as a server restart would
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        with engine.connect() as conn:
            second = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert second != first
    finally:
        engine.dispose()
        admin.dispose()


def test_a_busy_connection_is_not_pinged(postgres_server: str) -> None:
    engine = base.make_engine(postgres_server)
    pings: list[object] = []
    original = engine.dialect.do_ping

    def spy(conn: object) -> bool:
        pings.append(conn)
        return original(conn)  # type: ignore[arg-type]

    engine.dialect.do_ping = spy  # type: ignore[method-assign,assignment]
    try:
        for _ in range(3):
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        assert pings == []
    finally:
        engine.dispose()
