"""The provider's session cookies (``idp.web.framework``) are Flask's, byte for byte: a browser
holding a cookie from before an upgrade keeps its session, and anything Flask would tag still
round-trips. Each cookie is made by both interfaces in the same second and compared."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask, session
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from idp.web.framework import CampusFlask, PlainFirstSerializer

SESSIONS: list[dict[str, Any]] = [
    {},
    {"sid": "a" * 43},
    {"sid": "x", "pending": {"r1": {"client_id": "moodle", "nonce": "n"}}, "pushed": {}},
    {"pending": {"r1": {"at": 1_800_000_000.125, "params": {"client_id": "moodle"}}},  # as kept
     "ratio": 0.1, "big": 1e300, "small": -2.5e-7},
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

    @app.get("/seen")
    def seen() -> str:
        return repr(sorted(session.items()))  # bytes and tuples as they are
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


def session_seen(app: Flask, cookie: str) -> str:
    """What a view finds in the session when the browser sends ``cookie``."""
    client = app.test_client()
    client.set_cookie("session", cookie)
    return client.get("/seen").get_data(as_text=True)


def shown(values: dict[str, Any]) -> str:
    return repr(sorted(values.items()))


def signed_at(app: Flask, values: dict[str, Any], when: int,
              monkeypatch: pytest.MonkeyPatch) -> str:
    with monkeypatch.context() as m:
        m.setattr(TimestampSigner, "get_timestamp", lambda self: when)
        cookie: str = serializer(app).dumps(values)
    return cookie


@pytest.mark.parametrize("values", [v for v in SESSIONS if v])
def test_a_good_cookie_is_read(values: dict[str, Any]) -> None:
    app = app_of(CampusFlask)
    assert session_seen(app, serializer(app).dumps(values)) == shown(values)


def test_a_tampered_expired_or_future_cookie_starts_an_empty_session(
        monkeypatch: pytest.MonkeyPatch) -> None:
    app = app_of(CampusFlask)
    lifetime = int(app.permanent_session_lifetime.total_seconds())
    good = serializer(app).dumps({"sid": "mine"})
    assert session_seen(app, good) == shown({"sid": "mine"})
    payload, stamp, signature = good.split(".")
    other = app_of(CampusFlask)
    other.secret_key = "o" * 32
    refused = [
        f"{payload}.{stamp}.{signature[:-2]}AA",  # signature changed
        serializer(other).dumps({"sid": "mine"}),  # another key
        f"{serializer(app_of(Flask)).dumps({'sid': 'theirs'}).split('.')[0]}.{stamp}.{signature}",
        payload, f"{payload}.{signature}", "", "...", "a.b.c", f"{payload}.{stamp}.!!!",
        signed_at(app, {"sid": "old"}, int(time.time()) - lifetime - 5, monkeypatch),  # expired
        signed_at(app, {"sid": "later"}, int(time.time()) + 60, monkeypatch),  # from the future
    ]
    for cookie in refused:
        assert session_seen(app, cookie) == "[]", cookie


def test_a_cookie_signed_with_a_fallback_key_is_still_read() -> None:
    old = app_of(CampusFlask)
    cookie = serializer(old).dumps({"sid": "before the key changed"})
    rotated = app_of(CampusFlask)
    rotated.config["SECRET_KEY_FALLBACKS"] = [old.secret_key]
    rotated.secret_key = "n" * 32
    assert session_seen(rotated, cookie) == shown({"sid": "before the key changed"})
    assert session_seen(app_of(CampusFlask), serializer(rotated).dumps({"a": 1})) == "[]"


def test_what_the_provider_keeps_is_written_without_the_tag_walk() -> None:
    """A waiting request (its time a float), the form's token and the login: plain JSON, so
    the cookie is written without Flask's walk through every tag (the cost of every login's
    two cookies)."""
    class NoWalk(TaggedJSONSerializer):
        def dumps(self, value: Any) -> str:
            pytest.fail(f"tag walk: {value}")

    plain_first = PlainFirstSerializer(NoWalk())
    kept = {"csrf_token": "t" * 43, "login": "s" * 43,
            "pending": {"r1": {"at": time.time(), "params": {"client_id": "moodle", "scope": "openid"}}}}
    assert plain_first.loads(plain_first.dumps(kept)) == kept
