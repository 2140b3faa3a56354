"""The provider's session cookies (``idp.web.framework``) are Flask's, byte for byte: a browser
holding a cookie from before an upgrade keeps its session, and anything Flask would tag still
round-trips. Each cookie is made by both interfaces in the same second and compared."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, session
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from idp.web.framework import CampusFlask

SESSIONS: list[dict[str, Any]] = [
    {},
    {"sid": "a" * 43},
    {"sid": "x", "pending": {"r1": {"client_id": "moodle", "nonce": "n"}}, "pushed": {}},
    {"b": 1, "a": [True, None, 2, "три"], "z": {"y": {"x": "Ünïcode ✓"}}},  # keys sorted
    {"when": b"bytes are tagged"},
    {"t": (1, 2)},  # a tuple: tagged
    {"looks_tagged": {" t": ["not", "a", "tuple"]}},  # a dict Flask must tag as a dict
    {"markup": "<b>&amp;</b>", "quote": "\"'\\"},
]


def cookie_of(app: Flask, values: dict[str, Any], *, permanent: bool) -> str:
    @app.get("/set")
    def set_values() -> str:
        session.update(values)
        session.permanent = permanent
        return ""

    header = app.test_client().get("/set").headers.get("Set-Cookie", "")
    return header


def app_of(kind: type[Flask]) -> Flask:
    app = kind(__name__)
    app.secret_key = "s" * 32
    return app


@pytest.mark.parametrize("values", SESSIONS)
@pytest.mark.parametrize("permanent", [False, True])
def test_the_cookie_is_flasks_byte_for_byte(values: dict[str, Any], permanent: bool,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: 1_800_000_000)
    ours = cookie_of(app_of(CampusFlask), values, permanent=permanent)
    flasks = cookie_of(app_of(Flask), values, permanent=permanent)
    assert without_expiry(ours) == without_expiry(flasks)
    assert ours.startswith("session=")  # a cookie was made (setting permanent modifies)


def without_expiry(header: str) -> str:
    """Flask's own code sets Expires from the clock; everything else must match."""
    return "; ".join(p for p in header.split("; ") if not p.startswith("Expires="))


@pytest.mark.parametrize("values", [v for v in SESSIONS if v])
def test_each_reads_the_others_cookie(values: dict[str, Any]) -> None:
    for writer, reader in ((CampusFlask, Flask), (Flask, CampusFlask)):
        cookie = serializer(app_of(writer)).dumps(dict(values))
        assert serializer(app_of(reader)).loads(cookie, max_age=60) == values


def serializer(app: Flask) -> URLSafeTimedSerializer:
    interface = app.session_interface
    assert isinstance(interface, SecureCookieSessionInterface)
    found = interface.get_signing_serializer(app)
    assert found is not None
    return found
